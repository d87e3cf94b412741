import unittest

from agent import log
from agent.loop import POLLIN, POLLOUT, Loop
from tests.support import Clock, Quiet


class FakePoller:
    """Stands in for select.poll: records registrations, returns scripted readiness."""

    def __init__(self):
        self.registered = {}
        self.ready = []
        self.timeouts = []

    def register(self, obj, events):
        self.registered[obj] = events

    def modify(self, obj, events):
        self.registered[obj] = events

    def unregister(self, obj):
        del self.registered[obj]

    def poll(self, timeout):
        self.timeouts.append(timeout)
        ready, self.ready = self.ready, []
        return ready


class Pollable:
    def __init__(self, fd=None):
        self.fd = fd

    def fileno(self):
        if self.fd is None:
            raise OSError("closed")
        return self.fd


class LoopTest(unittest.TestCase):
    def setUp(self):
        self.poller = FakePoller()
        self.clock = Clock()
        self.loop = Loop(clock=self.clock, poller=self.poller)

    def test_handlers_are_found_by_fd_and_by_object(self):
        seen = []
        a, b = Pollable(7), Pollable()
        self.loop.register(a, POLLIN, lambda ev: seen.append(("a", ev)))
        self.loop.register(b, POLLIN, lambda ev: seen.append(("b", ev)))
        self.poller.ready = [(7, POLLIN), (b, POLLOUT)]  # CPython style, MicroPython style
        self.loop.run_once()
        self.assertEqual(seen, [("a", POLLIN), ("b", POLLOUT)])

    def test_unregister_twice_is_harmless_and_stops_dispatch(self):
        seen = []
        a = Pollable(3)
        self.loop.register(a, POLLIN, seen.append)
        self.loop.unregister(a)
        self.loop.unregister(a)
        self.poller.ready = [(3, POLLIN)]
        self.loop.run_once()
        self.assertEqual(seen, [])

    def test_timers_run_in_deadline_order_when_due(self):
        order = []
        self.loop.call_later(30, lambda: order.append(30))
        self.loop.call_later(10, lambda: order.append(10))
        self.loop.call_later(20, lambda: order.append(20))
        self.loop.run_once()
        self.assertEqual(self.poller.timeouts[-1], 10)  # poll waits only until the next timer
        self.assertEqual(order, [])
        self.clock.now += 25
        self.loop.run_once()
        self.assertEqual(order, [10, 20])
        self.clock.now += 5
        self.loop.run_once()
        self.assertEqual(order, [10, 20, 30])

    def test_cancelled_timer_never_runs_and_does_not_shorten_the_wait(self):
        ran = []
        t = self.loop.call_later(5, lambda: ran.append(1))
        self.loop.call_later(50, lambda: None)
        t.cancel()
        self.loop.run_once()
        self.assertEqual(self.poller.timeouts[-1], 50)
        self.clock.now += 60
        self.loop.run_once()
        self.assertEqual(ran, [])

    def test_no_timers_means_wait_for_readiness_or_the_cap(self):
        self.loop.run_once()
        self.assertEqual(self.poller.timeouts[-1], -1)
        self.loop.run_once(max_wait_ms=250)
        self.assertEqual(self.poller.timeouts[-1], 250)

    def test_a_failing_callback_does_not_stop_the_others(self):
        log.set_stream(Quiet())
        try:
            ran = []
            self.loop.call_later(0, lambda: 1 / 0)
            self.loop.call_later(0, lambda: ran.append("after"))
            self.loop.run_once()
            self.assertEqual(ran, ["after"])
        finally:
            log.set_stream(None)

    def test_call_soon_runs_on_the_next_iteration_without_waiting(self):
        ran = []
        self.loop.call_soon_threadsafe(lambda: ran.append(1))
        self.loop.run_once()
        self.assertEqual((ran, self.poller.timeouts[-1]), ([1], 0))

    def test_run_until_stop(self):
        count = []

        def tick():
            count.append(1)
            if len(count) == 3:
                self.loop.stop()
            else:
                self.loop.call_later(0, tick)
        self.loop.call_later(0, tick)
        self.loop.run()
        self.assertEqual(len(count), 3)
