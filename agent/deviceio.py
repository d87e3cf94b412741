"""The device's I/O as ONVIF sees it (checklist clause 9, 8.6): relay settings and logical
states, digital input idle states, serial port configurations, and their events.

The HAL (hal.base) speaks physical contacts; this module maps them to the logical words of
the spec and keeps what must survive a restart in the settings file. It is sans-IO apart from
the loop's timers (monostable pulses), so both runtimes test it with a fake HAL and clock.
"""

from . import log
from .errors import AgentError
from .serialio import SerialLine
from .soap import SoapFault, sender

RELAY_TOPIC = "Device/Trigger/Relay"          # checklist 9.6, property, LogicalState active/inactive
INPUT_TOPIC = "Device/Trigger/DigitalInput"   # checklist 9.6, property, LogicalState boolean
RELAY_MODES = ("Monostable", "Bistable")
IDLE_STATES = ("closed", "open")
DEFAULT_DELAY_TIMES = (0.1, 600.0)  # seconds: a door strike pulse is seconds, never hours


def hardware_failed(what, exc):
    """A HAL failure is the device's problem, not the client's: env:Receiver/ter:Action."""
    log.error("%s failed: %s", what, exc)
    return SoapFault("Receiver", "Action", reason="%s failed: %s" % (what, exc))


class Relay:
    """One relay output: tt:RelayOutputSettings plus its logical state."""

    def __init__(self, hw, spec, saved):
        self.hw = hw
        self.token = hw.token
        low, high = spec.get("delay_times", DEFAULT_DELAY_TIMES)
        self.delay_range_ms = (int(low * 1000 + 0.5), int(high * 1000 + 0.5))
        self.mode = saved.get("mode", spec.get("mode", "Bistable"))
        self.delay_ms = saved.get("delay_ms", int(spec.get("delay_time", 1) * 1000 + 0.5))
        self.idle_state = saved.get("idle_state", spec.get("idle_state", "open"))
        self.state = None  # not driven yet: DeviceIO.start drives it inactive
        self.pulse = None  # the monostable fall-back timer

    def contact_closed(self, state):
        """Checklist 9.1: IdleState open → inactive open, active closed; IdleState closed →
        inactive closed, active open."""
        return (state == "active") != (self.idle_state == "closed")

    def saved(self):
        return {"mode": self.mode, "delay_ms": self.delay_ms, "idle_state": self.idle_state}


class Input:
    """One digital input: its idle state and, from the HAL, its contact."""

    def __init__(self, hw, spec, saved):
        self.hw = hw
        self.token = hw.token
        self.idle_state = saved.get("idle_state", spec.get("idle_state", "open"))

    def logical_state(self):
        """Checklist 9.6: with input configuration support, true = active (not idle)."""
        return self.hw.read() != (self.idle_state == "closed")


class DeviceIO:
    """Relays, inputs and serial ports of one HAL, on `loop`, publishing to `bus`."""

    def __init__(self, hal, settings, loop, bus):
        self.hal = hal
        self.settings = settings
        self.loop = loop
        self.bus = bus
        saved = settings.get("deviceio", {})
        relay_specs = _by_token(hal.board.get("relays", []))
        input_specs = _by_token(hal.board.get("inputs", []))
        self.relays = [Relay(hw, relay_specs.get(hw.token, {}),
                             saved.get("relays", {}).get(hw.token, {})) for hw in hal.relays]
        self.inputs = [Input(hw, input_specs.get(hw.token, {}),
                             saved.get("inputs", {}).get(hw.token, {})) for hw in hal.inputs]
        self.serial_ports = hal.serial_ports
        self.lines = {}  # token -> SerialLine, once started
        self.serial_saved = {}  # only configurations set with ForcePersistance survive
        for token, config in saved.get("serial", {}).items():
            port = self._find(self.serial_ports, token)
            if port is not None and port.allows(config):
                self._configure(port, config)
                self.serial_saved[token] = config

    def start(self):
        """Drive every relay to its inactive state, watch the inputs, and publish every
        property instance once (Initialized)."""
        for relay in self.relays:
            self._drive(relay, "inactive")
        for line in self.inputs:
            line.hw.listener = (lambda line: lambda closed: self._input_changed(line))(line)
        self.hal.start()
        for line in self.inputs:
            self._publish_input(line)
        for port in self.serial_ports:
            self.lines[port.token] = SerialLine(port, self.loop)

    def close(self):
        for relay in self.relays:
            if relay.pulse is not None:
                relay.pulse.cancel()
        for line in self.lines.values():
            line.close()
        self.hal.close()

    # -- relays (checklist 9.1, 8.6) -----------------------------------------------------------

    def relay(self, token):
        relay = self._find(self.relays, token)
        if relay is None:
            raise sender("InvalidArgVal", "RelayToken", reason="no relay output %r" % token)
        return relay

    def set_relay_settings(self, token, mode, delay_ms, idle_state):
        """Checklist 9.1 SetRelayOutputSettings: Monostable needs a DelayTime we support
        (else ModeError); Bistable ignores it. Persisted."""
        relay = self.relay(token)
        if mode not in RELAY_MODES or idle_state not in IDLE_STATES:
            raise sender("InvalidArgVal", reason="Mode or IdleState out of range")
        low, high = relay.delay_range_ms
        if mode == "Monostable" and not low <= delay_ms <= high:
            raise sender("InvalidArgVal", "ModeError",
                         reason="DelayTime must be within %g..%g s" % (low / 1000, high / 1000))
        if mode == "Bistable" and not low <= delay_ms <= high:
            delay_ms = relay.delay_ms  # ignored in Bistable mode: keep the last usable one
        relay.mode, relay.delay_ms, relay.idle_state = mode, delay_ms, idle_state
        self._save()
        if relay.pulse is not None and mode == "Bistable":
            relay.pulse.cancel()
            relay.pulse = None
        if relay.state is not None:
            self._drive(relay, relay.state)  # a new IdleState moves the contact, same state

    def set_relay_state(self, token, state, pulse_ms=None):
        """Checklist 9.1 SetRelayOutputState. A monostable relay set active falls back to
        inactive after DelayTime, on a loop timer; a new command restarts the pulse. `pulse_ms`
        (an auxiliary command's pulse, 8.6) falls back after that time instead, whatever the
        mode."""
        relay = self.relay(token)
        if state not in ("active", "inactive"):
            raise sender("InvalidArgVal", reason="LogicalState must be active or inactive")
        if relay.pulse is not None:
            relay.pulse.cancel()
            relay.pulse = None
        self._drive(relay, state)
        if not pulse_ms and relay.mode == "Monostable" and state == "active":
            pulse_ms = relay.delay_ms
        if pulse_ms:
            relay.pulse = self.loop.call_later(pulse_ms, lambda: self._fall_back(relay))

    def _fall_back(self, relay):
        relay.pulse = None
        try:
            self._drive(relay, "inactive")
        except SoapFault:
            pass  # logged by hardware_failed; the next command tries again

    def _drive(self, relay, state):
        try:
            relay.hw.set_closed(relay.contact_closed(state))
        except AgentError as exc:
            raise hardware_failed("relay %s" % relay.token, exc)
        changed = state != relay.state
        relay.state = state
        if changed:
            self.bus.set_property(RELAY_TOPIC, [("RelayToken", relay.token)],
                                  [("LogicalState", state)])

    # -- digital inputs (checklist 9.2) --------------------------------------------------------

    def input(self, token):
        line = self._find(self.inputs, token)
        if line is None:
            raise sender("InvalidArgVal", "NoConfig", reason="no digital input %r" % token)
        return line

    def set_input_idle_states(self, changes):
        """Checklist 9.2 SetDigitalInputConfigurations: all or nothing. `changes` is a list
        of (token, idle_state); an unknown token is NoConfig, a bad value SettingsInvalid."""
        lines = []
        for token, idle_state in changes:
            lines.append(self.input(token))
            if idle_state not in IDLE_STATES:
                raise sender("InvalidArgVal", "SettingsInvalid",
                             reason="IdleState of %s must be open or closed" % token)
        before = [line.logical_state() for line in lines]
        previous = [line.idle_state for line in lines]
        for line, (_, idle_state) in zip(lines, changes):
            line.idle_state = idle_state
        try:
            self._save()
        except OSError:
            for line, idle_state in zip(lines, previous):
                line.idle_state = idle_state
            raise
        for line, was in zip(lines, before):
            if line.logical_state() != was:
                self._publish_input(line)  # the same contact now means the other state

    def _input_changed(self, line):
        self._publish_input(line)

    def _publish_input(self, line):
        self.bus.set_property(INPUT_TOPIC, [("InputToken", line.token)],
                              [("LogicalState", "true" if line.logical_state() else "false")])

    # -- serial ports (checklist 9.3) ----------------------------------------------------------

    def serial_port(self, token):
        port = self._find(self.serial_ports, token)
        if port is None:
            raise sender("InvalidArgVal", "InvalidSerialPort", reason="no serial port %r" % token)
        return port

    def configure_serial(self, token, config, persist):
        """Checklist 9.3 SetSerialPortConfiguration: values outside the options → ConfigModify."""
        port = self.serial_port(token)
        if not port.allows(config):
            raise sender("InvalidArgVal", "ConfigModify",
                         reason="configuration outside GetSerialPortConfigurationOptions")
        self._configure(port, config)
        if persist:
            self.serial_saved[token] = dict(config)
            self._save()

    def send_receive(self, token, command):
        """Queue an agent.serialio.Command on the port's line (checklist 9.3)."""
        self.serial_port(token)
        self.lines[token].submit(command)

    def _configure(self, port, config):
        try:
            port.configure(config)
        except AgentError as exc:
            raise hardware_failed("serial port %s" % port.token, exc)

    # -- shared ----------------------------------------------------------------------------------

    def _save(self):
        self.settings.update(deviceio={
            "relays": dict((r.token, r.saved()) for r in self.relays),
            "inputs": dict((i.token, {"idle_state": i.idle_state}) for i in self.inputs),
            "serial": self.serial_saved,
        })

    @staticmethod
    def _find(items, token):
        for item in items:
            if item.token == token:
                return item
        return None


def _by_token(specs):
    return dict((spec.get("token"), spec) for spec in specs)
