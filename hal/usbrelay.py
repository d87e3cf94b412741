"""Generic CH340 / LCUS USB relay boards: 4-byte command frames over a USB serial port (pyserial).

CPython only. Each relay is a channel of the board; a command is `A0 <channel> <state> <sum>`
(state 01 energizes the coil, 00 releases it, sum = the low byte of the three before it), sent at
9600 baud 8N1 unless the board file's top-level "baud_rate" says otherwise.

Board fields: top-level "device" (the serial port, e.g. "/dev/ttyUSB0": a local port,
polled for room to write) and
optional "baud_rate"; each relay's "channel" (1..8).

An unplugged board (a failed write) is reopened every RECONNECT_MS from a loop timer; once back,
every relay is commanded again to its last state, since a board that lost power has released
them all. Commands meanwhile fail with a HalError (the client gets a fault, never a fake success).
Name the port by a stable link such as /dev/serial/by-id/... so a replugged board is found again.

Writing never waits (hal.base): the kernel takes a 4-byte frame at once in practice, but when its
buffer is full the frame stays queued here and is flushed when the loop sees the port writable.
pyserial's write with write_timeout=0 does not return 0 when the kernel refuses everything, it
retries in a busy loop, so the port is written only when poll reports room (POLLOUT means room
for at least one byte: the write then returns at once, maybe partially).
"""

import select

import serial

from agent import log
from agent.loop import POLLOUT
from hal.base import Hal, HalError, RelayOutput

BAUD_RATE = 9600
FRAME_START = 0xA0
MAX_QUEUED = 64  # bytes (16 frames) a stalled board may owe before commands are refused
RECONNECT_MS = 2000

UNSUPPORTED = [
    "digital inputs: USB relay boards have none",
    "serial ports: the board's serial line carries its own relay commands only",
    "relay state read-back: the board cannot report its relays; the state shown is the last "
    "one commanded",
]


def frame(channel, on):
    """The command that energizes (`on`) or releases the coil of relay `channel`."""
    state = 1 if on else 0
    return bytes((FRAME_START, channel, state, (FRAME_START + channel + state) & 0xFF))


class RelayBoard:
    """The serial line to one board, shared by its relays: a queue of bytes not yet written,
    and the state last commanded per channel (to command again after a reconnection)."""

    def __init__(self, device, baud_rate, loop):
        self.device = device
        self.baud_rate = baud_rate
        self.loop = loop
        self.pending = b""
        self.waiting = False  # registered with the loop for POLLOUT
        self.commanded = {}   # channel -> energized, as last accepted
        self.reconnect = None  # the reopen timer while unplugged
        self.port = None
        try:
            self._open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise HalError("USB relay board %s: cannot open: %s" % (device, exc))

    def _open(self):
        self.port = serial.serial_for_url(self.device, self.baud_rate, timeout=0,
                                          write_timeout=0)
        self.room = select.poll()
        self.room.register(self.port.fileno(), POLLOUT)

    def command(self, channel, on):
        """Energize or release the coil of `channel`; HalError when the board is unplugged or
        has stopped taking bytes."""
        if self.port is None:
            raise HalError("USB relay board %s: unplugged, reconnecting" % self.device)
        data = frame(channel, on)
        if len(self.pending) + len(data) > MAX_QUEUED:
            raise HalError("USB relay board %s: not accepting commands (%d bytes still queued)"
                           % (self.device, len(self.pending)))
        self.pending += data
        self.flush()
        self.commanded[channel] = on

    def flush(self):
        try:
            while self.pending and self.room.poll(0):
                taken = self.port.write(self.pending)
                self.pending = self.pending[taken:]
        except (serial.SerialException, OSError) as exc:
            self._lost()
            raise HalError("USB relay board %s: write failed: %s" % (self.device, exc))
        self._wait(bool(self.pending))

    def _lost(self):
        """The board is gone: drop the port and what it owed, try again on a timer."""
        self.pending = b""
        self._wait(False)
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
        self.port = None
        self.reconnect = self.loop.call_later(RECONNECT_MS, self._reopen)

    def _reopen(self):
        try:
            self._open()
        except (serial.SerialException, OSError, ValueError):
            self.port = None
            self.reconnect = self.loop.call_later(RECONNECT_MS, self._reopen)
            return
        self.reconnect = None
        log.info("USB relay board %s: reconnected, relays commanded again", self.device)
        try:
            for channel, on in self.commanded.items():
                self.command(channel, on)
        except HalError as exc:
            log.error("%s", exc)  # lost again at once: _lost has scheduled the next try

    def _wait(self, wanted):
        if wanted and not self.waiting:
            self.loop.register(self.port, POLLOUT, self._writable)
        elif self.waiting and not wanted:
            self.loop.unregister(self.port)
        self.waiting = wanted

    def _writable(self, events):
        # A failure here has no caller to answer: log it; the next command reports it again.
        # (POLLHUP and POLLERR need no case of their own: the write then fails.)
        try:
            self.flush()
        except HalError as exc:
            log.error("%s (reconnecting every %d s)", exc, RECONNECT_MS // 1000)

    def close(self):
        if self.reconnect is not None:
            self.reconnect.cancel()
            self.reconnect = None
        if self.port is None:
            return
        self._wait(False)
        if self.pending:
            log.warning("USB relay board %s: closed with %d bytes of commands unsent",
                        self.device, len(self.pending))
        self.port.close()


class ChannelRelay(RelayOutput):
    """One channel of a RelayBoard."""

    def __init__(self, spec, board):
        super().__init__(spec)
        self.channel = spec["channel"]
        self.board = board

    def energize(self, on):
        self.board.command(self.channel, on)

    def close(self):
        try:
            self.energize(False)
        except HalError:
            pass  # unplugged: nothing left to release


class UsbRelayHal(Hal):
    name = "usbrelay"

    def __init__(self, board, loop):
        super().__init__(board, loop)
        self.unsupported = list(UNSUPPORTED)
        for field in ("inputs", "serial_ports"):
            if board.get(field):
                raise HalError('USB relay board %s: "%s" is not possible, the board has none'
                               % (board["device"], field))
        self.link = RelayBoard(board["device"], board.get("baud_rate", BAUD_RATE), loop)
        try:
            for spec in board.get("relays", []):
                relay = ChannelRelay(spec, self.link)
                relay.energize(False)  # a known state: every coil released at start
                self.relays.append(relay)
        except HalError:
            self.link.close()
            raise

    def close(self):
        super().close()  # each relay queues its release first
        self.link.close()


def create(board, loop, state_dir=None):
    return UsbRelayHal(board, loop)
