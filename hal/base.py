"""The one small interface every hardware family implements (relays, inputs, serial ports).

Runtime-neutral: this module is imported on CPython and on MicroPython boards alike.

The agent talks to hardware only through these classes. Each HAL module (hal/sim.py,
hal/pi.py, ...) defines `create(board, loop, state_dir=None)` returning a `Hal` whose lists hold
its subclasses of `RelayOutput`, `DigitalInput` and `SerialPort`, built from the board definition
(docs: boards/README.md); `state_dir` is the agent's writable folder (the simulator puts its
control socket there). Rules every backend keeps (DEVELOPERS.md, issue 6):

- Everything runs on the agent's one loop thread. A backend whose library calls back from
  another thread (gpiozero) or an IRQ only hands a callable to `loop.call_soon_threadsafe`;
  it never touches agent state itself.
- Nothing sleeps or blocks: relay pulses are the DeviceIO service's loop timers, software
  debounce is a loop timer here, serial I/O is non-blocking, RS-485 direction is left to the
  kernel's rs485 mode or an auto-direction transceiver.
- What a board cannot do is reported (`Hal.unsupported`, `SerialPort.direction`), never faked.

Physical words only: a relay contact is *closed* or open, an input contact is *closed* or
open. The ONVIF logical states (active/inactive, IdleState) are mapped in agent.deviceio.
"""

from agent.errors import AgentError

SERIAL_TYPES = ("RS232", "RS422HalfDuplex", "RS422FullDuplex", "RS485HalfDuplex",
                "RS485FullDuplex", "Generic")  # tmd:SerialPortType
PARITIES = ("None", "Even", "Odd", "Mark", "Space")  # tmd:ParityBit, minus "Extended"
DEFAULT_DEBOUNCE_MS = 20   # door contacts and push buttons bounce for a few milliseconds
POLL_MS = 10               # period of backends that sample pins or UARTs on a timer


class HalError(AgentError):
    """The hardware refused or failed an operation (a USB board unplugged, a busy GPIO line).
    The DeviceIO service answers it with env:Receiver; the agent keeps running."""


class RelayOutput:
    """One relay. `set_closed()` is the only operation; the backend implements `energize()`.

    Board fields (checked by agent.board): "token", the backend's address field ("pin",
    "channel"), "contact" "NO" (default: the contact closes when the coil is energized) or "NC".
    """

    def __init__(self, spec):
        self.spec = spec
        self.token = spec["token"]
        self.normally_closed = spec.get("contact", "NO") == "NC"
        self.closed = None  # last commanded contact state; None until first set

    def set_closed(self, closed):
        """Close or open the contact; raises HalError when the hardware fails."""
        self.energize(closed != self.normally_closed)
        self.closed = closed

    def energize(self, on):
        raise NotImplementedError

    def close(self):
        """Release the pin or channel (the coil is left de-energized where possible)."""


class DigitalInput:
    """One input contact. `read()` samples it; changes reach `listener(closed)` on the loop.

    Backends implement `read()` (True when the contact is closed, whatever the wiring: pull-ups
    and active-low levels are the backend's business) and call `edge()` on the loop thread
    whenever the level may have moved. The base class debounces in software unless the
    backend sets `debounced = True` (the kernel or library already does it), and reports each
    settled change exactly once.

    Board fields: "token", the address field ("pin"), "pull" "up" (default), "down" or "off",
    "debounce_ms" (default DEFAULT_DEBOUNCE_MS).
    """

    debounced = False  # True when the backend's library or kernel debounces already

    def __init__(self, spec, loop):
        self.spec = spec
        self.loop = loop
        self.token = spec["token"]
        self.debounce_ms = spec.get("debounce_ms", DEFAULT_DEBOUNCE_MS)
        self.listener = None   # set by the agent: listener(closed)
        self.reported = None   # last state given to the listener
        self._settle = None

    def read(self):
        raise NotImplementedError

    def start(self):
        """Take the current state as the starting point (no event for it)."""
        self.reported = self.read()

    def edge(self, closed=None):
        """The backend saw the level move: report it once it has settled. A backend whose
        event says which way it went (a kernel edge event) passes `closed`: two edges read
        in one go must stay two changes, not collapse into one read of the level."""
        if self.debounced or not self.debounce_ms:
            self._report(closed)
            return
        if self._settle is not None:
            self._settle.cancel()  # still bouncing: wait a full period from the last edge
        self._settle = self.loop.call_later(self.debounce_ms, self._report)

    def _report(self, closed=None):
        self._settle = None
        if closed is None:
            closed = self.read()
        if closed == self.reported:
            return  # a bounce that came back, or a glitch shorter than the debounce time
        self.reported = closed
        if self.listener is not None:
            self.listener(closed)

    def close(self):
        if self._settle is not None:
            self._settle.cancel()
            self._settle = None


class SerialPort:
    """One serial port, non-blocking both ways.

    Board fields: "token", "device" (path, UART id, ...), "type" (one of SERIAL_TYPES),
    "baud_rate", "parity", "character_length", "stop_bits" (the start configuration) and
    optionally "baud_rates", "parities", "character_lengths", "stop_bit_list" (the options;
    defaults below, narrowed by backends that support less).
    `direction` tells how RS-485 half-duplex direction is switched: "kernel" (the driver's
    rs485 mode), "auto" (the transceiver does it), or None for full-duplex/RS-232 ports.
    """

    BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
    CHARACTER_LENGTHS = (7, 8)
    STOP_BITS = (1.0, 2.0)

    def __init__(self, spec):
        self.spec = spec
        self.token = spec["token"]
        self.type = spec.get("type", "RS232")
        self.direction = spec.get("direction")
        self.options = {
            "baud_rates": list(spec.get("baud_rates", self.BAUD_RATES)),
            "parities": list(spec.get("parities", PARITIES[:3])),
            "character_lengths": list(spec.get("character_lengths", self.CHARACTER_LENGTHS)),
            "stop_bits": [float(b) for b in spec.get("stop_bit_list", self.STOP_BITS)],
        }
        self.config = {
            "baud_rate": spec.get("baud_rate", 9600),
            "parity": spec.get("parity", "None"),
            "character_length": spec.get("character_length", 8),
            "stop_bits": float(spec.get("stop_bits", 1)),
        }

    def allows(self, config):
        """True when every value of `config` (keys as in `self.config`) is among the options."""
        option_of = {"baud_rate": "baud_rates", "parity": "parities",
                     "character_length": "character_lengths", "stop_bits": "stop_bits"}
        for key, value in config.items():
            if value not in self.options[option_of[key]]:
                return False
        return True

    def configure(self, config):
        """Apply a full configuration (already checked with `allows`); HalError on failure."""
        self.apply(config)
        self.config = dict(config)

    def apply(self, config):
        raise NotImplementedError

    def pollable(self):
        """An object or file descriptor `select.poll` can watch for POLLIN, or None when the
        agent must call `read()` every POLL_MS instead."""
        return None

    def read(self, limit):
        """Up to `limit` bytes that have arrived, b"" when none; never waits."""
        raise NotImplementedError

    def write(self, data):
        """Queue or send `data` without waiting; returns how many bytes were taken."""
        raise NotImplementedError

    def discard_input(self):
        """Drop bytes that arrived before a command (a stale reply must not answer it)."""
        while self.read(256):
            pass

    def close(self):
        pass


class Hal:
    """A board's hardware. `unsupported` lists, in words, what this board cannot do."""

    name = ""

    def __init__(self, board, loop):
        self.board = board
        self.loop = loop
        self.relays = []
        self.inputs = []
        self.serial_ports = []
        self.unsupported = []

    def start(self):
        """Begin watching inputs (listeners are set by now)."""
        for line in self.inputs:
            line.start()

    def close(self):
        for part in self.relays + self.inputs + self.serial_ports:
            try:
                part.close()
            except Exception:  # releasing one line must not keep the others held
                pass


def assemble(hal, build):
    """`build(hal)` fills the hal's lists; if it fails, everything claimed so far is released
    (a retry, or another program, must find the pins and lines free) and the error goes on."""
    try:
        build(hal)
    except Exception:
        hal.close()
        raise
    return hal
