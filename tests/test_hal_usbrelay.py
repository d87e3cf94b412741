"""hal.usbrelay against a pseudo-terminal standing in for the board: the HAL opens the slave end
through pyserial, the test reads the exact bytes of every command frame from the master end.
CPython only (pty, termios, pyserial)."""

import os
import select
import termios
import tty
import unittest

from agent import log
from agent.loop import Loop
from hal import open_hal, usbrelay
from hal.base import HalError
from tests.hal_conformance import HalConformance
from tests.support import Clock, scratch_dir

QUIET_S = 0.02  # the master has every byte once it stays silent this long


class PtyBoard:
    """The far end of the board's serial line; `frames()` decodes what the HAL wrote."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.device = os.ttyname(self.slave)
        self.stream = b""

    def received(self):
        """Every byte the HAL has written so far."""
        while select.select([self.master], [], [], QUIET_S)[0]:
            self.stream += os.read(self.master, 65536)
        return self.stream

    def frames(self):
        """[(channel, energized)] in order; fails on any byte that is not a valid frame."""
        data = self.received()
        assert len(data) % 4 == 0, data
        found = []
        for at in range(0, len(data), 4):
            start, channel, state, checksum = data[at:at + 4]
            assert start == 0xA0 and state in (0, 1), data[at:at + 4]
            assert checksum == (start + channel + state) & 0xFF, data[at:at + 4]
            found.append((channel, state == 1))
        return found

    def energized(self, channel):
        """What the last frame for `channel` commanded (None: no frame yet)."""
        last = None
        for seen, energized in self.frames():
            if seen == channel:
                last = energized
        return last

    def unplug(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def close(self):
        self.unplug()
        os.close(self.slave)


def relay_board(device, relays=((1, "NO"), (2, "NC")), **extra):
    board = {"name": "relays", "hal": "usbrelay", "device": device,
             "relays": [{"token": "R%d" % (i + 1), "channel": channel, "contact": contact}
                        for i, (channel, contact) in enumerate(relays)]}
    board.update(extra)
    return board


class UsbRelayConformance(HalConformance, unittest.TestCase):
    def board(self):
        self.pty = PtyBoard()
        return relay_board(self.pty.device)

    def make_hal(self, board, loop):
        return usbrelay.create(board, loop)

    def tearDown(self):
        super().tearDown()
        self.pty.close()

    def relay_energized(self, hal, index):
        return self.pty.energized(hal.relays[index].channel)

    def set_input(self, hal, index, closed):
        raise AssertionError("a USB relay board has no inputs")

    def released(self, hal):
        return (not hal.link.port.is_open and self.pty.energized(1) is False
                and self.pty.energized(2) is False)


class FrameTest(unittest.TestCase):
    def test_frame_bytes_and_checksum(self):
        self.assertEqual(usbrelay.frame(1, True), bytes.fromhex("A0 01 01 A2"))
        self.assertEqual(usbrelay.frame(1, False), bytes.fromhex("A0 01 00 A1"))
        self.assertEqual(usbrelay.frame(8, True), bytes.fromhex("A0 08 01 A9"))
        self.assertEqual(usbrelay.frame(8, False), bytes.fromhex("A0 08 00 A8"))
        self.assertEqual(usbrelay.frame(0x5F, True), bytes.fromhex("A0 5F 01 00"), "sum mod 256")


class UsbRelayBoardTest(unittest.TestCase):
    def setUp(self):
        self.pty = PtyBoard()
        self.addCleanup(self.pty.close)
        self.loop = Loop()
        self.addCleanup(self.loop.close)

    def open(self, board):
        hal = open_hal(board, self.loop)
        self.addCleanup(hal.close)
        return hal

    def test_every_coil_is_released_at_start_then_frames_are_exact(self):
        hal = self.open(relay_board(self.pty.device, relays=((8, "NO"), (3, "NO"))))
        self.assertEqual(self.pty.received(), bytes.fromhex("A0 08 00 A8  A0 03 00 A3"))
        hal.relays[0].set_closed(True)
        self.assertEqual(self.pty.received()[8:], bytes.fromhex("A0 08 01 A9"))
        hal.relays[0].set_closed(False)
        self.assertEqual(self.pty.received()[12:], bytes.fromhex("A0 08 00 A8"))

    def test_line_settings_default_to_9600_8n1(self):
        hal = self.open(relay_board(self.pty.device))
        port = hal.link.port
        self.assertEqual((port.baudrate, port.bytesize, port.parity, port.stopbits),
                         (9600, 8, "N", 1))
        attrs = termios.tcgetattr(self.pty.slave)  # what the tty really got
        self.assertEqual((attrs[4], attrs[5]), (termios.B9600, termios.B9600))
        self.assertEqual(attrs[2] & (termios.CSIZE | termios.PARENB | termios.CSTOPB), termios.CS8)

    def test_board_baud_rate(self):
        self.open(relay_board(self.pty.device, baud_rate=19200))
        self.assertEqual(termios.tcgetattr(self.pty.slave)[4], termios.B19200)

    def test_says_what_it_cannot_do(self):
        text = " ".join(self.open(relay_board(self.pty.device)).unsupported)
        for word in ("inputs", "serial ports", "read-back"):
            self.assertIn(word, text)

    def test_inputs_or_serial_ports_are_refused(self):
        for field in ("inputs", "serial_ports"):
            board = relay_board(self.pty.device, **{field: [{"token": "X", "channel": 3}]})
            with self.assertRaisesRegex(HalError, field):
                open_hal(board, self.loop)
        self.assertEqual(self.pty.received(), b"", "refused before opening the device")

    def test_a_device_that_cannot_be_opened_is_named(self):
        with self.assertRaisesRegex(HalError, "/dev/no-such-relay-board"):
            open_hal(relay_board("/dev/no-such-relay-board"), self.loop)

    def test_an_unplugged_board_fails_the_command_naming_the_device(self):
        hal = self.open(relay_board(self.pty.device))
        self.pty.unplug()
        with self.assertRaisesRegex(HalError, "%s: write failed" % self.pty.device):
            hal.relays[0].set_closed(True)
        self.assertEqual(hal.relays[0].closed, None, "a failed command changes no state")

    def fill(self, hal):
        """Command until the kernel's buffer is full and a frame stays queued; how many sent."""
        relay, sent = hal.relays[0], 0
        while not hal.link.pending:
            sent += 1
            relay.set_closed(sent % 2 == 1)
        return sent

    def test_a_full_buffer_queues_the_rest_and_the_loop_flushes_it(self):
        hal = self.open(relay_board(self.pty.device, relays=((5, "NO"),)))
        sent = self.fill(hal)
        self.assertTrue(0 < len(hal.link.pending) <= 4, hal.link.pending)
        for _ in range(100):
            self.pty.received()  # the board reads: room again
            self.loop.run_once(0)
            if not hal.link.pending:
                break
        frames = self.pty.frames()
        self.assertEqual(len(frames), 1 + sent, "the release at start, then every command whole")
        self.assertEqual(frames[-1], (5, sent % 2 == 1))
        self.assertFalse(hal.link.waiting, "the port is watched only while bytes are owed")

    def test_a_stalled_board_refuses_commands_beyond_the_queue(self):
        hal = self.open(relay_board(self.pty.device))
        self.fill(hal)
        with self.assertRaisesRegex(HalError, "not accepting commands"):
            for _ in range(usbrelay.MAX_QUEUED // 4 + 1):
                hal.relays[1].set_closed(True)

    def test_a_failure_while_flushing_is_logged_and_the_next_command_fails(self):
        hal = self.open(relay_board(self.pty.device))
        self.fill(hal)
        lines = []
        log.set_stream(type("Sink", (), {"write": lambda _, line: lines.append(line)})())
        self.addCleanup(log.set_stream, None)
        self.pty.unplug()
        self.loop.run_once(0)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("%s: write failed" % self.pty.device, lines[0])
        self.assertFalse(hal.link.waiting)
        with self.assertRaisesRegex(HalError, self.pty.device):
            hal.relays[0].set_closed(True)


if __name__ == "__main__":
    unittest.main()


class ReconnectTest(unittest.TestCase):
    """A board unplugged and plugged in again behind a stable link (as /dev/serial/by-id/...)."""

    def setUp(self):
        self.clock = Clock(now=0)
        self.loop = Loop(clock=self.clock)
        self.addCleanup(self.loop.close)
        self.link = scratch_dir() + "/usb-relay"
        self.pty = self.plug()
        lines = []
        log.set_stream(type("Sink", (), {"write": lambda _, line: lines.append(line)})())
        self.addCleanup(log.set_stream, None)
        self.lines = lines

    def plug(self):
        pty = PtyBoard()
        self.addCleanup(pty.close)
        if os.path.lexists(self.link):
            os.remove(self.link)
        os.symlink(pty.device, self.link)
        return pty

    def after(self, ms):
        self.clock.now += ms
        self.loop.run_once(0)

    def test_the_board_is_reopened_and_every_relay_commanded_again(self):
        hal = open_hal(relay_board(self.link, relays=((1, "NO"), (2, "NO"))), self.loop)
        self.addCleanup(hal.close)
        hal.relays[0].set_closed(True)
        self.pty.unplug()
        with self.assertRaisesRegex(HalError, "write failed"):
            hal.relays[1].set_closed(True)
        with self.assertRaisesRegex(HalError, "unplugged, reconnecting"):
            hal.relays[1].set_closed(True)
        self.after(usbrelay.RECONNECT_MS)  # still unplugged: the next try is scheduled
        os.remove(self.link)
        self.after(usbrelay.RECONNECT_MS)
        self.pty = self.plug()
        self.after(usbrelay.RECONNECT_MS - 1)
        self.assertIsNone(hal.link.port, "not before the timer")
        self.after(1)
        self.assertEqual(sorted(self.pty.frames()), [(1, True), (2, False)],
                         "the states last commanded, not the failed command")
        hal.relays[1].set_closed(True)
        self.assertEqual(self.pty.frames()[-1], (2, True))
        self.assertTrue(any("reconnected" in line for line in self.lines), self.lines)

    def test_closing_while_unplugged_stops_the_retries(self):
        hal = open_hal(relay_board(self.link), self.loop)
        self.pty.unplug()
        with self.assertRaises(HalError):
            hal.relays[0].set_closed(True)
        hal.close()
        self.assertIsNone(hal.link.reconnect)
        self.assertEqual(self.loop.next_timeout(), -1, "no timer left")
