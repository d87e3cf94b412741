"""The DeviceIO service and the device service's relay operations over an in-memory HAL
(checklist 8.6, 9.1-9.7): every operation, every fault, persistence, events, relay pulses and
serial commands on the loop."""

import unittest

from agent import log
from agent.app import build_app
from agent.settings import Settings
from tests.iofakes import BOARD, advance, make_device
from tests.soapclient import InMemoryClient, envelope
from tests.support import AllowAll, Quiet, remove_tree, scratch_dir

DEVICEIO = "/onvif/deviceio_service"
DEVICE = "/onvif/device_service"
TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TT = "http://www.onvif.org/ver10/schema"


def relay_state(token, state, prefix="tds"):
    return ("<tds:SetRelayOutputState><tds:RelayOutputToken>%s</tds:RelayOutputToken>"
            "<tds:LogicalState>%s</tds:LogicalState></tds:SetRelayOutputState>" % (token, state))


def tmd_relay_settings(token, mode, delay, idle):
    return ("<tmd:SetRelayOutputSettings><tmd:RelayOutput token=\"%s\"><tt:Properties>"
            "<tt:Mode>%s</tt:Mode><tt:DelayTime>%s</tt:DelayTime><tt:IdleState>%s</tt:IdleState>"
            "</tt:Properties></tmd:RelayOutput></tmd:SetRelayOutputSettings>"
            % (token, mode, delay, idle))


def serial_command(inner):
    return "<tmd:SendReceiveSerialCommand>%s</tmd:SendReceiveSerialCommand>" % inner


class DeviceIOTestCase(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())
        self.start()

    def start(self, settings=None, board=BOARD):
        self.device, self.hal, self.loop, self.clock, self.messages = make_device(
            board, settings)
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        log.set_stream(None)

    def call(self, body, path=DEVICEIO):
        return self.client.call(body, path=path)

    def ok(self, body, path=DEVICEIO):
        response = self.call(body, path)
        self.assertEqual(response.status, 200, response.body)
        return response.body_child

    def fault(self, body, path=DEVICEIO):
        return self.call(body, path).fault()

    def events(self, topic):
        return [(m.operation, m.source[0][1], m.data[0][1]) for m in self.messages
                if m.topic == topic]


class CapabilitiesTest(DeviceIOTestCase):
    def test_counts_equal_the_lists(self):
        caps = self.ok("<tmd:GetServiceCapabilities/>").find(TMD, "Capabilities")
        self.assertEqual((caps.get("RelayOutputs"), caps.get("DigitalInputs"), caps.get("SerialPorts")),
                         ("2", "2", "1"))
        self.assertEqual(caps.get("DigitalInputOptions"), "true")
        self.assertEqual((caps.get("VideoSources"), caps.get("AudioOutputs")), ("0", "0"))
        relays = self.ok("<tds:GetRelayOutputs/>").findall(TDS, "RelayOutputs")
        inputs = self.ok("<tmd:GetDigitalInputs/>").findall(TMD, "DigitalInputs")
        ports = self.ok("<tmd:GetSerialPorts/>").findall(TMD, "SerialPort")
        self.assertEqual((len(relays), len(inputs), len(ports)), (2, 2, 1))

    def test_legacy_capabilities_count_the_io(self):
        caps = self.ok("<tds:GetCapabilities/>", DEVICE).find(TDS, "Capabilities")
        io = caps.find(TT, "Device").find(TT, "IO")
        self.assertEqual((io.findtext(TT, "InputConnectors"), io.findtext(TT, "RelayOutputs")),
                         ("2", "2"))
        deviceio = caps.find(TT, "Extension").find(TT, "DeviceIO")
        self.assertEqual(deviceio.findtext(TT, "RelayOutputs"), "2")


class RelayTest(DeviceIOTestCase):
    def test_relays_start_inactive_and_say_so(self):
        # R1 idle open: inactive = contact open = coil off; R2 idle closed: inactive = closed.
        self.assertEqual([r.energized for r in self.hal.relays], [False, True])
        self.assertEqual(self.events("Device/Trigger/Relay"),
                         [("Initialized", "R1", "inactive"), ("Initialized", "R2", "inactive")])

    def test_get_relay_outputs_on_both_endpoints(self):
        for path in (DEVICEIO, DEVICE):
            relays = self.ok("<tds:GetRelayOutputs/>", path).findall(TDS, "RelayOutputs")
            self.assertEqual([r.get("token") for r in relays], ["R1", "R2"])
            props = relays[1].find(TT, "Properties")
            self.assertEqual((props.findtext(TT, "Mode"), props.findtext(TT, "DelayTime"),
                              props.findtext(TT, "IdleState")), ("Monostable", "PT2S", "closed"))

    def test_idle_state_mapping(self):
        self.ok(relay_state("R1", "active"))
        self.assertTrue(self.hal.relays[0].energized, "idle open: active closes the contact")
        self.ok(relay_state("R1", "inactive"), DEVICE)
        self.assertFalse(self.hal.relays[0].energized)
        self.ok(tmd_relay_settings("R1", "Bistable", "PT1S", "closed"))
        self.assertTrue(self.hal.relays[0].energized, "idle closed: inactive is closed")
        self.ok(relay_state("R1", "active"))
        self.assertFalse(self.hal.relays[0].energized, "idle closed: active opens")
        self.assertEqual(self.events("Device/Trigger/Relay")[2:],
                         [("Changed", "R1", "active"), ("Changed", "R1", "inactive"),
                          ("Changed", "R1", "active")])

    def test_monostable_falls_back_after_delay_time_and_a_new_command_restarts(self):
        self.ok(relay_state("R2", "active"))
        self.assertFalse(self.hal.relays[1].energized)
        advance(self.loop, self.clock, 1500)
        self.ok(relay_state("R2", "active"))  # restarts the 2 s pulse
        advance(self.loop, self.clock, 1500)
        self.assertFalse(self.hal.relays[1].energized, "still active 3 s after the first")
        advance(self.loop, self.clock, 600)
        self.assertTrue(self.hal.relays[1].energized, "back to idle closed")
        self.assertEqual(self.events("Device/Trigger/Relay")[2:],
                         [("Changed", "R2", "active"), ("Changed", "R2", "inactive")])

    def test_bistable_stays(self):
        self.ok(relay_state("R1", "active"))
        advance(self.loop, self.clock, 5000)
        self.assertTrue(self.hal.relays[0].energized)

    def test_settings_faults(self):
        self.assertEqual(self.fault(relay_state("nope", "active")),
                         ("Sender", ["InvalidArgVal", "RelayToken"]))
        self.assertEqual(self.fault(tmd_relay_settings("nope", "Bistable", "PT1S", "open")),
                         ("Sender", ["InvalidArgVal", "RelayToken"]))
        self.assertEqual(self.fault(tmd_relay_settings("R2", "Monostable", "PT0.1S", "open")),
                         ("Sender", ["InvalidArgVal", "ModeError"]), "below the 0.5 s minimum")
        self.assertEqual(self.fault(tmd_relay_settings("R2", "Monostable", "PT2M", "open")),
                         ("Sender", ["InvalidArgVal", "ModeError"]), "above 60 s")
        self.assertEqual(self.fault(tmd_relay_settings("R2", "Monostable", "soon", "open")),
                         ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.fault(relay_state("R1", "on")), ("Sender", ["InvalidArgVal"]))

    def test_bistable_ignores_delay_time(self):
        self.ok(tmd_relay_settings("R2", "Bistable", "PT0S", "open"))
        props = self.ok("<tds:GetRelayOutputs/>").findall(TDS, "RelayOutputs")[1].find(
            TT, "Properties")
        self.assertEqual(props.findtext(TT, "Mode"), "Bistable")
        self.assertEqual(props.findtext(TT, "DelayTime"), "PT2S")

    def test_device_service_settings_form(self):
        self.ok("<tds:SetRelayOutputSettings><tds:RelayOutputToken>R1</tds:RelayOutputToken>"
                "<tds:Properties><tt:Mode>Monostable</tt:Mode><tt:DelayTime>PT3.5S</tt:DelayTime>"
                "<tt:IdleState>open</tt:IdleState></tds:Properties></tds:SetRelayOutputSettings>",
                DEVICE)
        self.ok(relay_state("R1", "active"), DEVICE)
        advance(self.loop, self.clock, 3400)
        self.assertTrue(self.hal.relays[0].energized)
        advance(self.loop, self.clock, 200)
        self.assertFalse(self.hal.relays[0].energized)

    def test_options(self):
        options = self.ok("<tmd:GetRelayOutputOptions/>").findall(TMD, "RelayOutputOptions")
        self.assertEqual([o.get("token") for o in options], ["R1", "R2"])
        self.assertEqual([m.text for m in options[1].findall(TMD, "Mode")],
                         ["Monostable", "Bistable"])
        self.assertEqual(options[1].findtext(TMD, "DelayTimes"), "0.5 60")
        self.assertEqual(options[0].findtext(TMD, "DelayTimes"), "0.1 600")
        one = self.ok("<tmd:GetRelayOutputOptions><tmd:RelayOutputToken>R2"
                      "</tmd:RelayOutputToken></tmd:GetRelayOutputOptions>")
        self.assertEqual(len(one.findall(TMD, "RelayOutputOptions")), 1)
        self.assertEqual(self.fault("<tmd:GetRelayOutputOptions><tmd:RelayOutputToken>x"
                                    "</tmd:RelayOutputToken></tmd:GetRelayOutputOptions>"),
                         ("Sender", ["InvalidArgVal", "RelayToken"]))

    def test_a_hardware_failure_is_the_receivers_fault(self):
        self.hal.relays[0].fail = True
        self.assertEqual(self.fault(relay_state("R1", "active")), ("Receiver", ["Action"]))
        self.hal.relays[0].fail = False
        self.ok(relay_state("R1", "active"))

    def test_settings_persist(self):
        folder = scratch_dir()
        try:
            self.tearDown()
            self.setUp()
            self.start(Settings(folder))
            self.ok(tmd_relay_settings("R1", "Monostable", "PT5S", "closed"))
            self.device.io.close()
            self.start(Settings(folder))
            props = self.ok("<tds:GetRelayOutputs/>").findall(TDS, "RelayOutputs")[0].find(
                TT, "Properties")
            self.assertEqual((props.findtext(TT, "Mode"), props.findtext(TT, "DelayTime"),
                              props.findtext(TT, "IdleState")), ("Monostable", "PT5S", "closed"))
        finally:
            remove_tree(folder)


class DigitalInputTest(DeviceIOTestCase):
    def test_inputs_and_their_idle_states(self):
        inputs = self.ok("<tmd:GetDigitalInputs/>").findall(TMD, "DigitalInputs")
        self.assertEqual([(i.get("token"), i.get("IdleState")) for i in inputs],
                         [("IN1", "open"), ("IN2", "closed")])

    def test_changes_are_published_as_logical_states(self):
        # IN2 idles closed and starts open: active (true) from the start.
        self.assertEqual(self.events("Device/Trigger/DigitalInput"),
                         [("Initialized", "IN1", "false"), ("Initialized", "IN2", "true")])
        self.hal.inputs[0].set(True)
        self.hal.inputs[1].set(True)
        self.assertEqual(self.events("Device/Trigger/DigitalInput")[2:],
                         [("Changed", "IN1", "true"), ("Changed", "IN2", "false")])

    def test_options(self):
        options = self.ok("<tmd:GetDigitalInputConfigurationOptions/>").find(
            TMD, "DigitalInputOptions")
        self.assertEqual([s.text for s in options.findall(TMD, "IdleState")], ["closed", "open"])
        self.assertEqual(self.fault("<tmd:GetDigitalInputConfigurationOptions><tmd:Token>x"
                                    "</tmd:Token></tmd:GetDigitalInputConfigurationOptions>"),
                         ("Sender", ["InvalidArgVal", "NoConfig"]))

    def set_inputs(self, *pairs):
        return "<tmd:SetDigitalInputConfigurations>%s</tmd:SetDigitalInputConfigurations>" % (
            "".join('<tmd:DigitalInputs token="%s" IdleState="%s"/>' % p for p in pairs))

    def test_configuration_flips_the_logical_state_and_is_all_or_nothing(self):
        self.ok(self.set_inputs(("IN1", "closed")))
        self.assertEqual(self.events("Device/Trigger/DigitalInput")[2:],
                         [("Changed", "IN1", "true")], "an open contact is now active")
        self.assertEqual(self.fault(self.set_inputs(("IN2", "open"), ("IN9", "open"))),
                         ("Sender", ["InvalidArgVal", "NoConfig"]))
        self.assertEqual(self.fault(self.set_inputs(("IN2", "open"), ("IN1", "ajar"))),
                         ("Sender", ["InvalidArgVal", "SettingsInvalid"]))
        inputs = self.ok("<tmd:GetDigitalInputs/>").findall(TMD, "DigitalInputs")
        self.assertEqual([i.get("IdleState") for i in inputs], ["closed", "closed"],
                         "the refused requests changed nothing")


class SerialPortTest(DeviceIOTestCase):
    def port(self):
        return self.hal.serial_ports[0]

    def config(self, baud=19200, parity="Even", length=8, stop="1", token="RS485",
               persist="false"):
        return ("<tmd:SetSerialPortConfiguration><tmd:SerialPortConfiguration token=\"%s\" "
                "type=\"RS485HalfDuplex\"><tmd:BaudRate>%s</tmd:BaudRate><tmd:ParityBit>%s"
                "</tmd:ParityBit><tmd:CharacterLength>%s</tmd:CharacterLength><tmd:StopBit>%s"
                "</tmd:StopBit></tmd:SerialPortConfiguration><tmd:ForcePersistance>%s"
                "</tmd:ForcePersistance></tmd:SetSerialPortConfiguration>"
                % (token, baud, parity, length, stop, persist))

    def test_configuration_round_trip(self):
        self.ok(self.config())
        conf = self.ok("<tmd:GetSerialPortConfiguration><tmd:SerialPortToken>RS485"
                       "</tmd:SerialPortToken></tmd:GetSerialPortConfiguration>").find(
            TMD, "SerialPortConfiguration")
        self.assertEqual(conf.get("type"), "RS485HalfDuplex")
        self.assertEqual([conf.findtext(TMD, n) for n in
                          ("BaudRate", "ParityBit", "CharacterLength", "StopBit")],
                         ["19200", "Even", "8", "1"])

    def test_options_and_faults(self):
        options = self.ok("<tmd:GetSerialPortConfigurationOptions><tmd:SerialPortToken>RS485"
                          "</tmd:SerialPortToken></tmd:GetSerialPortConfigurationOptions>").find(
            TMD, "SerialPortOptions")
        bauds = [i.text for i in options.find(TMD, "BaudRateList").findall(TT, "Items")]
        self.assertTrue("9600" in bauds and "115200" in bauds)
        self.assertEqual([i.text for i in options.find(TMD, "ParityBitList").findall(
            TMD, "Items")], ["None", "Even", "Odd"])
        self.assertEqual(self.fault(self.config(baud=12345)),
                         ("Sender", ["InvalidArgVal", "ConfigModify"]))
        self.assertEqual(self.fault(self.config(parity="Extended")),
                         ("Sender", ["InvalidArgVal", "ConfigModify"]))
        self.assertEqual(self.fault(self.config(token="COM9")),
                         ("Sender", ["InvalidArgVal", "InvalidSerialPort"]))
        self.assertEqual(self.fault(self.config(baud=1200)), ("Receiver", ["Action"]),
                         "offered, but the hardware refused")
        for body in ("<tmd:GetSerialPortConfiguration><tmd:SerialPortToken>x"
                     "</tmd:SerialPortToken></tmd:GetSerialPortConfiguration>",
                     "<tmd:GetSerialPortConfigurationOptions><tmd:SerialPortToken>x"
                     "</tmd:SerialPortToken></tmd:GetSerialPortConfigurationOptions>",
                     serial_command("<tmd:Token>x</tmd:Token>")):
            self.assertEqual(self.fault(body), ("Sender", ["InvalidArgVal", "InvalidSerialPort"]))

    def test_only_forced_configurations_persist(self):
        folder = scratch_dir()
        try:
            self.device.io.close()
            self.start(Settings(folder))
            self.ok(self.config(baud=38400, persist="false"))
            self.device.io.close()
            self.start(Settings(folder))
            self.assertEqual(self.port().config["baud_rate"], 9600)
            self.ok(self.config(baud=38400, persist="true"))
            self.device.io.close()
            self.start(Settings(folder))
            self.assertEqual(self.port().config["baud_rate"], 38400)
        finally:
            remove_tree(folder)

    # -- SendReceiveSerialCommand ----------------------------------------------------------------

    def send(self, inner):
        """Start a command; returns a function that collects the (single) response."""
        return self.client.start(DEVICEIO, envelope(serial_command(inner)))

    def serial_data(self, response):
        data = response.body_child.find(TMD, "SerialData")
        if data is None:
            return None
        for name in ("Binary", "String"):
            if data.find(TMD, name) is not None:
                return name, data.findtext(TMD, name)

    def test_binary_with_data_length(self):
        self.port().peer = lambda data: b"\x01\x03\x02\x00\x2a\x38\x5f" if data else b""
        result = self.send("<tmd:Token>RS485</tmd:Token><tmd:SerialData><tmd:Binary>AQMAAAAB"
                           "hAo=</tmd:Binary></tmd:SerialData><tmd:TimeOut>PT1S</tmd:TimeOut>"
                           "<tmd:DataLength>7</tmd:DataLength>")
        self.assertEqual(result(), [], "the answer waits for the bytes")
        advance(self.loop, self.clock, 20)
        responses = result()
        self.assertEqual(len(responses), 1)
        self.assertEqual(self.serial_data(responses[0]), ("Binary", "AQMCACo4Xw=="))
        self.assertEqual(self.port().written, b"\x01\x03\x00\x00\x00\x01\x84\x0a")

    def test_string_with_a_multi_character_delimiter(self):
        self.port().peer = lambda data: b"OK 42\r\nnext"
        result = self.send("<tmd:SerialData><tmd:String>STATUS?</tmd:String></tmd:SerialData>"
                           "<tmd:TimeOut>PT2S</tmd:TimeOut><tmd:Delimiter>\r\n</tmd:Delimiter>")
        advance(self.loop, self.clock, 50)
        self.assertEqual(self.serial_data(result()[0]), ("String", "OK 42\r\n"),
                         "delimiter included, what follows it is not")

    def test_timeout_returns_what_arrived(self):
        self.port().peer = lambda data: b"\x05\x06"
        result = self.send("<tmd:SerialData><tmd:Binary>AA==</tmd:Binary></tmd:SerialData>"
                           "<tmd:TimeOut>PT0.5S</tmd:TimeOut><tmd:DataLength>10</tmd:DataLength>")
        advance(self.loop, self.clock, 400)
        self.assertEqual(result(), [])
        advance(self.loop, self.clock, 200)
        self.assertEqual(self.serial_data(result()[0]), ("Binary", "BQY="))

    def test_a_silent_peer_times_out_empty(self):
        result = self.send("<tmd:SerialData><tmd:Binary>AA==</tmd:Binary></tmd:SerialData>"
                           "<tmd:TimeOut>PT1S</tmd:TimeOut><tmd:DataLength>4</tmd:DataLength>")
        advance(self.loop, self.clock, 1100)
        response = result()[0]
        self.assertEqual(response.status, 200)
        self.assertEqual(self.serial_data(response), None)

    def test_no_timeout_and_no_length_sends_only(self):
        result = self.send("<tmd:SerialData><tmd:String>beep</tmd:String></tmd:SerialData>")
        self.assertEqual(self.serial_data(result()[0]), None)
        self.assertEqual(self.port().written, b"beep")
        result = self.send("<tmd:SerialData><tmd:String>x</tmd:String></tmd:SerialData>"
                           "<tmd:TimeOut>PT0S</tmd:TimeOut><tmd:DataLength>4</tmd:DataLength>")
        self.assertEqual(len(result()), 1, "PT0S: at once")

    def test_a_flooding_peer_is_bounded(self):
        self.port().peer = lambda data: b"\xff" * 100000
        self.port().chunk = 256
        result = self.send("<tmd:SerialData><tmd:Binary>AA==</tmd:Binary></tmd:SerialData>"
                           "<tmd:TimeOut>PT5S</tmd:TimeOut>")
        advance(self.loop, self.clock, 100)
        kind, text = self.serial_data(result()[0])
        self.assertEqual(len(text), 1368, "1024 bytes, base64, at most")

    def test_faults(self):
        big = "QUFB" * 400  # 1200 bytes
        self.assertEqual(self.fault(serial_command(
            "<tmd:SerialData><tmd:Binary>%s</tmd:Binary></tmd:SerialData>" % big)),
            ("Sender", ["OperationProhibited", "DataLengthOver"]))
        self.assertEqual(self.fault(serial_command("<tmd:DataLength>100000</tmd:DataLength>")),
                         ("Sender", ["OperationProhibited", "DataLengthOver"]))
        self.assertEqual(self.fault(serial_command(
            "<tmd:Delimiter>%s</tmd:Delimiter>" % ("x" * 17))),
            ("Sender", ["OperationProhibited", "DelimiterNotSupported"]))
        self.assertEqual(self.fault(serial_command("<tmd:TimeOut>later</tmd:TimeOut>")),
                         ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.fault(serial_command(
            "<tmd:SerialData><tmd:Binary>!!!</tmd:Binary></tmd:SerialData>")),
            ("Sender", ["InvalidArgVal"]))

    def test_commands_queue_per_port_and_a_departed_client_is_skipped(self):
        self.port().peer = lambda data: data.upper()
        first = self.send("<tmd:SerialData><tmd:String>one</tmd:String></tmd:SerialData>"
                          "<tmd:TimeOut>PT1S</tmd:TimeOut><tmd:DataLength>3</tmd:DataLength>")
        self.client.session.abandon()  # the first client leaves before its answer
        self.client = InMemoryClient(self.client.session.app)
        second = self.send("<tmd:SerialData><tmd:String>two</tmd:String></tmd:SerialData>"
                           "<tmd:TimeOut>PT1S</tmd:TimeOut><tmd:DataLength>3</tmd:DataLength>")
        advance(self.loop, self.clock, 50)
        self.assertEqual(first(), [])
        self.assertEqual(self.serial_data(second()[0]), ("String", "TWO"))
        self.assertEqual(self.port().written, b"onetwo")

    def test_a_port_that_takes_bytes_slowly_still_gets_them_all(self):
        self.port().accept = 2
        result = self.send("<tmd:SerialData><tmd:String>abcdefg</tmd:String></tmd:SerialData>"
                           "<tmd:TimeOut>PT0S</tmd:TimeOut>")
        advance(self.loop, self.clock, 100)
        self.assertEqual(self.port().written, b"abcdefg")
        self.assertEqual(len(result()), 1)


class MediaTest(DeviceIOTestCase):
    def test_no_video_or_audio(self):
        for name in ("GetVideoSources", "GetAudioSources", "GetAudioOutputs", "GetVideoOutputs"):
            self.assertEqual(self.ok("<tmd:%s/>" % name).children, [], name)
        for name in ("GetVideoOutputConfiguration", "GetVideoOutputConfigurationOptions"):
            body = ("<tmd:%s><tmd:VideoOutputToken>V1</tmd:VideoOutputToken></tmd:%s>"
                    % (name, name))
            self.assertEqual(self.fault(body), ("Sender", ["InvalidArgVal", "NoVideoOutput"]))

    def test_deprecated_configuration_operations_are_not_supported(self):
        for name in ("GetVideoSourceConfiguration", "SetAudioOutputConfiguration",
                     "GetAudioSourceConfigurationOptions"):
            self.assertEqual(self.fault("<tmd:%s/>" % name),
                             ("Receiver", ["ActionNotSupported"]), name)
