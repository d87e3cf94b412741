"""SendAuxiliaryCommand (issue 8, checklist 8.6, 8.2.1 Misc AuxiliaryCommands): board-declared
commands set relays (with their events), pulses end on the loop clock, the faults, the
capability listings, ActionNotSupported without commands, and the board file's checks."""

import unittest

from agent import log
from agent.app import build_app
from agent.board import check_board
from agent.errors import ConfigError
from tests.iofakes import BOARD, advance, make_device
from tests.soapclient import InMemoryClient
from tests.support import AllowAll, Quiet

DEVICE = "/onvif/device_service"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TT = "http://www.onvif.org/ver10/schema"
COMMANDS = ["Buzzer|On", "Buzzer|Off", "Buzzer|Beep", "tt:IRLamp|On", "Strike|Pulse"]


def aux_board(**fields):
    """A checked sim board: R1 bistable (a buzzer), R2 monostable with a 2 s DelayTime."""
    board = {"name": "door-1", "hal": "sim",
             "relays": [{"token": "R1"}, {"token": "R2", "mode": "Monostable", "delay_time": 2,
                                          "delay_times": [0.5, 60]}],
             "auxiliary_commands": [
                 {"command": "Buzzer|On", "relay": "R1"},
                 {"command": "Buzzer|Off", "relay": "R1", "state": "inactive"},
                 {"command": "Buzzer|Beep", "relay": "R1", "pulse_ms": 300},
                 {"command": "tt:IRLamp|On", "relay": "R2"},
                 {"command": "Strike|Pulse", "relay": "R2", "pulse_ms": 500}]}
    board.update(fields)
    return check_board(board, "aux.json")


def send(command):
    return ("<tds:SendAuxiliaryCommand><tds:AuxiliaryCommand>%s</tds:AuxiliaryCommand>"
            "</tds:SendAuxiliaryCommand>" % command)


class AuxTestCase(unittest.TestCase):
    board = None

    def setUp(self):
        log.set_stream(Quiet())
        self.device, self.hal, self.loop, self.clock, self.messages = make_device(
            self.board or aux_board())
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        log.set_stream(None)

    def call(self, body):
        return self.client.call(body, path=DEVICE)

    def ok(self, body):
        response = self.call(body)
        self.assertEqual(response.status, 200, response.body)
        return response.body_child

    def relay_events(self):
        return [(m.operation, m.source[0][1], m.data[0][1]) for m in self.messages
                if m.topic == "Device/Trigger/Relay" and m.operation == "Changed"]

    def capabilities(self):
        return self.ok("<tds:GetServiceCapabilities/>").find(TDS, "Capabilities")

    def legacy_io(self):
        caps = self.ok("<tds:GetCapabilities/>").find(TDS, "Capabilities")
        return caps.find(TT, "Device").find(TT, "IO")


class SendAuxiliaryCommandTest(AuxTestCase):
    def test_a_command_sets_its_relay_with_the_relay_event(self):
        response = self.ok(send("Buzzer|On"))
        self.assertEqual((response.name, response.children), ("SendAuxiliaryCommandResponse", []))
        self.assertTrue(self.hal.relays[0].energized)
        self.ok(send("Buzzer|Off"))
        self.assertFalse(self.hal.relays[0].energized)
        self.assertEqual(self.relay_events(), [("Changed", "R1", "active"),
                                               ("Changed", "R1", "inactive")])

    def test_a_pulse_ends_after_pulse_ms_on_the_loop_clock(self):
        self.ok(send("Buzzer|Beep"))
        advance(self.loop, self.clock, 290)
        self.assertTrue(self.hal.relays[0].energized, "still on before 300 ms")
        advance(self.loop, self.clock, 20)
        self.assertFalse(self.hal.relays[0].energized)
        self.assertEqual(self.relay_events(), [("Changed", "R1", "active"),
                                               ("Changed", "R1", "inactive")])

    def test_the_pulse_replaces_a_monostable_delay_time(self):
        self.ok(send("Strike|Pulse"))  # R2 would fall back after its 2 s DelayTime
        advance(self.loop, self.clock, 510)
        self.assertFalse(self.hal.relays[1].energized)
        self.ok("<tds:SetRelayOutputState><tds:RelayOutputToken>R2</tds:RelayOutputToken>"
                "<tds:LogicalState>active</tds:LogicalState></tds:SetRelayOutputState>")
        advance(self.loop, self.clock, 1900)  # past the 2 s the pulse's command would have had
        self.assertTrue(self.hal.relays[1].energized, "its own DelayTime, not a leftover timer")
        advance(self.loop, self.clock, 200)
        self.assertFalse(self.hal.relays[1].energized)
        self.assertEqual(self.relay_events(), [("Changed", "R2", "active"),
                                               ("Changed", "R2", "inactive")] * 2)

    def test_the_next_command_on_the_relay_cancels_the_pulse(self):
        self.ok(send("Buzzer|Beep"))
        self.ok("<tds:SetRelayOutputState><tds:RelayOutputToken>R1</tds:RelayOutputToken>"
                "<tds:LogicalState>active</tds:LogicalState></tds:SetRelayOutputState>")
        advance(self.loop, self.clock, 1000)
        self.assertTrue(self.hal.relays[0].energized, "SetRelayOutputState wins")
        self.ok(send("Buzzer|Beep"))
        self.ok(send("Buzzer|On"))
        advance(self.loop, self.clock, 1000)
        self.assertTrue(self.hal.relays[0].energized, "Buzzer|On wins")

    def test_faults(self):
        self.assertEqual(self.call(send("Buzzer|Loud")).fault(),
                         ("Sender", ["InvalidArgVal", "AuxiliaryDataNotSupported"]))
        self.assertEqual(self.call(send("buzzer|on")).fault(),
                         ("Sender", ["InvalidArgVal", "AuxiliaryDataNotSupported"]))
        self.assertEqual(self.call(send("B" * 129)).fault(), ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.call("<tds:SendAuxiliaryCommand/>").fault(),
                         ("Sender", ["InvalidArgs"]))
        self.assertEqual(self.relay_events(), [])

    def test_a_hardware_failure_is_the_receivers_fault(self):
        self.hal.relays[0].fail = True
        self.assertEqual(self.call(send("Buzzer|On")).fault(), ("Receiver", ["Action"]))

    def test_capabilities_list_the_commands(self):
        misc = self.capabilities().find(TDS, "Misc")
        self.assertEqual(misc.get("AuxiliaryCommands").split(" "), COMMANDS)
        extension = self.legacy_io().find(TT, "Extension")
        self.assertEqual(extension.findtext(TT, "Auxiliary"), "true")
        self.assertEqual([e.text for e in extension.findall(TT, "AuxiliaryCommands")], COMMANDS)


class WithoutCommandsTest(AuxTestCase):
    board = BOARD

    def test_action_not_supported_and_no_capability(self):
        self.assertEqual(self.call(send("Buzzer|On")).fault(),
                         ("Receiver", ["ActionNotSupported"]))
        self.assertEqual(self.capabilities().find(TDS, "Misc"), None)
        self.assertEqual(self.legacy_io().find(TT, "Extension"), None)
        self.assertEqual(self.relay_events(), [])


class BoardCheckTest(unittest.TestCase):
    def problem(self, *entries):
        try:
            aux_board(auxiliary_commands=list(entries))
        except ConfigError as exc:
            return str(exc)
        self.fail("accepted %r" % (entries,))

    def test_defaults_are_filled(self):
        board = aux_board()
        self.assertEqual(board["auxiliary_commands"][0],
                         {"command": "Buzzer|On", "relay": "R1", "state": "active"})
        self.assertEqual(aux_board(auxiliary_commands=[])["auxiliary_commands"], [])
        board = {"name": "t", "hal": "sim"}
        self.assertEqual(check_board(board, "t.json")["auxiliary_commands"], [])

    def test_errors_name_the_field(self):
        cases = (
            ({"command": "Buzzer|On", "relay": "R9"},
             'auxiliary_commands[0].relay: no relay "R9" (relays: R1, R2)'),
            ({"command": "Buzzer|On"}, "auxiliary_commands[0].relay: missing (required)"),
            ({"command": "Buzzer|On", "relay": "R1", "colour": "red"},
             "auxiliary_commands[0].colour: unknown field"),
            ({"command": "Buzzer On", "relay": "R1"},
             "auxiliary_commands[0].command: must be 1 to 128 characters without spaces"),
            ({"command": "B" * 129, "relay": "R1"},
             "auxiliary_commands[0].command: must be 1 to 128 characters"),
            ({"command": "", "relay": "R1"}, "auxiliary_commands[0].command: must be"),
            ({"command": "tt:Buzzer|On", "relay": "R1"},
             'auxiliary_commands[0].command: "tt:Buzzer|On": the tt: prefix is reserved'),
            ({"command": "Buzzer|On", "relay": "R1", "state": "on"},
             'auxiliary_commands[0].state: unknown "on" (one of: active, inactive)'),
            ({"command": "Buzzer|On", "relay": "R1", "pulse_ms": 0},
             "auxiliary_commands[0].pulse_ms: must be an integer from 1 to 600000"),
            ({"command": "Buzzer|On", "relay": "R1", "state": "inactive", "pulse_ms": 5},
             'auxiliary_commands[0].pulse_ms: a pulse needs state "active"'),
        )
        for entry, message in cases:
            problem = self.problem(entry)
            self.assertTrue(problem.startswith("board file aux.json: " + message), problem)

    def test_commands_are_unique_and_bounded(self):
        entry = {"command": "Buzzer|On", "relay": "R1"}
        self.assertEqual(self.problem(entry, dict(entry)),
                         'board file aux.json: auxiliary_commands[1].command: "Buzzer|On" is '
                         'already used by auxiliary_commands[0]')
        many = [{"command": "C%d" % i, "relay": "R1"} for i in range(17)]
        self.assertEqual(self.problem(*many),
                         "board file aux.json: auxiliary_commands: 17 entries, at most 16")
        self.assertEqual(len(aux_board(auxiliary_commands=many[:16])["auxiliary_commands"]), 16)

    def test_every_reserved_command_and_a_128_character_one_pass(self):
        reserved = ("tt:Wiper|On", "tt:Wiper|Off", "tt:Washer|On", "tt:Washer|Off",
                    "tt:WashingProcedure|On", "tt:WashingProcedure|Off", "tt:IRLamp|On",
                    "tt:IRLamp|Off", "tt:IRLamp|Auto", "V" * 128)
        board = aux_board(auxiliary_commands=[{"command": c, "relay": "R2"} for c in reserved])
        self.assertEqual(len(board["auxiliary_commands"]), len(reserved))

    def test_a_board_without_relays_has_none_to_name(self):
        try:
            aux_board(relays=[], auxiliary_commands=[{"command": "X", "relay": "R1"}])
        except ConfigError as exc:
            self.assertEqual(str(exc), 'board file aux.json: auxiliary_commands[0].relay: '
                                       'no relay "R1" (relays: none)')
            return
        self.fail("accepted")


if __name__ == "__main__":
    unittest.main()
