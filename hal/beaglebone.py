"""BeagleBone HAL (and any Linux board's GPIO lines) on the GPIO character device through the
gpiod 2.x bindings; serial ports on pyserial (hal.serialport). CPython only.

Board fields: relays and inputs take "chip" ("gpiochip1" or "/dev/gpiochip1") and "line" (the
offset on that chip). All the lines of one chip are held by one request, consumer
"onvif-agent" as gpioinfo shows it. Values are logical: a line is requested active-low where
the wiring makes *closed* (inputs) or *energized* (relays) the low level, so ACTIVE always
means closed or energized.

Debounce is the kernel's (`debounce_period`; the GPIO core does it in software where the
controller cannot), so inputs set `debounced` and each edge event goes straight to the base
class, which still reports only a state that differs from the last one reported. Events
arrive on the request's file descriptor, polled by the agent loop: no thread.

Nothing goes in `Hal.unsupported`. The pin mux is set outside the agent: each header pin must
already be in GPIO mode (config-pin or a device-tree overlay).
"""

from datetime import timedelta

import gpiod
from gpiod.line import Bias, Direction, Edge, Value

from agent.loop import POLLIN
from hal.base import DigitalInput, Hal, HalError, RelayOutput, assemble
from hal.serialport import PySerialPort

CONSUMER = "onvif-agent"
BIAS = {"up": Bias.PULL_UP, "down": Bias.PULL_DOWN, "off": Bias.DISABLED}


def chip_path(name):
    """"gpiochip1" or "/dev/gpiochip1" -> the device path."""
    return name if "/" in name else "/dev/" + name


def closed_reads_low(spec):
    """Board file wiring: a pull-up is closed to ground, a pull-down to the supply; with an
    external resistor ("off") the board's "active_low" says (default true)."""
    pull = spec.get("pull", "up")
    if pull == "off":
        return spec.get("active_low", True)
    return pull == "up"


class ChipLines:
    """The lines the board uses on one GPIO chip, held by one request."""

    def __init__(self, path):
        self.path = path
        self.settings = {}  # offset -> gpiod.LineSettings
        self.tokens = {}    # offset -> token, for messages
        self.inputs = {}    # offset -> BoneInput, for edge events
        self.request = None
        self.loop = None    # set while the request's fd is registered

    def add(self, spec, settings):
        offset = spec["line"]
        if offset in self.tokens:
            raise HalError("%s and %s both use %s line %s"
                           % (self.tokens[offset], spec["token"], self.path, offset))
        self.settings[offset] = settings
        self.tokens[offset] = spec["token"]
        return offset

    def request_lines(self, gpiod_module, loop):
        try:
            self.request = gpiod_module.request_lines(self.path, consumer=CONSUMER,
                                                      config=self.settings)
        except (OSError, ValueError) as exc:  # no such chip, a line out of range or busy
            raise HalError("%s: cannot request %s lines %s: %s"
                           % (", ".join(self.tokens.values()), self.path,
                              sorted(self.settings), exc))
        if self.inputs:
            loop.register(self.request.fd, POLLIN, self._on_events)
            self.loop = loop

    def _on_events(self, events):
        for event in self.request.read_edge_events():
            # Lines are requested active-low as wired, so a rising edge means "closed".
            self.inputs[event.line_offset].edge(
                event.event_type == gpiod.EdgeEvent.Type.RISING_EDGE)

    def is_active(self, offset):
        try:
            return self.request.get_value(offset) == Value.ACTIVE
        except OSError as exc:
            raise HalError("%s: cannot read %s line %s: %s"
                           % (self.tokens[offset], self.path, offset, exc))

    def set_active(self, offset, active):
        try:
            self.request.set_value(offset, Value.ACTIVE if active else Value.INACTIVE)
        except OSError as exc:
            raise HalError("%s: cannot set %s line %s: %s"
                           % (self.tokens[offset], self.path, offset, exc))

    def release(self):
        if self.request is None:
            return
        if self.loop is not None:
            self.loop.unregister(self.request.fd)
            self.loop = None
        self.request.release()
        self.request = None


class BoneRelay(RelayOutput):
    def __init__(self, spec, chip):
        super().__init__(spec)
        self.chip = chip
        self.offset = chip.add(spec, gpiod.LineSettings(
            direction=Direction.OUTPUT, output_value=Value.INACTIVE,
            active_low=spec.get("active_low", False)))

    def energize(self, on):
        self.chip.set_active(self.offset, on)

    def close(self):
        if self.chip.request is not None:
            self.energize(False)  # the kernel keeps a released line's last level


class BoneInput(DigitalInput):
    debounced = True  # the kernel's debounce_period

    def __init__(self, spec, loop, chip):
        super().__init__(spec, loop)
        self.chip = chip
        self.offset = chip.add(spec, gpiod.LineSettings(
            direction=Direction.INPUT, edge_detection=Edge.BOTH,
            bias=BIAS[spec.get("pull", "up")],
            debounce_period=timedelta(milliseconds=self.debounce_ms),
            active_low=closed_reads_low(spec)))
        chip.inputs[self.offset] = self

    def read(self):
        return self.chip.is_active(self.offset)


class BeagleBoneHal(Hal):
    name = "beaglebone"

    def __init__(self, board, loop):
        super().__init__(board, loop)
        self.chips = {}  # device path -> ChipLines

    def chip(self, spec):
        path = chip_path(spec["chip"])
        if path not in self.chips:
            self.chips[path] = ChipLines(path)
        return self.chips[path]

    def close(self):
        super().close()  # relays de-energized while their lines are still held
        for chip in self.chips.values():
            chip.release()


def create(board, loop, state_dir=None, gpiod_module=None):
    """The board's Hal; `gpiod_module` replaces gpiod's `request_lines` (tests: a fake)."""
    def build(hal):
        for spec in board.get("relays", []):
            hal.relays.append(BoneRelay(spec, hal.chip(spec)))
        for spec in board.get("inputs", []):
            hal.inputs.append(BoneInput(spec, loop, hal.chip(spec)))
        for chip in hal.chips.values():
            chip.request_lines(gpiod_module or gpiod, loop)
        for spec in board.get("serial_ports", []):
            hal.serial_ports.append(PySerialPort(spec))
    return assemble(BeagleBoneHal(board, loop), build)
