"""A fake of the gpiod 2.x subset hal.beaglebone uses: `request_lines()` on fake chips whose
lines the tests wire like a circuit would.

It takes and returns gpiod's own LineSettings, enums, EdgeEvent and errors, and refuses
anything else, so it cannot drift from the real API. A request's `fd` is a real pipe that is
readable exactly while edge events are queued, as the kernel's line request fd is, so the
agent loop's poll path runs for real. Edge events and values are logical (active_low
applied), as the GPIO character device v2 reports them.
"""

import errno
import itertools
import os

import gpiod
from gpiod.line import Bias, Direction, Edge, Value

RISING = gpiod.EdgeEvent.Type.RISING_EDGE
FALLING = gpiod.EdgeEvent.Type.FALLING_EDGE
DEFAULT_MAX_EVENTS = 64  # libgpiod's edge event buffer default


class FakeLine:
    def __init__(self):
        self.settings = None   # gpiod.LineSettings while requested
        self.consumer = None
        self.wire = None       # level the outside circuit forces; None: nothing drives the pin
        self.direction = Direction.INPUT  # kept after release, as the kernel does
        self.output = False    # level the line drives as an output, kept after release too

    def level(self):
        """The physical level on the pin."""
        if self.direction == Direction.OUTPUT:
            return self.output
        if self.wire is not None:
            return self.wire
        return self.settings is not None and self.settings.bias == Bias.PULL_UP

    def logical(self):
        return self.level() != self.settings.active_low


class FakeChip:
    def __init__(self, path, num_lines=32):
        self.path = path
        self.lines = [FakeLine() for _ in range(num_lines)]
        self.requests = []  # every request made, released ones included

    def drive(self, offset, level):
        """The circuit drives the pin high (True), low (False) or lets it go (None)."""
        line = self.lines[offset]
        before = line.level()
        line.wire = level
        if line.level() != before:
            for request in self.requests:
                request.moved(offset)


class FakeLineRequest:
    _seqno = itertools.count(1)

    def __init__(self, chip, settings):
        self.chip = chip
        self.settings = settings  # offset -> LineSettings
        self.events = []
        self.line_seqno = dict.fromkeys(settings, 0)
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self.released = False

    def __bool__(self):
        return not self.released

    def _check(self, offset=None):
        if self.released:
            raise gpiod.RequestReleasedError()
        if offset is not None and offset not in self.settings:
            raise ValueError("line %r is not in this request" % (offset,))

    @property
    def fd(self):
        self._check()
        return self._read

    def fileno(self):
        return self.fd

    def get_value(self, line):
        self._check(line)
        return Value.ACTIVE if self.chip.lines[line].logical() else Value.INACTIVE

    def set_value(self, line, value):
        self._check(line)
        if not isinstance(value, Value):
            raise TypeError("set_value takes a gpiod.line.Value, not %r" % (value,))
        settings = self.settings[line]
        if settings.direction != Direction.OUTPUT:
            raise OSError(errno.EPERM, "line %d is an input" % line)
        self.chip.lines[line].output = (value == Value.ACTIVE) != settings.active_low

    def moved(self, offset):
        """The chip saw the pin's level change: queue the event the kernel would."""
        settings = self.settings.get(offset)
        if self.released or settings is None or settings.direction != Direction.INPUT:
            return
        kind = RISING if self.chip.lines[offset].logical() else FALLING
        wanted = {Edge.BOTH: (RISING, FALLING), Edge.RISING: (RISING,),
                  Edge.FALLING: (FALLING,)}.get(settings.edge_detection, ())
        if kind in wanted:
            self.queue(offset, kind)

    def queue(self, offset, kind):
        """Queue one edge event (tests call it directly for repeats the kernel may send)."""
        seqno = next(self._seqno)
        self.line_seqno[offset] += 1
        self.events.append(gpiod.EdgeEvent(kind.value, seqno * 1000, offset, seqno,
                                           self.line_seqno[offset]))
        os.write(self._write, b"\0")

    def read_edge_events(self, max_events=None):
        self._check()
        count = min(len(self.events), max_events or DEFAULT_MAX_EVENTS)
        taken, self.events = self.events[:count], self.events[count:]
        if count:
            os.read(self._read, count)
        return taken

    def release(self):
        if self.released:
            return
        self.released = True
        for offset in self.settings:
            self.chip.lines[offset].settings = None
            self.chip.lines[offset].consumer = None
        os.close(self._read)
        os.close(self._write)


class FakeGpiod:
    """Stands in for the gpiod module; holds the chips by device path."""

    def __init__(self, *chips):
        self.chips = {chip.path: chip for chip in chips}

    def request_lines(self, path, config, consumer=None, event_buffer_size=None,
                      output_values=None):
        chip = self.chips.get(path)
        if chip is None:  # what gpiod.Chip(path) raises for a missing device
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        settings = {}
        for offsets, line_settings in config.items():
            if not isinstance(line_settings, gpiod.LineSettings):
                raise TypeError("config values are gpiod.LineSettings, not %r" % (line_settings,))
            # gpiod's own conversion for the C library: wrong field types fail here as they
            # would in Chip.request_lines.
            gpiod.line_settings._line_settings_to_ext(line_settings)
            for offset in offsets if isinstance(offsets, tuple) else (offsets,):
                if not isinstance(offset, int) or not 0 <= offset < len(chip.lines):
                    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
                if chip.lines[offset].settings is not None:
                    raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
                settings[offset] = line_settings
        request = FakeLineRequest(chip, settings)
        for offset, line_settings in settings.items():
            line = chip.lines[offset]
            line.settings, line.consumer = line_settings, consumer
            if line_settings.direction != Direction.AS_IS:
                line.direction = line_settings.direction
            line.output = (line_settings.output_value == Value.ACTIVE) != line_settings.active_low
        chip.requests.append(request)
        return request
