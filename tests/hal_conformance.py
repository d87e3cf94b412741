"""The one conformance suite every HAL backend passes, each against a fake of its backend.

A backend's test module defines `class XConformance(HalConformance, unittest.TestCase)` and the
fixture methods below (`board`, `make_hal`, `relay_energized`, `set_input`, `serial_peer`).
Time is a fake clock advanced by `pump()`, so debounce timers run without real waiting;
backends whose fakes need real time (a pseudo-terminal) override `pump()` to also poll.
Portable: runs inside MicroPython too (the `machine` backend's fake lives there).
"""

from agent.loop import Loop
from hal.base import Hal
from tests.support import Clock


class HalConformance:
    # -- fixture: each backend's test class provides these -------------------------------------

    def board(self):
        """A board dict for this backend: relays "R1" (NO) and "R2" (contact "NC"), inputs
        "IN1" and "IN2", and serial port "S1" when the backend has serial ports."""
        raise NotImplementedError

    def make_hal(self, board, loop):
        """The backend's Hal for `board`, built on its fake (create(board, loop, state_dir))."""
        raise NotImplementedError

    def relay_energized(self, hal, index):
        """Whether the fake sees relay `index`'s coil energized (its pin level, its bytes)."""
        raise NotImplementedError

    def set_input(self, hal, index, closed):
        """Make the fake's input `index` contact closed or open, as the wiring would."""
        raise NotImplementedError

    def serial_peer(self, hal, index):
        """The far end of serial port `index`: an object with `send(data)` and
        `receive() -> bytes` (what has arrived so far). None when the backend has no ports."""
        return None

    def released(self, hal):
        """After hal.close(): True when the fake shows every line released (None: no way
        to tell on this backend)."""
        return None

    # -- helpers ---------------------------------------------------------------------------------

    def setUp(self):
        self.clock = Clock()
        self.loop = Loop(clock=self.clock)
        self.spec = self.board()
        self.hal = self.make_hal(self.spec, self.loop)
        self.changes = []
        for line in self.hal.inputs:
            line.listener = (lambda token: lambda closed: self.changes.append((token, closed)))(
                line.token)
        self.hal.start()

    def tearDown(self):
        self.hal.close()
        self.loop.close()

    def pump(self, ms=0):
        """Let `ms` of fake time pass, running whatever falls due."""
        end = self.clock.now + ms
        while True:
            self.loop.run_once(0)
            if self.clock.now >= end:
                break
            self.clock.now = min(end, self.clock.now + 5)
        self.loop.run_once(0)

    def wait_serial(self, predicate):
        for _ in range(200):
            if predicate():
                return True
            self.pump(5)
        return predicate()

    # -- the suite -----------------------------------------------------------------------------

    def test_is_a_hal_with_the_boards_tokens(self):
        self.assertTrue(isinstance(self.hal, Hal))
        self.assertEqual([r.token for r in self.hal.relays],
                         [r["token"] for r in self.spec.get("relays", [])])
        self.assertEqual([i.token for i in self.hal.inputs],
                         [i["token"] for i in self.spec.get("inputs", [])])
        self.assertEqual([s.token for s in self.hal.serial_ports],
                         [s["token"] for s in self.spec.get("serial_ports", [])])
        self.assertTrue(isinstance(self.hal.unsupported, list))
        for line in self.hal.unsupported:
            self.assertTrue(isinstance(line, str) and line)

    def test_relay_contacts_drive_the_coil(self):
        if not self.hal.relays:
            return
        normally_open = self.hal.relays[0]
        normally_open.set_closed(True)
        self.assertTrue(self.relay_energized(self.hal, 0))
        normally_open.set_closed(False)
        self.assertFalse(self.relay_energized(self.hal, 0))
        if len(self.hal.relays) > 1:
            normally_closed = self.hal.relays[1]
            self.assertTrue(normally_closed.normally_closed)
            normally_closed.set_closed(False)
            self.assertTrue(self.relay_energized(self.hal, 1))
            normally_closed.set_closed(True)
            self.assertFalse(self.relay_energized(self.hal, 1))
            self.assertFalse(self.relay_energized(self.hal, 0), "relays are independent")

    def test_inputs_read_the_contact(self):
        for index, line in enumerate(self.hal.inputs):
            self.set_input(self.hal, index, True)
            self.assertTrue(line.read())
            self.set_input(self.hal, index, False)
            self.assertFalse(line.read())

    def test_a_settled_change_is_reported_once(self):
        if not self.hal.inputs:
            return
        self.set_input(self.hal, 0, False)
        self.pump(200)
        del self.changes[:]
        self.set_input(self.hal, 0, True)
        self.pump(200)
        self.pump(200)
        self.assertEqual(self.changes, [("IN1", True)])
        self.set_input(self.hal, 0, False)
        self.pump(200)
        self.assertEqual(self.changes, [("IN1", True), ("IN1", False)])

    def test_a_bounce_shorter_than_the_debounce_time_is_not_reported(self):
        if not self.hal.inputs:
            return
        self.set_input(self.hal, 1, False)
        self.pump(200)
        del self.changes[:]
        line = self.hal.inputs[1]
        if line.debounced:
            return  # the backend's own debounce is the library's, tested there
        self.set_input(self.hal, 1, True)
        self.pump(1)
        self.set_input(self.hal, 1, False)
        self.pump(200)
        self.assertEqual(self.changes, [])

    def test_serial_bytes_flow_both_ways(self):
        if not self.hal.serial_ports:
            self.assertEqual(self.serial_peer(self.hal, 0), None)
            return
        port = self.hal.serial_ports[0]
        peer = self.serial_peer(self.hal, 0)
        self.assertEqual(port.read(64), b"")
        self.assertEqual(port.write(b"\x01\x03ping"), 6)
        got = []
        self.assertTrue(self.wait_serial(lambda: got.append(peer.receive()) or
                                         b"".join(got) == b"\x01\x03ping"), b"".join(got))
        peer.send(b"pong\r\n")
        heard = []
        self.assertTrue(self.wait_serial(lambda: heard.append(port.read(64)) or
                                         b"".join(heard) == b"pong\r\n"), b"".join(heard))

    def test_serial_configuration_stays_within_the_options(self):
        if not self.hal.serial_ports:
            return
        port = self.hal.serial_ports[0]
        self.assertTrue(port.allows(port.config), "the start configuration is an option")
        self.assertTrue(port.type in ("RS232", "RS422HalfDuplex", "RS422FullDuplex",
                                      "RS485HalfDuplex", "RS485FullDuplex", "Generic"))
        wanted = dict(port.config)
        wanted["baud_rate"] = port.options["baud_rates"][-1]
        self.assertTrue(port.allows(wanted))
        port.configure(wanted)
        self.assertEqual(port.config, wanted)
        self.assertFalse(port.allows({"baud_rate": 123}))
        self.assertFalse(port.allows({"parity": "Extended"}))

    def test_close_releases_every_line(self):
        self.hal.close()
        self.assertTrue(self.released(self.hal) in (True, None))
