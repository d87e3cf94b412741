"""A fake of MicroPython's `machine` module (Pin, UART, RTC) for hal.micropython's tests.

Portable: installed as sys.modules["machine"] on CPython and inside MicroPython's WebAssembly
build alike (neither has a real one). It keeps the signatures and the quirks the HAL relies on:
`Pin(id, mode, pull, *, value=...)`, a refused pin id raises ValueError, `UART.read()` returns
None when nothing arrived and `UART.write()` returns None when it took nothing.
Tests see every object made (`pins`, `uarts`) and play the wiring and the far end of the line.
"""

BAD_PIN = 99    # the id a port refuses
UART_IDS = (0, 1, 2)

pins = {}       # pin id -> the last Pin made for it
uarts = {}      # UART id -> the last UART made for it
rtc_set = []    # every datetime tuple given to RTC().datetime(...)


def reset():
    pins.clear()
    uarts.clear()
    rtc_set.clear()


class RTC:
    """machine.RTC: datetime((year, month, day, weekday, hours, minutes, seconds, subseconds))
    sets it, datetime() reads it."""

    def datetime(self, value=None):
        if value is None:
            return rtc_set[-1] if rtc_set else (2000, 1, 1, 5, 0, 0, 0, 0)
        rtc_set.append(tuple(value))


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        if id == BAD_PIN:
            raise ValueError("invalid pin")
        self.id = id
        self.mode = mode
        self.pull = pull
        if value is None:  # an input left alone reads its pull
            value = 1 if pull == Pin.PULL_UP else 0
        self.level = value  # an output's level, or the level on an input's wire
        self.reads = 0
        pins[id] = self

    def value(self, level=None):
        if level is None:
            self.reads += 1
            return self.level
        if self.mode != Pin.OUT:
            raise AssertionError("pin %r is not an output" % (self.id,))
        self.level = 1 if level else 0
        return None

    def wire(self, level):
        """Test side: the level the outside world puts on an input pin."""
        self.level = level


class UART:
    def __init__(self, id, **settings):
        if id not in UART_IDS:
            raise ValueError("UART(%r) doesn't exist" % (id,))
        self.id = id
        self.settings = {}
        self.deinited = False
        self.incoming = b""      # sent by the far end, not yet read
        self.outgoing = b""      # written, not yet taken by the far end
        self.room = None         # bytes write() may take (None: any number)
        self.init(**settings)
        uarts[id] = self

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None):
        if parity not in (None, 0, 1) or bits not in (5, 6, 7, 8, 9) or stop not in (1, 2):
            raise ValueError("invalid UART setting")
        self.settings = {"baudrate": baudrate, "bits": bits, "parity": parity, "stop": stop,
                         "tx": tx, "rx": rx}
        self.deinited = False

    def deinit(self):
        self.deinited = True

    def any(self):
        return len(self.incoming)

    def read(self, nbytes=None):
        if not self.incoming:
            return None
        if nbytes is None:
            nbytes = len(self.incoming)
        data, self.incoming = self.incoming[:nbytes], self.incoming[nbytes:]
        return data

    def write(self, data):
        taken = len(data) if self.room is None else min(self.room, len(data))
        if not taken:
            return None
        self.outgoing += bytes(data[:taken])
        return taken

    # -- the far end (tests) -----------------------------------------------------------------

    def peer_send(self, data):
        self.incoming += data

    def peer_receive(self):
        data, self.outgoing = self.outgoing, b""
        return data
