"""hal.serialport.PySerialPort on a pseudo-terminal pair and pyserial's loop:// URL: bytes both
ways, configuration reaching the tty, writes that take what fits and never wait, the RS-485
direction modes and the errors that name the port. CPython only (pyserial, ptys, termios)."""

import os
import select
import signal
import termios
import tty
import unittest
from unittest import mock

import serial
import serial.rs485

from hal.base import HalError
from hal.serialport import PySerialPort


class PtyPeer:
    """The far end of a pseudo-terminal: what a device wired to the port sends and hears.
    Also the `serial_peer` of the Pi and BeagleBone conformance tests."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def send(self, data):
        os.write(self.master, data)

    def receive(self):
        try:
            return os.read(self.master, 65536)
        except BlockingIOError:
            return b""

    def wait_readable(self, seconds=1.0):
        return bool(select.select([self.master], [], [], seconds)[0])

    def hang_up(self):
        """The far end goes away (a cable pulled, an adapter unplugged)."""
        os.close(self.master)
        self.master = None

    def close(self):
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)


class RealTimePump:
    """Mix-in for conformance tests whose serial port is a pty: the kernel hands pty bytes over
    from a work queue, so each pump also polls the loop for a real millisecond."""

    def pump(self, ms=0):
        self.loop.run_once(1)
        super().pump(ms)


def port_spec(device, **fields):
    spec = {"token": "S1", "device": device, "type": "RS232"}
    spec.update(fields)
    return spec


def wait_readable(fd, seconds=1.0):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(seconds * 1000))


class PtyPortTest(unittest.TestCase):
    def setUp(self):
        self.peer = PtyPeer()
        self.addCleanup(self.peer.close)
        self.port = PySerialPort(port_spec(self.peer.path))
        self.addCleanup(self.port.close)

    def read_all(self, want):
        got = b""
        while len(got) < want and wait_readable(self.port.pollable()):
            got += self.port.read(want - len(got))
        return got

    def test_bytes_flow_both_ways(self):
        self.assertEqual(self.port.read(64), b"", "nothing has arrived: no waiting either")
        self.assertEqual(self.port.write(b"\x01\x03ping\r\n"), 8)
        got = b""
        while len(got) < 8 and self.peer.wait_readable():
            got += self.peer.receive()
        self.assertEqual(got, b"\x01\x03ping\r\n", "raw mode: no CR/LF translation, no echo")
        self.peer.send(b"pong\x00\xff")
        self.assertEqual(self.read_all(6), b"pong\x00\xff")

    def test_pollable_is_the_descriptor_the_loop_watches(self):
        fd = self.port.pollable()
        self.assertTrue(isinstance(fd, int))
        self.assertFalse(wait_readable(fd, 0.05))
        self.peer.send(b"x")
        self.assertTrue(wait_readable(fd))
        self.assertEqual(self.port.read(64), b"x")

    def test_configure_reaches_the_tty(self):
        wanted = dict(self.port.config, baud_rate=19200, stop_bits=2.0)
        self.port.configure(wanted)
        attrs = termios.tcgetattr(self.peer.slave)
        self.assertEqual(attrs[4:6], [termios.B19200, termios.B19200])
        self.assertTrue(attrs[2] & termios.CSTOPB)
        self.assertEqual(self.port.config, wanted)

    def test_a_refused_configuration_changes_nothing(self):
        good = dict(self.port.config)
        # pyserial takes the baud rate first, then refuses the character length.
        with self.assertRaises(HalError) as raised:
            self.port.configure(dict(good, baud_rate=57600, character_length=9))
        self.assertIn("S1", str(raised.exception))
        self.assertEqual(termios.tcgetattr(self.peer.slave)[4], termios.B9600)
        self.assertEqual(self.port.config, good)

    def test_writes_take_what_fits_and_never_wait(self):
        # pyserial's own non-blocking write spins on a full buffer: the alarm turns that
        # hang into a failure.
        def hung(signum, frame):
            raise AssertionError("write() waited for room in the tty buffer")
        previous = signal.signal(signal.SIGALRM, hung)
        self.addCleanup(signal.signal, signal.SIGALRM, previous)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_REAL, 5)
        pattern = bytes(range(251)) * 17  # every write starts it over: a partial one shows cut
        taken = []
        for _ in range(1000):
            taken.append(self.port.write(pattern))
            if taken[-1] == 0:
                break
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.assertEqual(taken[-1], 0, "the tty buffer never filled up")
        sent = b"".join(pattern[:n] for n in taken)
        arrived = b""
        while len(arrived) < len(sent) and self.peer.wait_readable(2):
            arrived += self.peer.receive()
        self.assertFalse(self.peer.wait_readable(0.05))
        self.assertEqual(arrived, sent, "exactly the bytes counted as taken went out")
        self.assertEqual(self.port.write(b"again"), 5, "room again once the far end read")

    def test_a_hung_up_line_fails_reads_with_the_ports_name(self):
        self.peer.hang_up()
        with self.assertRaises(HalError) as raised:
            self.port.read(64)
        self.assertIn(self.peer.path, str(raised.exception))

    def test_a_port_is_opened_exclusively(self):
        with self.assertRaises(HalError) as raised:
            PySerialPort(port_spec(self.peer.path, token="S2"))
        self.assertIn("S2", str(raised.exception))
        self.assertIn(self.peer.path, str(raised.exception))


class Rs485DirectionTest(unittest.TestCase):
    def setUp(self):
        self.peer = PtyPeer()
        self.addCleanup(self.peer.close)

    def test_kernel_direction_on_a_uart_without_rs485_is_refused_by_name(self):
        # A pty answers TIOCGRS485 with ENOTTY, as a UART whose driver lacks rs485 does.
        spec = port_spec(self.peer.path, type="RS485HalfDuplex", direction="kernel")
        with self.assertRaises(HalError) as raised:
            PySerialPort(spec)
        message = str(raised.exception)
        self.assertIn("S1", message)
        self.assertIn(self.peer.path, message)
        self.assertIn("auto", message)
        PySerialPort(port_spec(self.peer.path)).close()  # the refused port was not left open

    def test_kernel_direction_on_a_url_port_is_refused(self):
        # pyserial's loop:// ignores rs485_mode silently: that must not pass for "kernel".
        with self.assertRaises(HalError):
            PySerialPort(port_spec("loop://", direction="kernel"))

    def test_kernel_direction_asks_the_driver_through_rs485_mode(self):
        spec = port_spec(self.peer.path, type="RS485HalfDuplex", direction="kernel")
        with mock.patch.object(serial.Serial, "_set_rs485_mode") as ioctl:
            port = PySerialPort(spec)
        self.addCleanup(port.close)
        settings = ioctl.call_args[0][0]
        self.assertTrue(isinstance(settings, serial.rs485.RS485Settings))
        self.assertTrue(settings.rts_level_for_tx)
        self.assertFalse(settings.rts_level_for_rx)
        self.assertIs(port.port.rs485_mode, settings)
        self.assertIs(type(port.port), serial.Serial, "never pyserial's sleeping RS485 class")
        self.assertEqual(port.direction, "kernel")

    def test_auto_and_full_duplex_leave_the_driver_alone(self):
        for direction in ("auto", None):
            spec = port_spec(self.peer.path, type="RS485HalfDuplex", direction=direction)
            with mock.patch.object(serial.Serial, "_set_rs485_mode") as ioctl:
                port = PySerialPort(spec)
            port.close()
            self.assertFalse(ioctl.called, direction)
            self.assertEqual(port.port.rs485_mode, None)
            self.assertEqual(port.direction, direction)


class UrlPortTest(unittest.TestCase):
    """pyserial URLs other than device paths: no descriptor, settings kept by pyserial."""

    def setUp(self):
        self.port = PySerialPort(port_spec("loop://"))
        self.addCleanup(self.port.close)

    def test_no_descriptor_so_the_agent_polls(self):
        self.assertEqual(self.port.pollable(), None)
        self.assertEqual(self.port.read(64), b"")

    def test_a_write_timeout_takes_nothing_instead_of_failing(self):
        # loop:// counts any write as too slow for write_timeout=0 (SerialTimeoutException).
        self.assertEqual(self.port.write(b"ping"), 0)

    def test_parity_names_and_sizes_map_to_pyserial(self):
        expected = {"None": serial.PARITY_NONE, "Even": serial.PARITY_EVEN,
                    "Odd": serial.PARITY_ODD, "Mark": serial.PARITY_MARK,
                    "Space": serial.PARITY_SPACE}
        for name, letter in expected.items():
            config = {"baud_rate": 4800, "parity": name, "character_length": 7,
                      "stop_bits": 1.5}
            self.port.configure(config)
            self.assertEqual((self.port.port.baudrate, self.port.port.parity,
                              self.port.port.bytesize, self.port.port.stopbits),
                             (4800, letter, 7, serial.STOPBITS_ONE_POINT_FIVE))

    def test_a_parity_pyserial_lacks_is_a_hal_error(self):
        with self.assertRaises(HalError):
            self.port.configure(dict(self.port.config, parity="Extended"))


class OpenFailureTest(unittest.TestCase):
    def test_a_missing_device_names_the_token_and_the_device(self):
        with self.assertRaises(HalError) as raised:
            PySerialPort(port_spec("/dev/ttyNOPE9", token="RS485-bus"))
        self.assertIn("RS485-bus", str(raised.exception))
        self.assertIn("/dev/ttyNOPE9", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
