"""MicroPython boards (ESP32, Raspberry Pi Pico W) through the `machine` module: Pin and UART.

Board "hal": "machine" (the module is not called machine.py, which would shadow the firmware's
own `machine`). It runs on the board itself, so it keeps to the subset both runtimes share
(shared/design/micropython-subset.md).

Board fields: relays and inputs give "pin" (an int, or a name the port knows such as "GP15");
serial ports give "device" (the UART id, an int) and optionally "tx" and "rx" pins.

Inputs are sampled every POLL_MS by one loop timer, not by pin IRQs: a hard IRQ handler may not
allocate, and a soft one (the default) runs between any two bytecodes of whatever the loop is
doing, queued by the scheduler in a few slots that refuse further edges while a contact bounces.
Either way it could only hand the edge on to the loop, which must own all state (hal.base).
Polling costs one pin read per input every POLL_MS, keeps every change on the loop thread, and
leaves debouncing to the base class.
"""

import machine

from hal.base import POLL_MS, DigitalInput, Hal, HalError, RelayOutput, SerialPort

PULLS = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN, "off": None}
UART_PARITY = {"None": None, "Even": 0, "Odd": 1}  # machine.UART has no Mark or Space parity
# What machine.UART can do, per option list of hal.base.SerialPort ("stop" is an int: no 1.5).
UART_OPTIONS = (("parity", "parities", tuple(UART_PARITY)), ("stop_bits", "stop_bits", (1.0, 2.0)))
UART_LACKS = "serial parity Mark and Space, 1.5 stop bits: machine.UART has none of them"


def _pin(spec, *args, **kwargs):
    """machine.Pin for a board entry; a pin the port refuses is a HalError naming it."""
    try:
        return machine.Pin(spec["pin"], *args, **kwargs)
    except (ValueError, TypeError, OSError) as exc:
        raise HalError("%s: pin %r: %s" % (spec["token"], spec["pin"], exc))


class PinRelay(RelayOutput):
    """A relay driver on one output pin; "active_low" boards energize the coil at level 0."""

    def __init__(self, spec):
        super().__init__(spec)
        self.on_level = 0 if spec.get("active_low", False) else 1
        self.pin = _pin(spec, machine.Pin.OUT, value=1 - self.on_level)  # coil released

    def energize(self, on):
        self.pin.value(self.on_level if on else 1 - self.on_level)

    def close(self):
        self.energize(False)  # stays an output: a floating driver input may energize the coil


class PinInput(DigitalInput):
    """A contact on one input pin. `sample()` is called every POLL_MS by MachineHal."""

    def __init__(self, spec, loop):
        super().__init__(spec, loop)
        pull = spec.get("pull", "up")
        self.pin = _pin(spec, machine.Pin.IN, PULLS[pull])
        # A pull-up contact switches the pin to ground, a pull-down one to the supply;
        # with an external resistor ("off") the board says which.
        if pull == "off":
            self.closed_level = 0 if spec.get("active_low", True) else 1
        else:
            self.closed_level = 0 if pull == "up" else 1
        self.level = None  # raw level at the last sample

    def read(self):
        return self.pin.value() == self.closed_level

    def start(self):
        self.level = self.pin.value()
        super().start()

    def sample(self):
        level = self.pin.value()
        if level != self.level:
            self.level = level
            self.edge()


class UartPort(SerialPort):
    """A machine.UART. `pollable()` stays None: the agent calls `read()` every POLL_MS, one
    scheme for every port whatever its UART's stream poll support.

    RS-485 half-duplex needs a transceiver that switches direction itself ("direction": "auto"):
    there is no kernel rs485 mode here, and toggling a pin from the loop could not meet the
    turnaround time.
    """

    def __init__(self, spec):
        super().__init__(spec)
        if self.direction == "kernel":
            raise HalError('serial port %s: "direction" "kernel" needs Linux; a MicroPython UART '
                           'supports only "auto" (a self-switching transceiver)' % self.token)
        for field, option, possible in UART_OPTIONS:
            self.options[option] = [value for value in self.options[option] if value in possible]
            if self.config[field] not in possible:
                raise HalError('serial port %s: "%s" %r is not possible on machine.UART'
                               % (self.token, field, self.config[field]))
        self.pins = {}
        for name in ("tx", "rx"):
            if name in spec:
                self.pins[name] = spec[name]
        try:
            self.uart = machine.UART(spec["device"], **self._settings(self.config))
        except (ValueError, TypeError, OSError) as exc:
            raise HalError("serial port %s: UART %r: %s" % (self.token, spec["device"], exc))

    def _settings(self, config):
        settings = {"baudrate": config["baud_rate"], "bits": config["character_length"],
                    "parity": UART_PARITY[config["parity"]], "stop": int(config["stop_bits"])}
        settings.update(self.pins)
        return settings

    def apply(self, config):
        try:
            self.uart.init(**self._settings(config))
        except (ValueError, OSError) as exc:
            raise HalError("serial port %s: %s" % (self.token, exc))

    def read(self, limit):
        # any() first: read() would wait up to the UART's timeout for bytes that are not there.
        waiting = self.uart.any()
        if not waiting:
            return b""
        return self.uart.read(min(waiting, limit)) or b""

    def write(self, data):
        return self.uart.write(data) or 0  # None: nothing taken before the UART's timeout

    def close(self):
        self.uart.deinit()


class MachineHal(Hal):
    name = "machine"

    def __init__(self, board, loop):
        super().__init__(board, loop)
        self.sampler = None  # the loop timer reading the inputs, between start() and close()
        try:
            for spec in board.get("relays", []):
                self.relays.append(PinRelay(spec))
            for spec in board.get("inputs", []):
                self.inputs.append(PinInput(spec, loop))
            for spec in board.get("serial_ports", []):
                self.serial_ports.append(UartPort(spec))
        except HalError:
            super().close()
            raise
        if self.serial_ports:
            self.unsupported.append(UART_LACKS)

    def start(self):
        super().start()
        if self.inputs:
            self.sampler = self.loop.call_later(POLL_MS, self._sample)

    def _sample(self):
        for line in self.inputs:
            line.sample()
        self.sampler = self.loop.call_later(POLL_MS, self._sample)

    def close(self):
        if self.sampler is not None:
            self.sampler.cancel()
            self.sampler = None
        super().close()


def create(board, loop, state_dir=None):
    return MachineHal(board, loop)
