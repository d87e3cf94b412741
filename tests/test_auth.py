"""The authentication flow (checklist 5.4) and the access policy (Table 7), end to end in memory."""

import binascii
import unittest

from agent import log
from agent.access import ANONYMOUS, allowed, operations
from agent.app import build_app
from agent.compat import gmtime, md5, sha1
from agent.device import Device
from agent.operations import ACCESS_NAMES, PRE_AUTH
from agent.settings import Settings
from agent.users import Users
from tests.soapclient import FIXED_NOW, InMemoryClient, envelope
from tests.support import Clock, Quiet

PATHS = {"device": "/onvif/device_service", "deviceio": "/onvif/deviceio_service",
         "events": "/onvif/event_service"}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-"
               "1.0#PasswordDigest")
TEXT_TYPE = DIGEST_TYPE.replace("#PasswordDigest", "#PasswordText")
_T = gmtime(FIXED_NOW)
CREATED = "%04d-%02d-%02dT%02d:%02d:%02d.123Z" % _T[:6]  # FIXED_NOW, with milliseconds
PASSWORDS = {"admin": "Adm1n-secret-pw", "operator": "0perator-pw!", "viewer": "V1ewer-pw!!"}
LEVELS = {"admin": "Administrator", "operator": "Operator", "viewer": "User"}


def b64(data):
    return binascii.b2a_base64(data).strip().decode()


class Caller:
    """A device with three users and a client that can present each kind of credential."""

    def __init__(self, board=None, device=None):
        self.clock = Clock(FIXED_NOW)
        users = Users()
        users.create([(name, PASSWORDS[name], LEVELS[name]) for name in PASSWORDS])
        if device is None:  # else a device with its own I/O (tests.iofakes.make_device)
            device = Device(board or {"name": "t", "hal": "sim"}, Settings())
        device.users = users
        self.device = device
        self.app = build_app(device, clock=self.clock)
        self.client = InMemoryClient(self.app, clock=self.clock)
        self.nonce = 0

    def token(self, user, password=None, text=False):
        self.nonce += 1
        nonce = b"nonce-%012d" % self.nonce
        password = PASSWORDS.get(user, "x") if password is None else password
        digest = b64(sha1(nonce + CREATED.encode() + password.encode()))
        kind, value = (TEXT_TYPE, password) if text else (DIGEST_TYPE, digest)
        return ('<Security xmlns="%s" s:mustUnderstand="1"><UsernameToken><Username>%s</Username>'
                '<Password Type="%s">%s</Password><Nonce>%s</Nonce>'
                '<Created xmlns="%s">%s</Created></UsernameToken></Security>'
                % (WSSE, user, kind, value, b64(nonce), WSU, CREATED))

    def call(self, body, path="/onvif/device_service", header="", headers=()):
        return self.client.post(path, envelope(body, header), headers=headers)

    def digest_header(self, challenge, user, path, password=None, nc=1, uri=None,
                      method="POST"):
        """The Authorization header an RFC 2617 MD5 client computes from `challenge`."""
        params = {}
        for part in challenge[len("Digest "):].split(","):
            key, _, value = part.strip().partition("=")
            params[key] = value.strip('"')
        password = PASSWORDS.get(user, "x") if password is None else password
        realm, nonce, cnonce, uri = params["realm"], params["nonce"], "0a4f113b", uri or path
        ha1 = binascii.hexlify(md5(("%s:%s:%s" % (user, realm, password)).encode())).decode()
        ha2 = binascii.hexlify(md5(("%s:%s" % (method, uri)).encode())).decode()
        response = binascii.hexlify(md5(("%s:%s:%08x:%s:auth:%s" % (
            ha1, nonce, nc, cnonce, ha2)).encode())).decode()
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, '
                'qop=auth, nc=%08x, cnonce="%s", response="%s", opaque="%s"'
                % (user, realm, nonce, uri, nc, cnonce, response, params.get("opaque", "")))

    def md5_challenge(self, response):
        for name, value in response.header_list("www-authenticate"):
            if "MD5" in value:
                return value
        raise AssertionError("no MD5 challenge")


class FlowTest(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())
        self.caller = Caller()

    def tearDown(self):
        log.set_stream(None)

    def test_pre_auth_needs_nothing_and_ignores_bad_credentials(self):
        c = self.caller
        self.assertEqual(c.call("<tds:GetSystemDateAndTime/>").status, 200)
        bad = c.token("admin", password="wrong")
        self.assertEqual(c.call("<tds:GetSystemDateAndTime/>", header=bad).status, 200)
        self.assertEqual(c.call("<tds:GetSystemDateAndTime/>",
                                headers=[("Authorization", 'Digest username="x"')]).status, 200)

    def test_nothing_gets_401_with_sha256_and_md5_challenges(self):
        r = self.caller.call("<tds:GetDeviceInformation/>")
        self.assertEqual(r.status, 401)
        self.assertIsNone(r.xml)  # Table 6: an HTTP-level answer
        challenges = [v for _, v in r.header_list("www-authenticate")]
        self.assertEqual(len(challenges), 2)
        self.assertTrue("SHA-256" in challenges[0] and "MD5" in challenges[1], challenges)

    def test_an_empty_post_is_an_authentication_probe(self):
        r = self.caller.client.post("/onvif/device_service", b"")
        self.assertEqual(r.status, 401)
        self.assertEqual(len(r.header_list("www-authenticate")), 2)
        r = self.caller.client.post("/onvif/device_service", b"",
                                    headers=[("Authorization", 'Digest username="x"')])
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["WellFormed"])))

    def test_valid_username_token(self):
        c = self.caller
        r = c.call("<tds:GetDeviceInformation/>", header=c.token("viewer"))
        self.assertEqual(r.status, 200)

    def test_password_text_only_where_the_board_allows_it_over_plain_http(self):
        c = self.caller
        r = c.call("<tds:GetDeviceInformation/>", header=c.token("admin", text=True))
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))
        trusting = Caller({"name": "t", "hal": "sim", "allow_password_text": True})
        r = trusting.call("<tds:GetDeviceInformation/>", header=trusting.token("admin", text=True))
        self.assertEqual(r.status, 200)

    def test_bad_username_token_is_400_not_authorized(self):
        c = self.caller
        for header in (c.token("admin", password="wrong"), c.token("nobody")):
            r = c.call("<tds:GetDeviceInformation/>", header=header)
            self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))

    def test_replayed_token_is_refused(self):
        c = self.caller
        token = c.token("admin")
        self.assertEqual(c.call("<tds:GetDeviceInformation/>", header=token).status, 200)
        r = c.call("<tds:GetDeviceInformation/>", header=token)
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))

    def test_http_digest_round_trip_and_failures(self):
        c = self.caller
        challenge = c.md5_challenge(c.call("<tds:GetDeviceInformation/>"))
        good = c.digest_header(challenge, "operator", "/onvif/device_service")
        r = c.call("<tds:GetDeviceInformation/>", headers=[("Authorization", good)])
        self.assertEqual(r.status, 200)
        for bad in (c.digest_header(challenge, "operator", "/onvif/device_service", "wrong", 2),
                    c.digest_header(challenge, "nobody", "/onvif/device_service", nc=3),
                    good):  # replayed nc
            r = c.call("<tds:GetDeviceInformation/>", headers=[("Authorization", bad)])
            self.assertEqual(r.status, 401)
            self.assertTrue(r.header_list("www-authenticate"))

    def test_expired_digest_nonce_is_401_stale(self):
        c = self.caller
        challenge = c.md5_challenge(c.call("<tds:GetDeviceInformation/>"))
        c.clock.now += 3600
        header = c.digest_header(challenge, "operator", "/onvif/device_service")
        r = c.call("<tds:GetDeviceInformation/>", headers=[("Authorization", header)])
        self.assertEqual(r.status, 401)
        self.assertTrue(any("stale=true" in v.replace(" ", "").lower()
                            for _, v in r.header_list("www-authenticate")))

    def test_digest_and_token_must_name_the_same_user(self):
        c = self.caller
        challenge = c.md5_challenge(c.call("<tds:GetDeviceInformation/>"))
        digest = c.digest_header(challenge, "operator", "/onvif/device_service")
        r = c.call("<tds:GetDeviceInformation/>", header=c.token("admin"),
                   headers=[("Authorization", digest)])
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))

    def test_bad_digest_is_checked_before_a_good_token(self):
        c = self.caller
        challenge = c.md5_challenge(c.call("<tds:GetDeviceInformation/>"))
        bad = c.digest_header(challenge, "admin", "/onvif/device_service", "wrong")
        r = c.call("<tds:GetDeviceInformation/>", header=c.token("admin"),
                   headers=[("Authorization", bad)])
        self.assertEqual(r.status, 401)

    def test_repeated_failures_lock_the_address_out_for_a_while(self):
        c = self.caller
        for _ in range(10):
            c.call("<tds:GetDeviceInformation/>", header=c.token("admin", password="guess"))
        r = c.call("<tds:GetDeviceInformation/>", header=c.token("admin"))
        self.assertEqual(r.status, 429)
        self.assertTrue(int(r.headers["retry-after"]) > 0)
        self.assertEqual(c.call("<tds:GetSystemDateAndTime/>").status, 200)  # PRE_AUTH still
        c.clock.now += 61  # the lockout is over; the token's Created is still inside +-5 min
        self.assertEqual(c.call("<tds:GetDeviceInformation/>", header=c.token("admin")).status,
                         200)


class Table7Test(unittest.TestCase):
    """Every operation x Administrator, Operator, User, Anonymous: allowed exactly as Table 7."""

    def setUp(self):
        log.set_stream(Quiet())

    def tearDown(self):
        log.set_stream(None)

    def test_every_operation_for_every_level(self):
        caller = Caller()
        checked = 0
        for key, path in PATHS.items():
            for ns, name, access in operations(key):
                body = '<op:%s xmlns:op="%s"/>' % (name, ns)
                for user in ("admin", "operator", "viewer", None):
                    level = LEVELS[user] if user else ANONYMOUS
                    header = caller.token(user) if user else ""
                    r = caller.call(body, path=path, header=header)
                    denied = r.status == 401 or (r.xml is not None and
                                                 r.fault() == ("Sender", ["NotAuthorized"]))
                    what = "%s %s as %s (%s)" % (key, name, level, ACCESS_NAMES[access])
                    self.assertEqual(denied, not allowed(access, level), what)
                    if denied and user is None:
                        self.assertEqual(r.status, 401, what)
                    checked += 1
        self.assertTrue(checked > 500, checked)

    def test_pre_auth_is_open_to_everyone(self):
        for level in ("Administrator", "Operator", "User", ANONYMOUS):
            self.assertTrue(allowed(PRE_AUTH, level))
