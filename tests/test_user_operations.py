"""GetUsers, CreateUsers, DeleteUsers, SetUser and GetDeviceInformation end to end (checklist 8.4
#1, 8.5), through a real Session; under pytest every response is also schema-validated."""

import unittest

import agent
from agent.app import build_app
from agent.device import Device
from agent.settings import Settings
from agent.users import ADMINISTRATOR, MAX_NAME, MAX_USERS, OPERATOR, USER, Users
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll

PW = "correct horse"
SECRET = "s3cret-Passw0rd"


def make_client(board=None, users=None):
    """The device's app with every operation allowed."""
    device = Device(board or {"name": "test", "hal": "sim"}, Settings(), users=users)
    return InMemoryClient(build_app(device, policy=AllowAll())), device


def user_xml(name, password, level):
    password = "" if password is None else "<tt:Password>%s</tt:Password>" % password
    return ("<tds:User><tt:Username>%s</tt:Username>%s<tt:UserLevel>%s</tt:UserLevel></tds:User>"
            % (name, password, level))


def create_users(client, *users):
    return client.call("<tds:CreateUsers>%s</tds:CreateUsers>"
                       % "".join(user_xml(*u) for u in users))


def set_user(client, *users):
    return client.call("<tds:SetUser>%s</tds:SetUser>" % "".join(user_xml(*u) for u in users))


def delete_users(client, *names):
    return client.call("<tds:DeleteUsers>%s</tds:DeleteUsers>"
                       % "".join("<tds:Username>%s</tds:Username>" % n for n in names))


def get_users(client):
    r = client.call("<tds:GetUsers/>")
    assert r.status == 200, r.body
    return r, [(u.findtext(TT, "Username"), u.findtext(TT, "UserLevel"))
               for u in r.body_child.findall(TDS, "User")]


class UsersTest(unittest.TestCase):
    def setUp(self):
        self.client, self.device = make_client()
        r = create_users(self.client, ("root", SECRET, ADMINISTRATOR), ("bob", PW, USER))
        self.assertEqual(r.status, 200)

    def assertFault(self, r, status, code, *subcodes):
        self.assertEqual((r.status, r.fault()), (status, (code, list(subcodes))))
        self.assertFalse(SECRET.encode() in r.body)

    def test_get_users_never_contains_a_password(self):
        r, users = get_users(self.client)
        self.assertEqual(users, [("root", ADMINISTRATOR), ("bob", USER)])
        for user in r.body_child.findall(TDS, "User"):
            self.assertIsNone(user.find(TT, "Password"))
        self.assertFalse(SECRET.encode() in r.body)
        self.assertFalse(PW.encode() in r.body)
        self.assertFalse(b"Password" in r.body)

    def test_get_users_with_none_and_with_markup_in_names(self):
        client, _ = make_client()
        r, users = get_users(client)
        self.assertEqual((users, r.body_child.children), ([], []))
        self.assertEqual(create_users(client, ("a&amp;b&lt;c", PW, OPERATOR),
                                      ("J\u00fcrgen", PW, USER)).status, 200)
        self.assertEqual(get_users(client)[1], [("a&b<c", OPERATOR), ("J\u00fcrgen", USER)])

    def test_create_users(self):
        r = create_users(self.client, ("amy", PW, OPERATOR), ("max", PW + "!", USER))
        self.assertEqual(r.status, 200)
        self.assertEqual((r.body_child.ns, r.body_child.name, r.body_child.children),
                         (TDS, "CreateUsersResponse", []))
        self.assertEqual(get_users(self.client)[1], [("root", ADMINISTRATOR), ("bob", USER),
                                                     ("amy", OPERATOR), ("max", USER)])
        self.assertEqual(self.device.users.lookup("max"), (PW + "!", USER))

    def test_create_users_faults(self):
        cases = (
            ((("bob", PW, USER),), "UsernameClash"),
            ((("amy", PW, USER), ("amy", PW, USER)), "UsernameClash"),
            ((("x" * (MAX_NAME + 1), SECRET, USER),), "UsernameTooLong"),
            ((("", SECRET, USER),), "UsernameTooShort"),
            ((("amy", "p" * (self.device.users.max_password + 1), USER),), "PasswordTooLong"),
            ((("amy", "short", USER),), "PasswordTooWeak"),
            ((("amy", None, USER),), "PasswordTooWeak"),
            ((("amy", "", USER),), "PasswordTooWeak"),
            ((("amy", SECRET, "Anonymous"),), "AnonymousNotAllowed"),
        )
        for users, subcode in cases:
            self.assertFault(create_users(self.client, *users), 400, "Sender",
                             "OperationProhibited", subcode)
        for level in ("Extended", "Superuser"):
            self.assertFault(create_users(self.client, ("amy", SECRET, level)), 400, "Sender",
                             "InvalidArgVal")
        self.assertFault(create_users(self.client, ("a:b", SECRET, USER)), 400, "Sender",
                         "InvalidArgVal")
        self.assertEqual(get_users(self.client)[1], [("root", ADMINISTRATOR), ("bob", USER)])

    def test_too_many_users(self):
        more = [("u%d" % i, PW, USER) for i in range(MAX_USERS - 2)]
        self.assertEqual(create_users(self.client, *more).status, 200)
        self.assertFault(create_users(self.client, ("one-more", PW, USER)), 500, "Receiver",
                         "Action", "TooManyUsers")
        self.assertEqual(len(get_users(self.client)[1]), MAX_USERS)

    def test_malformed_requests(self):
        for body in ("<tds:CreateUsers/>", "<tds:SetUser/>", "<tds:DeleteUsers/>",
                     "<tds:CreateUsers><tds:User><tt:Password>%s</tt:Password>"
                     "<tt:UserLevel>User</tt:UserLevel></tds:User></tds:CreateUsers>" % SECRET,
                     "<tds:CreateUsers><tds:User><tt:Username>amy</tt:Username>"
                     "<tt:Password>%s</tt:Password></tds:User></tds:CreateUsers>" % SECRET):
            self.assertFault(self.client.call(body), 400, "Sender", "InvalidArgs")

    def test_delete_users(self):
        create_users(self.client, ("amy", PW, OPERATOR))
        r = delete_users(self.client, "bob", "amy")
        self.assertEqual((r.status, r.body_child.name), (200, "DeleteUsersResponse"))
        self.assertEqual(get_users(self.client)[1], [("root", ADMINISTRATOR)])

    def test_delete_users_faults_change_nothing(self):
        self.assertFault(delete_users(self.client, "bob", "nobody"), 400, "Sender",
                         "InvalidArgVal", "UsernameMissing")
        self.assertFault(delete_users(self.client, "bob", "bob"), 400, "Sender", "InvalidArgVal")
        r = delete_users(self.client, "root")
        self.assertFault(r, 400, "Sender", "OperationProhibited")
        self.assertTrue(b"last Administrator" in r.body)
        self.assertEqual(get_users(self.client)[1], [("root", ADMINISTRATOR), ("bob", USER)])

    def test_set_user(self):
        r = set_user(self.client, ("bob", "another password", OPERATOR))
        self.assertEqual((r.status, r.body_child.name), (200, "SetUserResponse"))
        self.assertEqual(self.device.users.lookup("bob"), ("another password", OPERATOR))
        self.assertEqual(get_users(self.client)[1], [("root", ADMINISTRATOR), ("bob", OPERATOR)])

    def test_set_user_faults_change_nothing(self):
        cases = (
            ((("nobody", PW, USER),), ("InvalidArgVal", "UsernameMissing")),
            ((("bob", None, USER),), ("OperationProhibited", "PasswordTooWeak")),
            ((("bob", "", USER),), ("OperationProhibited", "PasswordTooWeak")),
            ((("bob", "p" * (self.device.users.max_password + 1), USER),),
             ("OperationProhibited", "PasswordTooLong")),
            ((("bob", SECRET, "Anonymous"),), ("OperationProhibited", "AnonymousNotAllowed")),
            ((("root", SECRET, USER),), ("OperationProhibited",)),
            ((("bob", SECRET, OPERATOR), ("bob", SECRET, USER)), ("InvalidArgVal",)),
        )
        for users, subcodes in cases:
            self.assertFault(set_user(self.client, *users), 400, "Sender", *subcodes)
        self.assertEqual(self.device.users.lookup("bob"), (PW, USER))
        self.assertEqual(self.device.users.lookup("root"), (SECRET, ADMINISTRATOR))


class DeviceInformationTest(unittest.TestCase):
    def information(self, board):
        client, device = make_client(board)
        r = client.call("<tds:GetDeviceInformation/>")
        self.assertEqual(r.status, 200)
        fields = [(c.name, c.text) for c in r.body_child.children]
        return fields, device

    def test_from_the_board(self):
        fields, device = self.information({"name": "pi-door", "hal": "gpio",
                                           "manufacturer": "ACME", "model": "Door 4"})
        self.assertEqual(fields, [("Manufacturer", "ACME"), ("Model", "Door 4"),
                                  ("FirmwareVersion", agent.__version__),
                                  ("SerialNumber", device.settings.get("endpoint_uuid")),
                                  ("HardwareId", "pi-door/gpio")])
        self.assertEqual("urn:uuid:" + fields[3][1], device.endpoint_reference)

    def test_defaults(self):
        fields, _ = self.information({"name": "bare", "hal": "sim"})
        self.assertEqual(fields[:2], [("Manufacturer", "onvif-agent"), ("Model", "bare")])


class CapabilitiesTest(unittest.TestCase):
    def security(self, users=None):
        client, _ = make_client(users=users)
        caps = client.call("<tds:GetServiceCapabilities/>").body_child.children[0]
        return caps.find(TDS, "Security").attrs

    def test_user_limits_are_the_databases(self):
        users = Users()
        attrs = self.security(users)
        self.assertEqual([attrs[("", n)] for n in ("MaxUsers", "MaxUserNameLength",
                                                     "MaxPasswordLength")],
                         [str(users.max_users), str(users.max_name), str(users.max_password)])
        attrs = self.security(Users(max_users=5, max_name=10, max_password=30))
        self.assertEqual([attrs[("", n)] for n in ("MaxUsers", "MaxUserNameLength",
                                                     "MaxPasswordLength")], ["5", "10", "30"])
