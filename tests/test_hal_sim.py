"""hal.sim: the conformance suite against the simulator itself (its relays and inputs are the
fake; a serial port's far end is the pty slave, opened as an attached tool would), and what is
particular to pseudo-terminals: raw bytes, termios settings seen by the tool, EIO and EAGAIN."""

import errno
import os
import select
import struct
import termios
import time
import tty
import unittest

from agent.board import load_board
from agent.errors import ConfigError
from agent.loop import POLLIN, Loop
from hal import open_hal
from hal.base import HalError
from hal.sim import PtySerialPort, SimHal
from tests.hal_conformance import HalConformance
from tests.modbus_peer import ModbusPeer, modbus_crc, read_registers_request

BOARD = {
    "name": "sim-test", "hal": "sim",
    "relays": [{"token": "R1"}, {"token": "R2", "contact": "NC"}],
    "inputs": [{"token": "IN1"}, {"token": "IN2"}],
    "serial_ports": [{"token": "S1", "device": "pty", "type": "RS485HalfDuplex"}],
}
PORT = BOARD["serial_ports"][0]


class PtyPeer:
    """What an RS-485 simulator attached to the slave path does: open it non-blocking and, as
    pyserial does, raw (`raw=False`: a tool that trusts the simulator's settings)."""

    def __init__(self, path, raw=True):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        if raw:
            tty.setraw(self.fd)

    def send(self, data):
        os.write(self.fd, data)

    def receive(self):
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""

    def close(self):
        os.close(self.fd)


def receive_all(read, expected_length):
    """Bytes from `read()` until `expected_length` arrived or 2 s passed (the kernel moves pty
    bytes on a work queue, a little later than the write)."""
    got = b""
    deadline = time.monotonic() + 2
    while len(got) < expected_length and time.monotonic() < deadline:
        got += read()
        time.sleep(0.001)
    return got


class SimConformance(HalConformance, unittest.TestCase):
    def board(self):
        return BOARD

    def make_hal(self, board, loop):
        hal = SimHal(board, loop)
        self.peers = []
        self.descriptors = [fd for port in hal.serial_ports
                            for fd in (port.master_fd, port.slave_fd)]
        return hal

    def tearDown(self):
        for peer in self.peers:
            peer.close()
        super().tearDown()

    def relay_energized(self, hal, index):
        return hal.relays[index].energized

    def set_input(self, hal, index, closed):
        hal.inputs[index].set(closed)

    def serial_peer(self, hal, index):
        peer = PtyPeer(hal.serial_ports[index].path)
        self.peers.append(peer)
        return peer

    def released(self, hal):
        for fd in self.descriptors:
            try:
                os.fstat(fd)
                return False
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    raise
        return True

    def pump(self, ms=0):
        super().pump(ms)
        time.sleep(0.001)  # the pty's bytes travel on a kernel work queue, in real time


class SimHalTest(unittest.TestCase):
    def setUp(self):
        self.loop = Loop()
        self.hal = open_hal(BOARD, self.loop)
        self.port = self.hal.serial_ports[0]
        self.peer = PtyPeer(self.port.path, raw=False)

    def tearDown(self):
        self.peer.close()
        self.hal.close()
        self.loop.close()

    def test_open_hal_picks_the_simulator_which_lacks_nothing(self):
        self.assertTrue(isinstance(self.hal, SimHal))
        self.assertEqual(self.hal.unsupported, [])
        self.assertEqual(self.hal.control_path, None)  # no state dir, no control socket

    def test_the_desktop_board_opens_on_the_simulator(self):
        hal = open_hal(load_board("desktop"), self.loop)
        try:
            self.assertTrue(isinstance(hal, SimHal))
            for port in hal.serial_ports:
                self.assertTrue(os.path.exists(port.path))
        finally:
            hal.close()

    def test_inputs_start_open_and_nc_relays_closed(self):
        self.hal.start()
        self.assertEqual([line.read() for line in self.hal.inputs], [False, False])
        self.assertEqual(self.hal.state_line(), "IN1=open IN2=open R1=open R2=closed")
        self.hal.relays[0].set_closed(True)
        self.hal.relays[1].set_closed(False)
        self.hal.inputs[1].set(True)
        self.assertEqual(self.hal.state_line(), "IN1=open IN2=closed R1=closed R2=open")

    def test_the_path_is_a_real_terminal_the_master_polls(self):
        self.assertTrue(self.port.path.startswith("/dev/"))
        self.assertTrue(os.isatty(self.peer.fd))
        self.assertEqual(os.ttyname(self.peer.fd), self.port.path)
        self.assertEqual(self.port.pollable(), self.port.master_fd)
        poller = select.poll()
        poller.register(self.port.pollable(), select.POLLIN)
        self.assertEqual(poller.poll(0), [])
        self.peer.send(b"x")
        self.assertEqual(poller.poll(2000), [(self.port.master_fd, select.POLLIN)])

    def test_raw_mode_passes_every_byte_unchanged(self):
        # No CR/LF translation, no echo, no ^C, ^D, XON/XOFF or 0xff handling, either way.
        data = bytes(range(256))
        self.assertEqual(self.port.write(data), len(data))
        self.assertEqual(receive_all(self.peer.receive, len(data)), data)
        self.peer.send(data)
        self.assertEqual(receive_all(lambda: self.port.read(64), len(data)), data)
        time.sleep(0.01)
        self.assertEqual(self.peer.receive(), b"", "nothing echoed back")

    def test_the_attached_tool_sees_the_line_settings(self):
        config = dict(self.port.config, baud_rate=115200, stop_bits=2.0, parity="Even")
        self.port.configure(config)
        attrs = termios.tcgetattr(self.peer.fd)
        self.assertEqual((attrs[4], attrs[5]), (termios.B115200, termios.B115200))
        self.assertTrue(attrs[2] & termios.CSTOPB)
        # Linux's pty keeps only the speed and stop bits (it forces CS8, no parity).
        self.port.configure(dict(config, baud_rate=1200, stop_bits=1.0))
        attrs = termios.tcgetattr(self.peer.fd)
        self.assertEqual(attrs[4], termios.B1200)
        self.assertFalse(attrs[2] & termios.CSTOPB)

    def test_a_speed_termios_lacks_is_a_hal_error(self):
        with self.assertRaises(HalError):
            self.port.apply(dict(self.port.config, baud_rate=123))
        self.assertEqual(termios.tcgetattr(self.peer.fd)[4], termios.B9600, "left as it was")

    def test_a_full_slave_queue_takes_nothing_instead_of_blocking(self):
        taken = [self.port.write(b"\0" * 4096) for _ in range(256)]
        self.assertEqual(taken[-1], 0)
        self.assertTrue(sum(taken) > 0)

    def test_the_tool_leaving_is_no_hangup(self):
        self.peer.send(b"bye")
        self.assertEqual(receive_all(lambda: self.port.read(64), 3), b"bye")
        self.peer.close()
        self.peer = PtyPeer(self.port.path, raw=False)  # for tearDown; reattaching works too
        poller = select.poll()
        poller.register(self.port.master_fd, select.POLLIN)
        self.assertEqual(poller.poll(10), [])
        self.assertEqual(self.port.read(64), b"")

    def test_no_slave_open_reads_as_nothing(self):
        # Replace the simulator's own slave descriptor too: now no slave end is open at all,
        # and Linux answers reads on the master with EIO.
        self.peer.close()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, self.port.slave_fd)
        os.close(devnull)
        try:
            with self.assertRaises(OSError) as raised:
                os.read(self.port.master_fd, 1)
            self.assertEqual(raised.exception.errno, errno.EIO)
            self.assertEqual(self.port.read(64), b"")
        finally:
            self.peer = PtyPeer(self.port.path, raw=False)

    def test_other_read_errors_are_hal_errors(self):
        port = PtySerialPort(PORT)
        master = port.master_fd
        port.master_fd = os.open(os.devnull, os.O_WRONLY)  # EBADF for reads
        try:
            with self.assertRaises(HalError):
                port.read(1)
        finally:
            port.close()
            os.close(master)

    def test_close_is_idempotent_and_frees_both_ends(self):
        port = PtySerialPort(PORT)
        fds = (port.master_fd, port.slave_fd)
        port.close()
        port.close()
        for fd in fds:
            with self.assertRaises(OSError):
                os.fstat(fd)

    def test_serial_ports_must_be_ptys(self):
        board = dict(BOARD, serial_ports=[PORT, {"token": "S2", "device": "/dev/ttyUSB0"}])
        with self.assertRaises(ConfigError) as raised:
            SimHal(board, self.loop)
        self.assertTrue("S2" in str(raised.exception))


class PymodbusRtuServerTest(unittest.TestCase):
    """The use the pty is for: a pymodbus RTU server attached to the printed path answers the
    agent's request, which goes out and comes back through the agent's own loop."""

    def setUp(self):
        self.loop = Loop()
        self.hal = SimHal(dict(BOARD, serial_ports=[dict(PORT, baud_rate=19200)]), self.loop)
        self.port = self.hal.serial_ports[0]
        self.peer = ModbusPeer(self.port.path, 19200)

    def tearDown(self):
        self.peer.close()
        self.hal.close()
        self.loop.close()

    def test_read_holding_registers(self):
        request = read_registers_request(1, 0, 2)
        self.assertEqual(self.port.write(request), 8)
        received = []
        self.loop.register(self.port.pollable(), POLLIN,
                           lambda events: received.append(self.port.read(64)))
        deadline = time.monotonic() + 5
        while len(b"".join(received)) < 9 and time.monotonic() < deadline:
            self.loop.run_once(50)
        self.loop.unregister(self.port.pollable())
        reply = b"".join(received)
        self.assertEqual(reply[:7], bytes([1, 3, 4]) + struct.pack(">HH", 1234, 5678))
        self.assertEqual(reply[7:], modbus_crc(reply[:7]))


if __name__ == "__main__":
    unittest.main()
