"""GetSystemLog and GetSystemSupportInformation (checklist 8.4 #11, #12) and the bounded system
and access logs behind them (agent.systemlog); under pytest every response is also
schema-validated."""

import unittest

import agent
from agent import log
from agent.app import build_app
from agent.datetimes import format_datetime
from agent.device import Device
from agent.settings import Settings
from agent.systemlog import ACCESS, SYSTEM, BoundedLog, clean
from tests.soapclient import FIXED_NOW, TDS, TT, InMemoryClient
from tests.support import AllowAll, Lines, Quiet
from tests.test_auth import PASSWORDS, Caller

PEER = ("127.0.0.1", 50123)


def get_log(client, kind, **kw):
    return client.call("<tds:GetSystemLog><tds:LogType>%s</tds:LogType></tds:GetSystemLog>"
                       % kind, **kw)


def log_string(r):
    return r.body_child.find(TDS, "SystemLog").findtext(TT, "String")


class FreshLogs(unittest.TestCase):
    """Both logs empty and agent.log silent on stderr around each test."""

    def setUp(self):
        log.set_stream(Quiet())
        SYSTEM.clear()
        ACCESS.clear()

    def tearDown(self):
        log.set_stream(None)
        log.set_level("info")


class BoundedLogTest(unittest.TestCase):
    def test_oldest_lines_go_past_the_line_limit(self):
        kept = BoundedLog(max_lines=3, max_chars=1000)
        for i in range(5):
            kept.add("line %d" % i)
        self.assertEqual(kept.lines, ["line 2", "line 3", "line 4"])
        self.assertEqual(kept.text(), "line 2\nline 3\nline 4\n")
        self.assertEqual(kept.text(2), "line 3\nline 4\n")
        self.assertEqual(kept.text(10), kept.text())

    def test_oldest_lines_go_past_the_character_limit(self):
        kept = BoundedLog(max_lines=100, max_chars=25)
        for word in ("aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"):
            kept.add(word)  # 9 characters each with its newline
        self.assertEqual(kept.lines, ["cccccccc", "dddddddd"])
        self.assertTrue(len(kept.text()) <= 25)
        self.assertEqual(kept.chars, len(kept.text()))

    def test_a_runaway_line_is_cut(self):
        kept = BoundedLog()
        kept.add("x" * 100000)
        self.assertEqual(len(kept.lines), 1)
        self.assertTrue(len(kept.lines[0]) <= 512)

    def test_the_default_bounds(self):
        kept = BoundedLog()
        for i in range(1000):
            kept.add("%04d %s" % (i, "y" * 300))
        self.assertTrue(len(kept.lines) <= 200)
        self.assertTrue(len(kept.text()) <= 32 * 1024)
        self.assertTrue(kept.lines[-1].startswith("0999 "))

    def test_control_characters_are_blanked(self):
        self.assertEqual(clean("a\nb\rc\x00d\x1be\x7ff\x85g\ufffeh\tz <&>\u00fc"),
                         "a b c d e f g h z <&>\u00fc")
        kept = BoundedLog()
        kept.add("one\ntwo")
        self.assertEqual(kept.text(), "one two\n")
        line = "a clean line <&>\u00fc"
        self.assertTrue(clean(line) is line, "a clean line is not copied")


class SystemLogFeedTest(FreshLogs):
    def test_info_and_above_reach_the_system_log_whatever_the_stderr_level(self):
        stream = Lines()
        log.set_stream(stream)
        log.set_level("warning")
        log.debug("quiet %d", 1)
        log.info("kept %s", "info")
        log.error("kept error")
        self.assertEqual(len(SYSTEM.lines), 2)
        self.assertTrue(SYSTEM.lines[0].endswith(" INFO kept info"), SYSTEM.lines)
        self.assertTrue(SYSTEM.lines[1].endswith(" ERROR kept error"))
        # stderr keeps its threshold and its one line per call
        self.assertEqual(len(stream.lines), 1)
        self.assertTrue(stream.lines[0].endswith(" ERROR kept error\n"))

    def test_in_the_journal_a_line_starts_with_its_priority_not_the_time(self):
        lines = Lines()
        log.set_stream(lines, journal=True)
        log.set_level("debug")
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        self.assertEqual(lines.lines, ["<7>DEBUG d\n", "<6>INFO i\n", "<4>WARNING w\n", "<3>ERROR e\n"])
        self.assertEqual(SYSTEM.lines[0][8:], " INFO i", "the system log keeps its time")

    def test_debug_never_reaches_the_system_log(self):
        log.set_level("debug")
        log.debug("debugging")
        self.assertEqual(SYSTEM.lines, [])


def make_client():
    device = Device({"name": "door", "hal": "sim"}, Settings())
    client = InMemoryClient(build_app(device, policy=AllowAll()))
    client.session.peer = PEER
    return client, device


class OperationsTest(FreshLogs):
    def setUp(self):
        super().setUp()
        self.client, self.device = make_client()

    def test_system_log_holds_the_logged_lines_as_xml_text(self):
        log.info("relay <1> & \x01 switched")
        r = get_log(self.client, "System")
        self.assertEqual(r.status, 200, r.body)
        text = log_string(r)
        self.assertTrue(" INFO relay <1> &   switched\n" in text, text)
        self.assertTrue(b"&lt;1&gt; &amp;" in r.body)

    def test_access_log_lists_earlier_requests(self):
        self.assertEqual(self.client.call("<tds:GetHostname/>").status, 200)
        text = log_string(get_log(self.client, " Access "))  # xs:token-like whitespace
        self.assertTrue("127.0.0.1 anonymous device GetHostname 200\n" in text, text)
        self.assertTrue(text.startswith(format_datetime(FIXED_NOW)))

    def test_an_empty_log_is_an_empty_string(self):
        self.assertEqual(log_string(get_log(self.client, "Access")), "")

    def test_log_type_must_be_system_or_access(self):
        r = get_log(self.client, "Debug")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["InvalidArgVal"])))
        r = self.client.call("<tds:GetSystemLog/>")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["InvalidArgs"])))

    def test_support_information(self):
        log.warning("disk nearly full")
        self.device.subscriptions.by_id["x"] = object()  # one live subscription
        r = self.client.call("<tds:GetSystemSupportInformation/>")
        self.assertEqual(r.status, 200, r.body)
        text = r.body_child.find(TDS, "SupportInformation").findtext(TT, "String")
        for fact in ("version: " + agent.__version__ + "\n", "board: door (sim)\n",
                     "uptime: ", "subscriptions: 1\n", "users: 0\n",
                     "last system log lines:\n"):
            self.assertTrue(fact in text, (fact, text))
        self.assertTrue(text.endswith(" WARNING disk nearly full\n"), text)

    def test_system_logging_capability_in_both_forms(self):
        r = self.client.call('<tds:GetServiceCapabilities/>')
        system = r.body_child.find(TDS, "Capabilities").find(TDS, "System")
        self.assertEqual(system.get("SystemLogging"), "true")
        r = self.client.call('<tds:GetCapabilities/>')
        system = r.body_child.find(TDS, "Capabilities").find(TT, "Device").find(TT, "System")
        self.assertEqual(system.findtext(TT, "SystemLogging"), "true")


class AccessLogTest(FreshLogs):
    """One line per dispatched request, with the real access policy (Table 7)."""

    def setUp(self):
        super().setUp()
        self.caller = Caller({"name": "t", "hal": "sim", "allow_password_text": True})
        self.caller.client.session.peer = PEER

    def test_success_fault_401_and_not_authorized_outcomes(self):
        c = self.caller
        self.assertEqual(get_log(c, "System", header=c.token("admin")).status, 200)
        self.assertEqual(get_log(c, "Bogus", header=c.token("admin")).status, 400)
        self.assertEqual(get_log(c, "System").status, 401)
        r = get_log(c, "System", header=c.token("operator"))
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))
        self.assertEqual(len(ACCESS.lines), 4, ACCESS.lines)
        tails = [line.split(" ", 1)[1] for line in ACCESS.lines]
        self.assertEqual(tails, [
            "127.0.0.1 admin device GetSystemLog 200",
            "127.0.0.1 admin device GetSystemLog 400 Sender/InvalidArgVal",
            "127.0.0.1 anonymous device GetSystemLog 401",
            "127.0.0.1 operator device GetSystemLog 400 Sender/NotAuthorized"])  # who was refused

    def test_read_system_secret_is_for_administrators_only(self):
        c = self.caller
        for user in ("operator", "viewer"):
            for body in ("<tds:GetSystemLog><tds:LogType>Access</tds:LogType></tds:GetSystemLog>",
                         "<tds:GetSystemSupportInformation/>"):
                r = c.call(body, header=c.token(user))
                self.assertEqual((r.status, r.fault()), (400, ("Sender", ["NotAuthorized"])))
        r = c.call("<tds:GetSystemSupportInformation/>", header=c.token("admin"))
        self.assertEqual(r.status, 200)

    def test_no_password_nonce_or_body_in_any_line(self):
        c = self.caller
        secrets = list(PASSWORDS.values())
        for user in PASSWORDS:
            header = c.token(user, text=True)  # the password itself is on the wire
            self.assertEqual(c.call("<tds:GetHostname/>", header=header).status, 200)
            secrets.append(header.split("<Nonce>")[1].split("</Nonce>")[0])
            digest = c.token(user, password="wrong")
            c.call("<tds:GetDeviceInformation/>", header=digest)
            secrets.append(digest.split("<Nonce>")[1].split("</Nonce>")[0])
            secrets.append(digest.split('#PasswordDigest">')[1].split("<")[0])
        r = c.call("<tds:GetDeviceInformation/>")
        authorization = c.digest_header(c.md5_challenge(r), "admin", "/onvif/device_service")
        r = c.call("<tds:GetDeviceInformation/>", headers=[("Authorization", authorization)])
        self.assertEqual(r.status, 200)
        secrets.append(authorization.split('response="')[1].split('"')[0])
        secrets.append(authorization.split('nonce="')[1].split('"')[0])
        self.assertTrue(len(ACCESS.lines) >= 8 and SYSTEM.lines, (ACCESS.lines, SYSTEM.lines))
        for line in ACCESS.lines + SYSTEM.lines:
            for secret in secrets:
                self.assertFalse(secret in line, (secret, line))
            self.assertFalse("Password" in line or "Envelope" in line, line)
