"""hal.pi on gpiozero's MockFactory: the conformance suite, pull-up/pull-down/external wiring
mapped to *closed*, active-low relay modules, edges from gpiozero's threads reaching the loop,
pins refused by name, and a serial port on a pseudo-terminal. CPython only."""

import threading
import time
import unittest

import gpiozero
from gpiozero.pins.mock import MockFactory

from agent.loop import Loop
from hal import pi
from hal.base import HalError
from tests.hal_conformance import HalConformance
from tests.support import Clock
from tests.test_hal_serialport import PtyPeer, RealTimePump

RELAYS = [{"token": "R1", "pin": 17, "active_low": True},
          {"token": "R2", "pin": 27, "contact": "NC"}]
INPUTS = [{"token": "IN1", "pin": 5},
          {"token": "IN2", "pin": 6, "pull": "down", "debounce_ms": 30},
          {"token": "IN3", "pin": 13, "pull": "off", "active_low": False},
          {"token": "IN4", "pin": 19, "pull": "off", "debounce_ms": 0}]


def closed_level(spec):
    """The pin level a closed contact gives with this wiring (board file format)."""
    pull = spec.get("pull", "up")
    if pull == "off":
        return not spec.get("active_low", True)
    return pull == "down"


def wire(factory, spec, closed):
    """Open or close the contact on the input `spec` as the circuit would drive its pin."""
    pin = factory.pin(spec["pin"])
    if closed_level(spec) == closed:
        pin.drive_high()
    else:
        pin.drive_low()


class PiConformance(RealTimePump, HalConformance, unittest.TestCase):
    def setUp(self):
        self.factory = MockFactory()
        self.peer = PtyPeer()
        self.addCleanup(self.peer.close)
        super().setUp()

    def board(self):
        return {"name": "pi-door", "hal": "pi", "relays": [dict(r) for r in RELAYS],
                "inputs": [dict(i) for i in INPUTS],
                "serial_ports": [{"token": "S1", "device": self.peer.path,
                                  "type": "RS485HalfDuplex", "direction": "auto"}]}

    def make_hal(self, board, loop):
        return pi.create(board, loop, None, pin_factory=self.factory)

    def relay_energized(self, hal, index):
        spec = hal.relays[index].spec
        return self.factory.pin(spec["pin"]).state != spec.get("active_low", False)

    def set_input(self, hal, index, closed):
        wire(self.factory, hal.inputs[index].spec, closed)

    def serial_peer(self, hal, index):
        return self.peer

    def released(self, hal):
        for spec in RELAYS + INPUTS:
            try:
                gpiozero.OutputDevice(spec["pin"], pin_factory=self.factory).close()
            except gpiozero.GPIOPinInUse:
                return False
        return True

    # -- the Pi's own ----------------------------------------------------------------------------

    def test_nothing_is_listed_as_unsupported(self):
        self.assertEqual(self.hal.unsupported, [])
        self.assertEqual(self.hal.name, "pi")

    def test_each_wiring_reads_closed_at_the_right_level(self):
        pins = {spec["token"]: self.factory.pin(spec["pin"]) for spec in INPUTS}
        lines = {line.token: line for line in self.hal.inputs}
        self.assertEqual(pins["IN1"].pull, "up")
        self.assertEqual(pins["IN2"].pull, "down")
        self.assertEqual(pins["IN3"].pull, "floating")
        # At rest the resistor holds each contact open.
        self.assertFalse(lines["IN1"].read())  # pulled up: high
        self.assertFalse(lines["IN2"].read())  # pulled down: low
        pins["IN1"].drive_low()
        pins["IN2"].drive_high()
        pins["IN3"].drive_high()
        pins["IN4"].drive_low()
        self.assertEqual([lines[t].read() for t in ("IN1", "IN2", "IN3", "IN4")],
                         [True, True, True, True])
        pins["IN1"].drive_high()
        pins["IN2"].drive_low()
        pins["IN3"].drive_low()
        pins["IN4"].drive_high()
        self.assertEqual([lines[t].read() for t in ("IN1", "IN2", "IN3", "IN4")],
                         [False, False, False, False])

    def test_gpiozero_debounce_is_not_used(self):
        for line in self.hal.inputs:
            self.assertFalse(line.debounced)
            self.assertEqual(line.device.pin.bounce, None)

    def test_an_active_low_relay_module_is_energized_by_a_low_pin(self):
        pin = self.factory.pin(17)
        self.assertTrue(pin.state, "starts de-energized: high")
        self.hal.relays[0].set_closed(True)
        self.assertFalse(pin.state)
        self.hal.relays[0].set_closed(False)
        self.assertTrue(pin.state)

    def test_an_active_high_relay_is_energized_by_a_high_pin(self):
        pin = self.factory.pin(27)
        self.assertFalse(pin.state)
        self.hal.relays[1].set_closed(False)  # NC contact opens: coil energized
        self.assertTrue(pin.state)

    def test_close_leaves_the_coils_de_energized(self):
        self.hal.relays[0].set_closed(True)
        self.hal.relays[1].set_closed(False)
        self.hal.close()
        self.assertEqual([self.factory.pin(17).state, self.factory.pin(27).state], [True, False])

    def test_edges_from_gpiozero_threads_reach_the_input_on_the_loop(self):
        line = self.hal.inputs[0]
        threads = []
        edge = line.edge
        line.edge = lambda: threads.append(threading.current_thread()) or edge()
        line.listener = lambda closed: threads.append((threading.current_thread(), closed))
        worker = threading.Thread(target=self.factory.pin(5).drive_low, name="gpiozero-edge")
        worker.start()
        worker.join()
        self.assertEqual(threads, [], "nothing runs in gpiozero's thread")
        self.pump(100)
        here = threading.current_thread()
        self.assertEqual(threads, [here, (here, True)])

    def test_a_loop_asleep_in_poll_wakes_for_an_edge(self):
        line = self.hal.inputs[0]
        edges = []
        edge = line.edge
        line.edge = lambda: edges.append(1) or edge()
        pin = self.factory.pin(5)
        worker = threading.Timer(0.05, pin.drive_low)
        worker.start()
        self.addCleanup(worker.join)
        started = time.monotonic()
        self.loop.run_once(5000)  # no timer is due: only the wake-up socket can end this
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertEqual(edges, [1])

    def test_a_contact_without_debounce_is_reported_at_once(self):
        wire(self.factory, INPUTS[3], False)
        self.pump(0)
        wire(self.factory, INPUTS[3], True)
        self.pump(0)
        self.assertEqual(self.changes, [("IN4", False), ("IN4", True)])


class PiCreateTest(unittest.TestCase):
    def setUp(self):
        self.factory = MockFactory()
        self.loop = Loop(clock=Clock())
        self.addCleanup(self.loop.close)

    def assert_refused(self, board, *names):
        with self.assertRaises(HalError) as raised:
            pi.create(board, self.loop, None, pin_factory=self.factory)
        for name in names:
            self.assertIn(name, str(raised.exception))

    def assert_all_free(self, pins):
        for pin in pins:
            gpiozero.OutputDevice(pin, pin_factory=self.factory).close()  # GPIOPinInUse if held

    def test_a_pin_that_does_not_exist_is_named(self):
        self.assert_refused({"name": "b", "hal": "pi", "relays": [{"token": "R1", "pin": 99}]},
                            "R1", "99")

    def test_a_pin_used_twice_is_refused_and_the_first_released(self):
        board = {"name": "b", "hal": "pi", "relays": [{"token": "R1", "pin": 17}],
                 "inputs": [{"token": "IN1", "pin": 17}]}
        self.assert_refused(board, "IN1", "17")
        self.assert_all_free([17])

    def test_a_failing_serial_port_releases_the_pins(self):
        board = {"name": "b", "hal": "pi", "relays": [{"token": "R1", "pin": 17}],
                 "inputs": [{"token": "IN1", "pin": 5}],
                 "serial_ports": [{"token": "S1", "device": "/dev/ttyNOPE9"}]}
        self.assert_refused(board, "S1", "/dev/ttyNOPE9")
        self.assert_all_free([17, 5])


if __name__ == "__main__":
    unittest.main()
