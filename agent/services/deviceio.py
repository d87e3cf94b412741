"""DeviceIO service (tmd, checklist clause 9) and the relay operations the device service
shares with it (8.6).

The rules live in agent.deviceio (logical states, persistence, events) and agent.serialio
(SendReceiveSerialCommand on the loop); this module reads requests and writes responses.
Every operation of deviceio.wsdl is answered: relays, inputs and serial ports from the board;
empty video/audio lists; NoVideoOutput for any video output token (there are none); the nine
configuration operations DeviceIO 16.12 deprecated have no handler, so the dispatcher answers
ActionNotSupported (checklist 9.4).
"""

import binascii

from ..replies import Deferred
from ..compat import has_control_bytes
from ..durations import format_duration, parse_duration
from ..serialio import Command, check_request
from ..soap import sender
from . import TT, Service, parse_boolean, required

TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"


def token_of(element, ns, name):
    return required(element, ns, name).text.strip()


def parse_relay_settings(properties):
    """tt:RelayOutputSettings -> (mode, delay in ms, idle state)."""
    mode = required(properties, TT, "Mode").text.strip()
    try:
        delay_ms = parse_duration(required(properties, TT, "DelayTime").text)
    except ValueError:
        raise sender("InvalidArgVal", reason="DelayTime is not an xs:duration")
    return mode, delay_ms, required(properties, TT, "IdleState").text.strip()


def write_relay_outputs(w, io):
    """tds:GetRelayOutputsResponse, the same on both endpoints (checklist 8.6, 9.1)."""
    w.start(TDS, "GetRelayOutputsResponse")
    for relay in io.relays:
        w.start(TDS, "RelayOutputs", attrs=[("token", relay.token)])
        w.start(TT, "Properties")
        w.leaf(TT, "Mode", relay.mode)
        w.leaf(TT, "DelayTime", format_duration(relay.delay_ms))
        w.leaf(TT, "IdleState", relay.idle_state)
        w.end()
        w.end()
    w.end()


def empty_response(ns, name):
    return lambda w: w.leaf(ns, name)


def entity_list(response, element, items, attrs_of):
    """A tmd response listing one empty element per item, its attributes from `attrs_of`."""
    def write(w):
        w.start(TMD, response)
        for item in items:
            w.leaf(TMD, element, attrs=attrs_of(item))
        w.end()
    return write


class RelayOperations:
    """GetRelayOutputs and SetRelayOutputState: `tds:` elements on both endpoints."""

    def GetRelayOutputs(self, request, ctx):
        return lambda w: write_relay_outputs(w, self.device.io)

    def SetRelayOutputState(self, request, ctx):
        self.device.io.set_relay_state(token_of(request, TDS, "RelayOutputToken"),
                                       required(request, TDS, "LogicalState").text.strip())
        return empty_response(TDS, "SetRelayOutputStateResponse")


class DeviceIOService(RelayOperations, Service):
    key = "deviceio"
    path = "/onvif/deviceio_service"
    namespace = TMD
    declare = (TMD, TDS, TT)
    category = "Extension"  # GetCapabilities reports it under tt:Extension/tt:DeviceIO

    def counts(self):
        """(VideoSources, VideoOutputs, AudioSources, AudioOutputs, RelayOutputs, SerialPorts,
        DigitalInputs): static, and equal to the lengths of the lists returned (9.5)."""
        io = self.device.io
        return (0, 0, 0, 0, len(io.relays), len(io.serial_ports), len(io.inputs))

    def write_capabilities(self, w):
        vs, vo, as_, ao, relays, serial, inputs = self.counts()
        w.leaf(TMD, "Capabilities", attrs=[
            ("VideoSources", vs), ("VideoOutputs", vo), ("AudioSources", as_),
            ("AudioOutputs", ao), ("RelayOutputs", relays), ("SerialPorts", serial),
            ("DigitalInputs", inputs), ("DigitalInputOptions", True)])

    def write_legacy_capabilities(self, w, ctx):
        vs, vo, as_, ao, relays = self.counts()[:5]
        w.start(TT, "DeviceIO")
        w.leaf(TT, "XAddr", ctx.url(self.path))
        w.leaf(TT, "VideoSources", vs)
        w.leaf(TT, "VideoOutputs", vo)
        w.leaf(TT, "AudioSources", as_)
        w.leaf(TT, "AudioOutputs", ao)
        w.leaf(TT, "RelayOutputs", relays)
        w.end()

    # -- relays (9.1) ----------------------------------------------------------------------------

    def GetRelayOutputOptions(self, request, ctx):
        io = self.device.io
        token = request.findtext(TMD, "RelayOutputToken")
        relays = io.relays if token is None else [io.relay(token.strip())]

        def write(w):
            w.start(TMD, "GetRelayOutputOptionsResponse")
            for relay in relays:
                w.start(TMD, "RelayOutputOptions", attrs=[("token", relay.token)])
                w.leaf(TMD, "Mode", "Monostable")
                w.leaf(TMD, "Mode", "Bistable")
                low, high = relay.delay_range_ms
                w.leaf(TMD, "DelayTimes", "%g %g" % (low / 1000, high / 1000))
                w.leaf(TMD, "Discrete", False)
                w.end()
            w.end()
        return write

    def SetRelayOutputSettings(self, request, ctx):
        relay = required(request, TMD, "RelayOutput")
        token = relay.get("token")
        if not token:
            raise sender("InvalidArgs", reason="RelayOutput needs its token attribute")
        settings = parse_relay_settings(required(relay, TT, "Properties"))
        self.device.io.set_relay_settings(token.strip(), *settings)
        return empty_response(TMD, "SetRelayOutputSettingsResponse")

    # -- digital inputs (9.2) --------------------------------------------------------------------

    def GetDigitalInputs(self, request, ctx):
        return entity_list("GetDigitalInputsResponse", "DigitalInputs", self.device.io.inputs,
                           lambda line: [("token", line.token), ("IdleState", line.idle_state)])

    def GetDigitalInputConfigurationOptions(self, request, ctx):
        token = request.findtext(TMD, "Token")
        if token is not None:
            self.device.io.input(token.strip())  # NoConfig for an unknown token

        def write(w):
            w.start(TMD, "GetDigitalInputConfigurationOptionsResponse")
            w.start(TMD, "DigitalInputOptions")
            w.leaf(TMD, "IdleState", "closed")
            w.leaf(TMD, "IdleState", "open")
            w.end()
            w.end()
        return write

    def SetDigitalInputConfigurations(self, request, ctx):
        changes = []
        for entry in request.findall(TMD, "DigitalInputs"):
            changes.append((entry.get("token", ""),
                            entry.get("IdleState", "").strip()))
        if not changes:
            raise sender("InvalidArgs", reason="no DigitalInputs given")
        self.device.io.set_input_idle_states(changes)
        return empty_response(TMD, "SetDigitalInputConfigurationsResponse")

    # -- serial ports (9.3) ----------------------------------------------------------------------

    def GetSerialPorts(self, request, ctx):
        return entity_list("GetSerialPortsResponse", "SerialPort", self.device.io.serial_ports,
                           lambda port: [("token", port.token)])

    def GetSerialPortConfiguration(self, request, ctx):
        port = self.device.io.serial_port(token_of(request, TMD, "SerialPortToken"))

        def write(w):
            w.start(TMD, "GetSerialPortConfigurationResponse")
            w.start(TMD, "SerialPortConfiguration",
                    attrs=[("token", port.token), ("type", port.type)])
            w.leaf(TMD, "BaudRate", port.config["baud_rate"])
            w.leaf(TMD, "ParityBit", port.config["parity"])
            w.leaf(TMD, "CharacterLength", port.config["character_length"])
            w.leaf(TMD, "StopBit", "%g" % port.config["stop_bits"])
            w.end()
            w.end()
        return write

    def SetSerialPortConfiguration(self, request, ctx):
        element = required(request, TMD, "SerialPortConfiguration")
        persist = parse_boolean(required(request, TMD, "ForcePersistance").text,
                                "ForcePersistance")
        token = element.get("token", "").strip()
        port = self.device.io.serial_port(token)
        if element.get("type", port.type) != port.type:
            raise sender("InvalidArgVal", "ConfigModify", reason="the port type is fixed")
        try:
            config = {
                "baud_rate": int(required(element, TMD, "BaudRate").text),
                "parity": required(element, TMD, "ParityBit").text.strip(),
                "character_length": int(required(element, TMD, "CharacterLength").text),
                "stop_bits": float(required(element, TMD, "StopBit").text),
            }
        except ValueError:
            raise sender("InvalidArgVal", reason="a serial setting is not a number")
        self.device.io.configure_serial(token, config, persist)
        return empty_response(TMD, "SetSerialPortConfigurationResponse")

    def GetSerialPortConfigurationOptions(self, request, ctx):
        port = self.device.io.serial_port(token_of(request, TMD, "SerialPortToken"))
        options = port.options

        def write(w):
            w.start(TMD, "GetSerialPortConfigurationOptionsResponse")
            w.start(TMD, "SerialPortOptions", attrs=[("token", port.token)])
            for name, key, fmt in (("BaudRateList", "baud_rates", "%d"),
                                   ("ParityBitList", "parities", "%s"),
                                   ("CharacterLengthList", "character_lengths", "%d"),
                                   ("StopBitList", "stop_bits", "%g")):
                w.start(TMD, name)
                for value in options[key]:
                    w.leaf(TT if key != "parities" else TMD, "Items", fmt % value)
                w.end()
            w.end()
            w.end()
        return write

    def SendReceiveSerialCommand(self, request, ctx):
        io = self.device.io
        token = request.findtext(TMD, "Token")
        if token is None:  # optional in the WSDL: the one port, when there is exactly one
            if len(io.serial_ports) != 1:
                raise sender("InvalidArgVal", "InvalidSerialPort", reason="which port? give Token")
            token = io.serial_ports[0].token
        token = token.strip()
        io.serial_port(token)
        data, as_string = _serial_data(request.find(TMD, "SerialData"))
        timeout_ms = _optional(request, "TimeOut", parse_duration)
        data_length = _optional(request, "DataLength", int)
        delimiter = request.findtext(TMD, "Delimiter")
        delimiter = delimiter.encode() if delimiter else None
        check_request(data, data_length, delimiter)
        answer = Deferred()
        command = Command(data, timeout_ms, data_length, delimiter,
                          lambda reply: answer.resolve(_write_serial_reply(reply, as_string)),
                          answer.fail)
        answer.on_cancel = command.cancel
        io.send_receive(token, command)
        return answer

    # -- media (9.4): no video or audio hardware -------------------------------------------------

    def GetVideoSources(self, request, ctx):
        return empty_response(TMD, "GetVideoSourcesResponse")

    def GetAudioSources(self, request, ctx):
        return empty_response(TMD, "GetAudioSourcesResponse")

    def GetAudioOutputs(self, request, ctx):
        return empty_response(TMD, "GetAudioOutputsResponse")

    def GetVideoOutputs(self, request, ctx):
        return empty_response(TMD, "GetVideoOutputsResponse")

    def GetVideoOutputConfiguration(self, request, ctx):
        raise _no_video_output()

    def SetVideoOutputConfiguration(self, request, ctx):
        raise _no_video_output()

    def GetVideoOutputConfigurationOptions(self, request, ctx):
        raise _no_video_output()


def _no_video_output():
    return sender("InvalidArgVal", "NoVideoOutput", reason="this device has no video outputs")


def _optional(request, name, parse):
    text = request.findtext(TMD, name)
    if text is None or not text.strip():
        return None
    try:
        return parse(text.strip())
    except ValueError:
        raise sender("InvalidArgVal", reason=name + " is malformed")


def _serial_data(element):
    """(bytes to send, whether the client speaks String) from tmd:SerialData."""
    if element is None:
        return b"", False
    text = element.findtext(TMD, "String")
    if text is not None:
        return text.encode(), True
    binary = element.findtext(TMD, "Binary")
    if binary is None:
        raise sender("InvalidArgs", reason="SerialData needs Binary or String")
    return _base64(binary), False


_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _base64(text):
    """xs:base64Binary strictly: CPython's decoder would skip stray characters silently."""
    data = "".join(text.split()).encode()
    if len(data) % 4 or any(byte not in _BASE64 for byte in data):
        raise sender("InvalidArgVal", reason="Binary is not base64")
    try:
        return binascii.a2b_base64(data)
    except ValueError:
        raise sender("InvalidArgVal", reason="Binary is not base64")


def _write_serial_reply(reply, as_string):
    """The answer in the form the client sent (String only when the bytes are text XML can
    carry, else Binary); no SerialData when nothing arrived."""
    def write(w):
        w.start(TMD, "SendReceiveSerialCommandResponse")
        if reply:
            w.start(TMD, "SerialData")
            text = _as_text(reply) if as_string else None
            if text is not None:
                w.leaf(TMD, "String", text)
            else:
                w.leaf(TMD, "Binary", binascii.b2a_base64(reply).decode().strip())
            w.end()
        w.end()
    return write


def _as_text(data):
    if has_control_bytes(data):
        return None
    try:
        return data.decode()
    except UnicodeError:
        return None
