"""Raspberry Pi HAL on gpiozero: relays and contact inputs on BCM GPIO pins, serial ports on
pyserial (hal.serialport). CPython only.

Board fields: relays and inputs take "pin" (BCM GPIO number). gpiozero picks its default pin
factory (lgpio where it is installed); tests hand in `gpiozero.pins.mock.MockFactory`.

Debounce is the base class's, in software on the loop (`debounced` stays False). gpiozero's
`bounce_time` is not used: what it means depends on the pin factory (RPi.GPIO ignores edges
for a while after one, so the last edge of a burst can be lost; lgpio waits for the level to
settle; the mock factory ignores it), while the base's settle-then-read reports the level the
contact came to rest at, once, on every factory. Edge callbacks come from gpiozero's threads:
they only hand `edge` to the loop (hal.base rules).

Nothing goes in `Hal.unsupported`: every pin has pull-up/down resistors and edge detection,
and the UARTs' RS-485 mode is checked per port when "direction" is "kernel".
"""

import gpiozero

from hal.base import DigitalInput, Hal, HalError, RelayOutput, assemble
from hal.serialport import PySerialPort


def claim(spec, device_class, **settings):
    """A gpiozero device on the spec's pin; HalError naming the token and pin otherwise."""
    try:
        return device_class(spec["pin"], **settings)
    except Exception as exc:  # gpiozero's own errors, and each pin factory's (lgpio.error...)
        raise HalError("%s: cannot use GPIO %s: %s" % (spec["token"], spec["pin"], exc))


def input_wiring(spec):
    """gpiozero arguments for which level means *closed* (board file: "pull", "active_low").
    gpiozero reads a pulled-up pin as active when low, a pulled-down one when high."""
    pull = spec.get("pull", "up")
    if pull == "off":  # an external resistor: the board says which level is closed
        return {"pull_up": None, "active_state": not spec.get("active_low", True)}
    return {"pull_up": pull == "up"}


class PiRelay(RelayOutput):
    def __init__(self, spec, pin_factory):
        super().__init__(spec)
        self.device = claim(spec, gpiozero.OutputDevice,
                            active_high=not spec.get("active_low", False),
                            initial_value=False, pin_factory=pin_factory)

    def energize(self, on):
        self.device.value = on

    def close(self):
        self.device.off()  # de-energized before the pin goes back to an input
        self.device.close()


class PiInput(DigitalInput):
    def __init__(self, spec, loop, pin_factory):
        super().__init__(spec, loop)
        self.device = claim(spec, gpiozero.DigitalInputDevice, bounce_time=None,
                            pin_factory=pin_factory, **input_wiring(spec))
        self.device.when_activated = self._moved
        self.device.when_deactivated = self._moved

    def _moved(self):
        """Runs in gpiozero's thread: hand the edge to the loop, touch nothing else."""
        self.loop.call_soon_threadsafe(self.edge)

    def read(self):
        return self.device.is_active

    def close(self):
        super().close()
        self.device.close()


class PiHal(Hal):
    name = "pi"


def create(board, loop, state_dir=None, pin_factory=None):
    """The Pi's Hal for `board`; `pin_factory` None lets gpiozero choose (tests: MockFactory)."""
    def build(hal):
        for spec in board.get("relays", []):
            hal.relays.append(PiRelay(spec, pin_factory))
        if board.get("inputs"):
            loop.enable_wakeup()
        for spec in board.get("inputs", []):
            hal.inputs.append(PiInput(spec, loop, pin_factory))
        for spec in board.get("serial_ports", []):
            hal.serial_ports.append(PySerialPort(spec))
    return assemble(PiHal(board, loop), build)
