"""hal.beaglebone on a fake of gpiod 2.x (tests/fake_gpiod.py, gpiod's own settings and enums):
the conformance suite, one request per chip, line settings from the board's wiring, edge
events through the request's file descriptor on the agent loop, and chips or lines refused by
name. CPython only."""

import select
import unittest
from datetime import timedelta

from gpiod.line import Bias, Direction, Edge, Value

from agent.loop import Loop
from hal import beaglebone
from hal.base import HalError
from tests.fake_gpiod import RISING, FakeChip, FakeGpiod
from tests.hal_conformance import HalConformance
from tests.support import Clock
from tests.test_hal_serialport import PtyPeer, RealTimePump

RELAYS = [{"token": "R1", "chip": "gpiochip1", "line": 5, "active_low": True},
          {"token": "R2", "chip": "/dev/gpiochip1", "line": 6, "contact": "NC"}]
INPUTS = [{"token": "IN1", "chip": "gpiochip2", "line": 3},
          {"token": "IN2", "chip": "gpiochip1", "line": 7, "pull": "down", "debounce_ms": 50},
          {"token": "IN3", "chip": "/dev/gpiochip2", "line": 4, "pull": "off",
           "active_low": False},
          {"token": "IN4", "chip": "gpiochip1", "line": 8, "pull": "off", "debounce_ms": 0}]


def fake_gpiod():
    return FakeGpiod(FakeChip("/dev/gpiochip1"), FakeChip("/dev/gpiochip2"))


def board(**parts):
    spec = {"name": "bone-door", "hal": "beaglebone"}
    spec.update(parts)
    return spec


def line_of(gpiod, spec):
    return gpiod.chips[beaglebone.chip_path(spec["chip"])].lines[spec["line"]]


def wire(gpiod, spec, closed):
    """Open or close the contact on input `spec` as its circuit would: a contact to ground
    with a pull-up, to the supply with a pull-down; with an external resistor ("pull": "off")
    the pin is driven both ways."""
    chip = gpiod.chips[beaglebone.chip_path(spec["chip"])]
    pull = spec.get("pull", "up")
    if pull == "off":
        closed_low = spec.get("active_low", True)
        chip.drive(spec["line"], closed != closed_low)
    else:
        chip.drive(spec["line"], (pull == "down") if closed else None)


class BeagleBoneConformance(RealTimePump, HalConformance, unittest.TestCase):
    def setUp(self):
        self.gpiod = fake_gpiod()
        self.peer = PtyPeer()
        self.addCleanup(self.peer.close)
        super().setUp()

    def board(self):
        return board(relays=[dict(r) for r in RELAYS], inputs=[dict(i) for i in INPUTS],
                     serial_ports=[{"token": "S1", "device": self.peer.path, "type": "RS232"}])

    def make_hal(self, spec, loop):
        return beaglebone.create(spec, loop, None, gpiod_module=self.gpiod)

    def relay_energized(self, hal, index):
        spec = hal.relays[index].spec
        return line_of(self.gpiod, spec).level() != spec.get("active_low", False)

    def set_input(self, hal, index, closed):
        wire(self.gpiod, hal.inputs[index].spec, closed)

    def serial_peer(self, hal, index):
        return self.peer

    def released(self, hal):
        chips = self.gpiod.chips.values()
        return (all(line.settings is None for chip in chips for line in chip.lines) and
                all(not request for chip in chips for request in chip.requests))

    # -- the BeagleBone's own ----------------------------------------------------------------

    def request_of(self, spec):
        line = line_of(self.gpiod, spec)
        chip = self.gpiod.chips[beaglebone.chip_path(spec["chip"])]
        (request,) = [r for r in chip.requests if r and spec["line"] in r.settings]
        return request, line

    def test_one_request_per_chip_whatever_the_spelling(self):
        self.assertEqual(self.hal.name, "beaglebone")
        self.assertEqual(self.hal.unsupported, [])
        first, second = self.gpiod.chips["/dev/gpiochip1"], self.gpiod.chips["/dev/gpiochip2"]
        self.assertEqual([sorted(r.settings) for r in first.requests], [[5, 6, 7, 8]])
        self.assertEqual([sorted(r.settings) for r in second.requests], [[3, 4]])

    def test_line_settings_follow_the_board(self):
        relay = line_of(self.gpiod, RELAYS[0]).settings
        self.assertEqual((relay.direction, relay.output_value, relay.active_low),
                         (Direction.OUTPUT, Value.INACTIVE, True))
        self.assertFalse(line_of(self.gpiod, RELAYS[1]).settings.active_low)
        expected = {"IN1": (Bias.PULL_UP, True, 20), "IN2": (Bias.PULL_DOWN, False, 50),
                    "IN3": (Bias.DISABLED, False, 20), "IN4": (Bias.DISABLED, True, 0)}
        for spec in INPUTS:
            line = line_of(self.gpiod, spec)
            bias, active_low, debounce_ms = expected[spec["token"]]
            self.assertEqual((line.settings.direction, line.settings.edge_detection,
                              line.settings.bias, line.settings.active_low,
                              line.settings.debounce_period, line.consumer),
                             (Direction.INPUT, Edge.BOTH, bias, active_low,
                              timedelta(milliseconds=debounce_ms), "onvif-agent"),
                             spec["token"])
            self.assertTrue(self.hal.inputs[INPUTS.index(spec)].debounced)

    def test_an_open_contact_reads_open_through_the_pull(self):
        # Nothing drives IN1 and IN2: only the requested bias holds them at the open level.
        self.assertEqual([line.read() for line in self.hal.inputs[:2]], [False, False])

    def test_edge_events_arrive_through_the_request_fd(self):
        request, _ = self.request_of(INPUTS[0])
        poller = select.poll()
        poller.register(request.fd, select.POLLIN)
        self.assertEqual(poller.poll(0), [])
        wire(self.gpiod, INPUTS[0], True)
        self.assertEqual([fd for fd, _ in poller.poll(0)], [request.fd])
        self.assertEqual(self.changes, [], "reported by the loop, not by the driver")
        self.pump(0)
        self.assertEqual(self.changes, [("IN1", True)])
        self.assertEqual(poller.poll(0), [], "every queued event was read")

    def test_a_repeated_event_is_reported_once(self):
        request, _ = self.request_of(INPUTS[0])
        wire(self.gpiod, INPUTS[0], True)
        request.queue(INPUTS[0]["line"], RISING)
        self.pump(0)
        self.pump(100)
        self.assertEqual(self.changes, [("IN1", True)])

    def test_a_pulse_read_in_one_go_is_two_changes(self):
        """Closed then open again before the loop reads: each event carries its direction."""
        wire(self.gpiod, INPUTS[0], True)
        wire(self.gpiod, INPUTS[0], False)
        self.pump(0)
        self.assertEqual(self.changes, [("IN1", True), ("IN1", False)])

    def test_events_of_two_lines_in_one_read_reach_each_input(self):
        wire(self.gpiod, INPUTS[3], False)  # an external resistor: undriven, it floats
        self.pump(0)
        del self.changes[:]
        wire(self.gpiod, INPUTS[1], True)
        wire(self.gpiod, INPUTS[3], True)
        self.pump(0)
        self.assertEqual(self.changes, [("IN2", True), ("IN4", True)])

    def test_an_active_low_relay_module_is_energized_by_a_low_line(self):
        line = line_of(self.gpiod, RELAYS[0])
        self.assertTrue(line.level(), "requested de-energized: high")
        self.hal.relays[0].set_closed(True)
        self.assertFalse(line.level())

    def test_close_leaves_the_coils_de_energized(self):
        self.hal.relays[0].set_closed(True)
        self.hal.relays[1].set_closed(False)
        self.hal.close()
        self.assertEqual([line_of(self.gpiod, spec).level() for spec in RELAYS], [True, False])


class RecordingPoller:
    """select.poll that remembers what is registered, to see the loop let go of fds."""

    def __init__(self):
        self.poller = select.poll()
        self.fds = set()

    def register(self, obj, events):
        self.fds.add(obj)
        self.poller.register(obj, events)

    def modify(self, obj, events):
        self.poller.modify(obj, events)

    def unregister(self, obj):
        self.fds.discard(obj)
        self.poller.unregister(obj)

    def poll(self, timeout):
        return self.poller.poll(timeout)


class BeagleBoneCreateTest(unittest.TestCase):
    def setUp(self):
        self.gpiod = fake_gpiod()
        self.poller = RecordingPoller()
        self.loop = Loop(clock=Clock(), poller=self.poller)
        self.addCleanup(self.loop.close)

    def refused(self, spec, gpiod_module=None):
        with self.assertRaises(HalError) as raised:
            beaglebone.create(spec, self.loop, None, gpiod_module=gpiod_module or self.gpiod)
        return str(raised.exception)

    def assert_nothing_held(self):
        for chip in self.gpiod.chips.values():
            self.assertTrue(all(line.settings is None for line in chip.lines), chip.path)
        self.assertEqual(self.poller.fds, set())

    def test_only_chips_with_inputs_are_polled_and_close_lets_go(self):
        hal = beaglebone.create(board(relays=RELAYS[:1], inputs=INPUTS[:1]), self.loop, None,
                                gpiod_module=self.gpiod)
        (with_input,) = self.gpiod.chips["/dev/gpiochip2"].requests
        self.assertEqual(self.poller.fds, {with_input.fd})
        hal.close()
        self.assert_nothing_held()

    def test_a_missing_chip_is_named_and_the_other_chips_released(self):
        spec = board(relays=RELAYS[:1], inputs=[{"token": "DOOR", "chip": "gpiochip9",
                                                 "line": 1}])
        message = self.refused(spec)
        self.assertIn("DOOR", message)
        self.assertIn("/dev/gpiochip9", message)
        self.assert_nothing_held()

    def test_the_real_gpiod_refuses_a_missing_chip_the_same_way(self):
        message = self.refused(board(relays=[{"token": "R1", "chip": "/nonexistent/gpiochip7",
                                              "line": 0}]), gpiod_module=beaglebone.gpiod)
        self.assertIn("R1", message)
        self.assertIn("/nonexistent/gpiochip7", message)

    def test_a_line_beyond_the_chip_is_refused(self):
        self.assertIn("R9", self.refused(board(relays=[{"token": "R9", "chip": "gpiochip1",
                                                        "line": 40}])))

    def test_a_line_another_program_holds_is_refused_by_name(self):
        other = self.gpiod.request_lines("/dev/gpiochip1", {5: beaglebone.gpiod.LineSettings()})
        message = self.refused(board(relays=RELAYS, inputs=INPUTS))
        self.assertIn("R1", message)
        self.assertIn("/dev/gpiochip1", message)
        other.release()
        self.assert_nothing_held()

    def test_a_line_used_twice_on_the_board_names_both(self):
        spec = board(relays=RELAYS[:1], inputs=[{"token": "IN1", "chip": "/dev/gpiochip1",
                                                 "line": 5}])
        message = self.refused(spec)
        self.assertIn("R1", message)
        self.assertIn("IN1", message)

    def test_a_failing_serial_port_releases_the_lines(self):
        spec = board(relays=RELAYS, inputs=INPUTS,
                     serial_ports=[{"token": "S1", "device": "/dev/ttyNOPE9"}])
        self.assertIn("/dev/ttyNOPE9", self.refused(spec))
        self.assert_nothing_held()


if __name__ == "__main__":
    unittest.main()
