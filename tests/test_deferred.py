"""Deferred answers (agent.app.Deferred): a handler answers later, from a loop callback, and
the connection's Session waits for it in order without blocking anything (a serial reply,
a PullMessages long-poll)."""

import unittest

from agent import log
from agent.app import build_app
from agent.replies import Deferred
from agent.device import Device
from agent.session import Session
from agent.settings import Settings
from agent.soap import sender
from agent.systemlog import ACCESS
from tests.soapclient import envelope, http_request, parse_responses
from tests.support import AllowAll, Quiet

HOSTNAME = envelope("<tds:GetHostname/>")
DATE = envelope("<tds:GetSystemDateAndTime/>")


class DeferredSessionTest(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())
        app = build_app(Device({"name": "t", "hal": "sim"}, Settings(), hostname=lambda: "h"),
                        policy=AllowAll())
        self.service = app.by_path["/onvif/device_service"]
        self.pending = []
        self.cancelled = []
        # GetHostname stands in for an operation that answers later (with its own answer).
        self.real_answer = self.service.GetHostname
        self.service.GetHostname = self.deferred_handler
        self.out = []
        self.resumed = []
        self.session = Session(app, self.out.append, local_host="192.0.2.1:80",
                               on_resume=lambda: self.resumed.append(1) or self.drain())

    def tearDown(self):
        log.set_stream(None)

    def deferred_handler(self, body, ctx):
        answer = Deferred(on_cancel=lambda: self.cancelled.append(1))
        self.pending.append(answer)
        return answer

    def drain(self):
        while self.session.step():
            pass

    def feed(self, *bodies, **kw):
        self.session.receive(b"".join(http_request("/onvif/device_service", b, **kw)
                                      for b in bodies))
        self.drain()

    def responses(self):
        data = b"".join(self.out)
        del self.out[:]
        return parse_responses(data)

    def resolve(self, answer):
        answer.resolve(self.real_answer(None, None))

    def test_the_answer_is_sent_when_resolved(self):
        self.feed(HOSTNAME)
        self.assertEqual(self.responses(), [])
        self.assertTrue(self.session.waiting is self.pending[0])
        self.resolve(self.pending[0])
        responses = self.responses()
        self.assertEqual(len(responses), 1)
        self.assertEqual(responses[0].status, 200)
        self.assertEqual(responses[0].body_child.name, "GetHostnameResponse")
        self.assertEqual(self.session.waiting, None)
        self.assertEqual(self.resumed, [1])

    def test_pipelined_requests_wait_their_turn(self):
        self.feed(HOSTNAME, DATE)
        self.assertEqual(self.responses(), [], "the second must not overtake the first")
        self.resolve(self.pending[0])
        names = [r.body_child.name for r in self.responses()]
        self.assertEqual(names, ["GetHostnameResponse", "GetSystemDateAndTimeResponse"])

    def test_a_fault_can_come_later(self):
        self.feed(HOSTNAME)
        self.pending[0].fail(sender("InvalidArgVal", "InvalidSerialPort"))
        response = self.responses()[0]
        self.assertEqual(response.status, 400)
        self.assertEqual(response.fault(), ("Sender", ["InvalidArgVal", "InvalidSerialPort"]))

    def test_settling_twice_sends_one_answer(self):
        self.feed(HOSTNAME)
        self.resolve(self.pending[0])
        self.resolve(self.pending[0])
        self.pending[0].fail(sender("InvalidArgVal"))
        self.assertEqual(len(self.responses()), 1)

    def test_an_abandoned_request_cancels_and_sends_nothing(self):
        self.feed(HOSTNAME)
        self.session.abandon()
        self.assertEqual(self.cancelled, [1])
        self.resolve(self.pending[0])
        self.assertEqual(self.responses(), [])
        self.session.abandon()
        self.assertEqual(self.cancelled, [1], "cancelled once")

    def test_the_access_log_records_how_each_deferred_request_ended(self):
        ACCESS.clear()
        self.feed(HOSTNAME)
        self.feed(HOSTNAME)
        self.assertEqual(ACCESS.lines, [], "nothing recorded before the answer exists")
        self.resolve(self.pending[0])
        self.pending[1].fail(sender("InvalidArgVal", "InvalidSerialPort"))
        self.feed(HOSTNAME)
        self.session.abandon()
        tails = [line.split(" ", 2)[2] for line in ACCESS.lines]
        self.assertEqual(tails, [
            "anonymous device GetHostname 200",
            "anonymous device GetHostname 400 Sender/InvalidArgVal/InvalidSerialPort",
            "anonymous device GetHostname cancelled"])

    def test_resolved_before_the_handler_returns(self):
        def at_once(body, ctx):
            answer = Deferred()
            self.resolve(answer)
            return answer
        self.service.GetHostname = at_once
        self.feed(HOSTNAME)
        self.assertEqual(len(self.responses()), 1)
        self.assertEqual(self.resumed, [], "no re-entrant resume for a synchronous answer")

    def test_connection_close_waits_for_the_deferred_answer(self):
        self.feed(HOSTNAME, headers=[("Connection", "close")])
        self.assertFalse(self.session.closed)
        self.resolve(self.pending[0])
        self.assertEqual(len(self.responses()), 1)
        self.assertTrue(self.session.closed)
