"""The installer status page (issue 9) in memory: access per user level, the JSON state against
the device, a pulse reaching the HAL, the forgery guard, escaping and the CSP hashes."""

import binascii
import json
import sys
import unittest

from agent import compat, log
from agent.compat import sha256
from agent.eventstore import EventStore
from agent.ringstore import RingStore
from agent.systemlog import ACCESS
from agent.services import status_markup
from agent.services.status_page import (BISTABLE_PULSE_MS, PULSE_HEADER, PULSE_PATH, RECENT,
                                        STATE_PATH)
from agent.topics import PROCESSOR_USAGE
from tests.iofakes import BOARD, advance, make_device
from tests.soapclient import InMemoryClient
from tests.support import Quiet, remove_tree, scratch_dir
from tests.test_auth import Caller

PAGE, STATE, PULSE = "/", "/status/state", "/status/pulse"
MARKUP = "agent.services.status_markup"
JSON = "application/json"
PAGE_HEADER = [("X-Status-Page", "pulse")]
HOSTILE = '<img src=x onerror="alert(1)"></td><script>alert(2)</script>&amp;'


def element(tag):
    """The text of the page's one `tag` element (bytes)."""
    return status_markup.PAGE.split(b"<%s>" % tag.encode())[1].split(b"</%s>" % tag.encode())[0]


class StatusCase(unittest.TestCase):
    """A make_device device (FakeHal) behind the real access policy, three users."""

    board = BOARD
    store = None

    def setUp(self):
        log.set_stream(Quiet())
        self.device, self.hal, self.loop, self.clock, _ = make_device(self.board, store=self.store)
        self.caller = Caller(device=self.device)

    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        log.set_stream(None)

    def request(self, path, user=None, method="GET", body=None, content_type=None, headers=()):
        """The response to `path`, answering the Digest challenge as `user` when given."""
        client = self.caller.client
        first = client.post(path, body, content_type=content_type, method=method,
                            headers=headers)
        if user is None or first.status != 401:
            return first
        authorization = self.caller.digest_header(self.caller.md5_challenge(first), user, path,
                                                  method=method)
        return client.post(path, body, content_type=content_type, method=method,
                           headers=list(headers) + [("Authorization", authorization)])

    def state(self, user="operator"):
        response = self.request(STATE, user)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["content-type"], JSON)
        return json.loads(response.body)

    def pulse(self, token, user="operator", content_type=JSON, headers=PAGE_HEADER):
        body = json.dumps({"token": token}).encode()
        return self.request(PULSE, user, "POST", body, content_type, headers)


class AccessTest(StatusCase):
    def test_anonymous_callers_are_challenged(self):
        for path, method in ((PAGE, "GET"), (STATE, "GET"), (PULSE, "POST")):
            content_type = JSON if method == "POST" else None
            response = self.request(path, None, method, b"{}" if content_type else None,
                                    content_type, PAGE_HEADER)
            self.assertEqual(response.status, 401, path)
            self.assertEqual(len(response.header_list("www-authenticate")), 2, path)

    def test_users_are_refused_operators_and_administrators_served(self):
        for user, status in (("viewer", 403), ("operator", 200), ("admin", 200)):
            self.assertEqual(self.request(PAGE, user).status, status, user)
            self.assertEqual(self.request(STATE, user).status, status, user)
            self.assertEqual(self.pulse("R1", user).status, status, user)
        self.assertEqual(self.device.io.relay("R1").state, "active", "pulsed twice, not by viewer")

    def test_a_user_cannot_pulse(self):
        self.assertEqual(self.pulse("R1", "viewer").status, 403)
        self.assertEqual(self.device.io.relay("R1").state, "inactive")

    def test_the_page_needs_get(self):
        self.assertEqual(self.request(PAGE, "operator", "POST", b"{}", JSON).status, 405)


class AccessLogTest(StatusCase):
    def setUp(self):
        StatusCase.setUp(self)
        ACCESS.clear()

    def test_page_loads_pulses_and_refusals_are_logged_not_the_polls(self):
        self.request(PAGE, "operator")
        for _ in range(5):
            self.state()
        self.request(STATE, "viewer")
        self.pulse("R1")
        # (each request of this client is first challenged: those 401s are refusals, logged)
        lines = [line.split(" ", 2)[2] for line in ACCESS.lines if " 401" not in line]
        self.assertEqual(lines, ["operator status GET / 200",
                                 "viewer status GET /status/state 403",
                                 "operator status POST /status/pulse 200"])


class PageTest(StatusCase):
    def test_the_page_is_the_constant_with_its_security_headers(self):
        response = self.request(PAGE, "admin")
        self.assertEqual(response.body, status_markup.PAGE)
        self.assertEqual(response.headers["content-type"], "text/html; charset=utf-8")
        csp = response.headers["content-security-policy"]
        self.assertTrue(csp.startswith("default-src 'none';"), csp)
        self.assertTrue("frame-ancestors 'none'" in csp, csp)
        self.assertEqual(response.headers["cache-control"], "no-store")

    def test_a_board_lets_the_markup_go_after_serving_it(self):
        sys.modules.pop(MARKUP, None)
        self.request(PAGE, "admin")
        self.assertEqual(MARKUP in sys.modules, not compat.FORGET_COLD)
        self.request(STATE, "admin")  # the polled state needs no markup
        self.assertEqual(MARKUP in sys.modules, not compat.FORGET_COLD)

    def test_the_csp_hashes_are_those_of_the_inline_script_and_style(self):
        for tag, source in (("script", status_markup.SCRIPT_HASH),
                            ("style", status_markup.STYLE_HASH)):
            self.assertEqual(status_markup.PAGE.count(b"<" + tag.encode()), 1, tag)
            digest = binascii.b2a_base64(sha256(element(tag))).strip().decode()
            self.assertEqual(source, "sha256-" + digest)
            self.assertTrue(("'%s'" % source) in status_markup.CSP)

    def test_the_script_uses_the_served_paths_and_header(self):
        script = element("script")
        for name in (STATE, PULSE, PULSE_HEADER):
            self.assertTrue(('"%s"' % name).encode() in script, name)
        self.assertEqual((STATE_PATH, PULSE_PATH), (STATE, PULSE))

    def test_the_script_never_parses_device_text_as_markup(self):
        script = element("script")
        for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write",
                     b"eval("):
            self.assertFalse(sink in script, sink)
        self.assertTrue(b"textContent = c" in script)

    def test_the_page_is_small(self):
        self.assertTrue(len(status_markup.PAGE) < 4096, len(status_markup.PAGE))


class StateTest(StatusCase):
    def test_device_information_is_get_device_information(self):
        response = self.caller.call("<tds:GetDeviceInformation/>", header=self.caller.token("admin"))
        answer = response.body_child
        expected = [[child.name, child.text] for child in answer.children]
        self.assertEqual(self.state()["device"], expected)

    def test_relays_inputs_and_serial_ports_match_the_device(self):
        self.hal.inputs[0].set(True)
        self.device.io.set_relay_settings("R1", "Monostable", 1500, "open")
        s = self.state()
        self.assertEqual(s["relays"], [
            {"token": "R1", "description": "", "state": "inactive", "mode": "Monostable",
             "delay_ms": 1500, "idle_state": "open"},
            {"token": "R2", "description": "", "state": "inactive", "mode": "Monostable",
             "delay_ms": 2000, "idle_state": "closed"}])
        # IN1 idle open, contact closed: active; IN2 idle closed, contact open: active too.
        self.assertEqual(s["inputs"], [
            {"token": "IN1", "description": "", "active": True, "contact": "closed",
             "idle_state": "open"},
            {"token": "IN2", "description": "", "active": True, "contact": "open",
             "idle_state": "closed"}])
        self.hal.inputs[0].set(False)
        self.assertEqual(self.state()["inputs"][0]["active"], False)
        self.assertEqual(s["serial_ports"], [
            {"token": "RS485", "type": "RS485HalfDuplex", "description": "", "baud_rate": 9600,
             "parity": "None", "character_length": 8, "stop_bits": 1.0}])

    def test_without_a_store_the_bus_feeds_the_last_events_newest_first(self):
        s = self.state()
        self.assertEqual((s["events"], s["events_stored"]), ([], False))
        for i in range(RECENT + 5):
            self.hal.inputs[0].set(i % 2 == 0)
        self.device.bus.set_property(PROCESSOR_USAGE.path, [("Token", "cpu")], [("Value", "5")])
        events = self.state()["events"]
        self.assertEqual(len(events), RECENT)
        self.assertEqual(events[0], [
            "2023-11-14T22:13:20Z", "Device/Trigger/DigitalInput", "Changed",
            [["InputToken", "IN1"]], [["LogicalState", "true"]]],
            "the last change, no periodic measurement")
        self.assertEqual(events[1][4], [["LogicalState", "false"]])


class StoredEventsTest(StatusCase):
    """With persistent storage the page reads the ring (from before the app existed)."""

    def setUp(self):
        self.dir = scratch_dir()
        self.ring = RingStore(self.dir + "/events.ring", 8192, max_payload=256)
        self.store = EventStore(self.ring)
        StatusCase.setUp(self)

    def tearDown(self):
        StatusCase.tearDown(self)
        self.ring.close()
        remove_tree(self.dir)

    def test_the_last_stored_events_newest_first(self):
        s = self.state()
        self.assertEqual(s["events_stored"], True)
        self.assertEqual([(e[2], e[3]) for e in s["events"]],
                         [("Initialized", [["InputToken", "IN2"]]),
                          ("Initialized", [["InputToken", "IN1"]]),
                          ("Initialized", [["RelayToken", "R2"]]),
                          ("Initialized", [["RelayToken", "R1"]])])
        for _ in range(RECENT):
            self.device.io.set_relay_state("R1", "active")
            self.device.io.set_relay_state("R1", "inactive")
        events = self.state()["events"]
        self.assertEqual(len(events), RECENT)
        self.assertEqual(events[0][4], [["LogicalState", "inactive"]])
        self.assertEqual(events[1][4], [["LogicalState", "active"]])


class PulseTest(StatusCase):
    def test_a_bistable_relay_pulses_for_a_second(self):
        relay = self.hal.relays[0]
        response = self.pulse("R1")
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.body), {"token": "R1", "pulse_ms": BISTABLE_PULSE_MS})
        self.assertEqual(relay.energized, True)
        advance(self.loop, self.clock, BISTABLE_PULSE_MS - 10)
        self.assertEqual(relay.energized, True)
        advance(self.loop, self.clock, 20)
        self.assertEqual(relay.energized, False)

    def test_a_monostable_relay_pulses_for_its_delay_time(self):
        relay, io = self.hal.relays[1], self.device.io  # R2: IdleState closed, DelayTime 2 s
        self.assertEqual(json.loads(self.pulse("R2").body)["pulse_ms"], 2000)
        self.assertEqual((io.relay("R2").state, relay.energized), ("active", False))
        advance(self.loop, self.clock, 2010)
        self.assertEqual((io.relay("R2").state, relay.energized), ("inactive", True))

    def test_unknown_relays_and_bad_bodies(self):
        self.assertEqual(self.pulse("R9").status, 404)
        for body in (b"", b"[]", b"{", b'{"relay": "R1"}'):
            response = self.request(PULSE, "operator", "POST", body, JSON, PAGE_HEADER)
            self.assertEqual(response.status, 400, body)

    def test_a_hal_failure_is_500(self):
        self.hal.relays[0].fail = True
        self.assertEqual(self.pulse("R1").status, 500)


class ForgeryGuardTest(StatusCase):
    """What another site's form or script could send with the browser's cached credentials."""

    def assertNotPulsed(self, response, status):
        self.assertEqual(response.status, status)
        self.assertEqual(self.device.io.relay("R1").state, "inactive")
        self.assertEqual(self.hal.relays[0].energized, False)

    def test_form_encodings_are_refused(self):
        for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; b=x",
                             "text/plain"):
            self.assertNotPulsed(self.pulse("R1", content_type=content_type, headers=()), 415)
            # the HTTP layer closes the connection after a 415: the next one is a new client
            self.caller.client = InMemoryClient(self.caller.app, clock=self.caller.clock)

    def test_json_needs_the_custom_header(self):
        self.assertNotPulsed(self.pulse("R1", headers=()), 403)

    def test_octet_stream_is_refused_even_with_the_header(self):
        self.assertNotPulsed(self.pulse("R1", content_type="application/octet-stream"), 403)

    def test_a_foreign_origin_is_refused(self):
        for origin in ("http://evil.example", "null", "https://device.test:8080"):
            headers = PAGE_HEADER + [("Origin", origin)]
            self.assertNotPulsed(self.pulse("R1", headers=headers), 403)
        same = PAGE_HEADER + [("Origin", "http://device.test:8080")]
        self.assertEqual(self.pulse("R1", headers=same).status, 200)


class EscapingTest(StatusCase):
    """Board text reaches the page only as JSON strings that the script sets as text."""

    board = dict(BOARD, relays=[{"token": "R1", "description": HOSTILE}],
                 inputs=[{"token": "IN1", "description": HOSTILE}])

    def test_a_hostile_description_is_data_not_markup(self):
        response = self.request(STATE, "admin")
        self.assertFalse(b"<" in response.body or b">" in response.body, response.body)
        s = json.loads(response.body)
        self.assertEqual(s["relays"][0]["description"], HOSTILE)
        self.assertEqual(s["inputs"][0]["description"], HOSTILE)
        page = self.request(PAGE, "admin").body
        self.assertFalse(b"alert" in page or b"onerror" in page)
