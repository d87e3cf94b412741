"""agent.board: every shipped board loads, every kind of mistake in a board file is one ConfigError
naming the file and the field path, and defaults are filled so callers can rely on each field."""

import json
import os
import unittest

from agent.board import HAL_RULES, HALS, board_dirs, load_board
from agent.errors import ConfigError
from tests.support import remove_tree, scratch_dir

SHIPPED = ("beaglebone-black", "desktop", "esp32", "pi-door", "pico-w", "pico2-w", "usbrelay-4")

RELAY_DEFAULTS = {"contact": "NO", "active_low": False, "idle_state": "open", "mode": "Bistable",
                  "delay_time": 1, "delay_times": [0.1, 600]}
INPUT_DEFAULTS = {"pull": "up", "active_low": True, "debounce_ms": 20, "idle_state": "open"}
SERIAL_DEFAULTS = {"type": "RS232", "direction": None, "baud_rate": 9600, "parity": "None",
                   "character_length": 8, "stop_bits": 1,
                   "baud_rates": [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200],
                   "parities": ["None", "Even", "Odd"], "character_lengths": [7, 8],
                   "stop_bit_list": [1.0, 2.0]}


def pi_board(**fields):
    """A valid Raspberry Pi board; keyword arguments replace or add top-level fields."""
    board = {"name": "t", "hal": "pi",
             "relays": [{"token": "R1", "pin": 17}, {"token": "R2", "pin": 27}],
             "inputs": [{"token": "IN1", "pin": 22}],
             "serial_ports": [{"token": "S1", "device": "/dev/ttyAMA0"}]}
    board.update(fields)
    return board


def with_entry(section, index, board=None, **fields):
    """`board` (default pi_board()) with fields of one relay, input or serial port changed;
    a value of None removes the field."""
    board = board or pi_board()
    entry = dict(board[section][index])
    entry.update(fields)
    for name in [name for name in entry if entry[name] is None]:
        del entry[name]
    board[section] = board[section][:index] + [entry] + board[section][index + 1:]
    return board


def machine_board(**fields):
    board = {"name": "m", "hal": "machine", "relays": [{"token": "R1", "pin": 25}],
             "inputs": [{"token": "IN1", "pin": "GP10"}],
             "serial_ports": [{"token": "S1", "device": 2, "tx": 17, "rx": 16}]}
    board.update(fields)
    return board


def beaglebone_board(**fields):
    board = {"name": "b", "hal": "beaglebone",
             "relays": [{"token": "R1", "chip": "gpiochip1", "line": 13}],
             "inputs": [{"token": "IN1", "chip": "gpiochip0", "line": 13}]}
    board.update(fields)
    return board


def usbrelay_board(**fields):
    board = {"name": "u", "hal": "usbrelay", "device": "/dev/ttyUSB0",
             "relays": [{"token": "R1", "channel": 1}, {"token": "R2", "channel": 2}]}
    board.update(fields)
    return board


class ShippedBoardsTest(unittest.TestCase):
    def test_every_board_in_the_folder_loads(self):
        folder = board_dirs()[0]  # the source tree; MicroPython runs get a copy at the same path
        names = sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".json"))
        for name in SHIPPED:
            self.assertIn(name, names)
        for name in names:
            board = load_board(name)
            self.assertEqual(board["name"], name)  # --board NAME finds the board called NAME
            self.assertIn(board["hal"], HALS)
            for field in ("description", "manufacturer", "model", "hardware_id"):
                self.assertIsInstance(board.get(field), str, name + ": " + field)
            self.assertTrue(board["relays"], name)

    def test_the_desktop_simulator(self):
        board = load_board()
        self.assertEqual((board["name"], board["hal"]), ("desktop", "sim"))
        self.assertEqual([(r["token"], r["contact"]) for r in board["relays"]],
                         [("R1", "NO"), ("R2", "NO")])
        self.assertEqual([(i["token"], i["debounce_ms"]) for i in board["inputs"]],
                         [("IN1", 20), ("IN2", 20)])
        port = board["serial_ports"][0]
        self.assertEqual((port["token"], port["device"], port["type"], port["direction"],
                          port["baud_rate"], port["parity"], port["character_length"],
                          port["stop_bits"]),
                         ("RS485", "pty", "RS485HalfDuplex", "auto", 9600, "None", 8, 1))

    def test_every_hal_has_rules(self):
        self.assertEqual(sorted(HAL_RULES), sorted(HALS))


class BoardFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.files = 0

    def tearDown(self):
        remove_tree(self.dir)

    def load(self, board):
        self.files += 1
        path = "%s/board-%d.json" % (self.dir, self.files)
        with open(path, "w") as f:
            f.write(json.dumps(board))
        return path, load_board(path)

    def problem(self, board):
        """The message without its "board file PATH: " prefix, which it must start with."""
        self.files += 1
        path = "%s/board-%d.json" % (self.dir, self.files)
        with open(path, "w") as f:
            f.write(json.dumps(board))
        with self.assertRaises(ConfigError) as ctx:
            load_board(path)
        message = str(ctx.exception)
        prefix = "board file %s: " % path
        self.assertTrue(message.startswith(prefix), message)
        return message[len(prefix):]

    def assertProblem(self, board, field, *fragments):
        message = self.problem(board)
        self.assertTrue(message.startswith(field + ": "), message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def assertLoads(self, board):
        self.load(board)


class DefaultsTest(BoardFileTest):
    def test_every_documented_field_is_filled(self):
        board = self.load({"name": "t", "hal": "pi", "relays": [{"token": "R1", "pin": 17}],
                           "inputs": [{"token": "IN1", "pin": 22}],
                           "serial_ports": [{"token": "S1", "device": "/dev/ttyAMA0"}]})[1]
        self.assertEqual(board["relays"], [dict(RELAY_DEFAULTS, token="R1", pin=17)])
        self.assertEqual(board["inputs"], [dict(INPUT_DEFAULTS, token="IN1", pin=22)])
        self.assertEqual(board["serial_ports"],
                         [dict(SERIAL_DEFAULTS, token="S1", device="/dev/ttyAMA0")])
        self.assertEqual((board["scopes"], board["allow_password_text"]), ([], False))
        self.assertEqual(self.load({"name": "t", "hal": "sim"})[1]["relays"], [])

    def test_given_values_are_kept(self):
        relay = {"token": "R1", "pin": 17, "contact": "NC", "active_low": True,
                 "idle_state": "closed", "mode": "Monostable", "delay_time": 0.5,
                 "delay_times": [0.5, 2]}
        self.assertEqual(self.load(pi_board(relays=[relay]))[1]["relays"], [relay])

    def test_input_level_follows_the_pull(self):
        inputs = [{"token": "A", "pin": 1, "pull": "down"}, {"token": "B", "pin": 2, "pull": "off"},
                  {"token": "C", "pin": 3, "pull": "off", "active_low": False}]
        board = self.load(pi_board(inputs=inputs))[1]
        self.assertEqual([line["active_low"] for line in board["inputs"]], [False, True, False])

    def test_usbrelay_baud_rate(self):
        self.assertEqual(self.load(usbrelay_board())[1]["baud_rate"], 9600)

    def test_network_backend_follows_the_hal(self):
        """Checklist 8.3: Linux boards report the machine's network, the desktop simulator a
        simulated one, MicroPython boards their firmware's interfaces."""
        for board, network in ((pi_board(), "linux"), (beaglebone_board(), "linux"),
                               (usbrelay_board(), "linux"), ({"name": "t", "hal": "sim"}, "sim"),
                               (machine_board(), "machine")):
            self.assertEqual(self.load(board)[1]["network"], network)
        self.assertEqual(self.load({"name": "t", "hal": "sim", "network": "linux"})[1]["network"],
                         "linux")

    def test_null_direction_is_no_direction(self):
        board = self.load(with_entry("serial_ports", 0, direction=None))[1]
        self.assertIsNone(board["serial_ports"][0]["direction"])


class ProblemsTest(BoardFileTest):
    """One test per rule family; each names the field and what is wrong with it."""

    def test_not_a_board(self):
        self.assertEqual(self.problem([]), "must be a JSON object, not []")

    def test_unknown_keys(self):
        self.assertProblem(pi_board(relay=[]), "relay", "unknown field", "relays")
        self.assertProblem(with_entry("relays", 1, pinn=4), "relays[1].pinn", "unknown field")
        self.assertProblem(with_entry("inputs", 0, debounce=5), "inputs[0].debounce", "debounce_ms")
        self.assertProblem(with_entry("serial_ports", 0, baudrate=9600),
                           "serial_ports[0].baudrate", "baud_rate")
        # fields of another HAL are typos here too
        self.assertProblem(pi_board(device="/dev/ttyUSB0"), "device", "a pi board knows")
        self.assertProblem(with_entry("serial_ports", 0, tx=14), "serial_ports[0].tx")
        self.assertProblem(with_entry("relays", 0, beaglebone_board(), pin=3), "relays[0].pin",
                           "chip", "line")

    def test_required_and_typed_fields(self):
        nameless = pi_board()
        del nameless["name"]
        self.assertProblem(nameless, "name", "missing (required)")
        self.assertProblem(pi_board(name=""), "name", "non-empty string")
        self.assertProblem(pi_board(name=7), "name", "not 7")
        self.assertProblem(pi_board(model=["x"]), "model", "string")
        self.assertProblem(pi_board(allow_password_text="yes"), "allow_password_text",
                           "true or false", '"yes"')
        self.assertProblem(pi_board(scopes="urn:x"), "scopes", "list")
        self.assertProblem(pi_board(relays={"token": "R1"}), "relays", "list")
        self.assertProblem(pi_board(inputs=["IN1"]), "inputs[0]", "JSON object")
        self.assertProblem(with_entry("serial_ports", 0, device=None), "serial_ports[0].device",
                           "missing")
        self.assertProblem(with_entry("serial_ports", 0, device="ttyAMA0"),
                           "serial_ports[0].device", "device path")

    def test_hal_name(self):
        self.assertEqual(self.problem(pi_board(hal="rpi")),
                         'hal: unknown "rpi" (one of: beaglebone, machine, pi, sim, usbrelay)')
        board = pi_board()
        del board["hal"]
        self.assertProblem(board, "hal", "missing (required)")

    def test_network_backend(self):
        self.assertEqual(self.problem(machine_board(network="linux")),
                         'network: unknown "linux" (one of: machine)')
        self.assertEqual(self.problem(pi_board(network="machine")),
                         'network: unknown "machine" (one of: linux, sim)')
        self.assertProblem(pi_board(network=True), "network", "unknown true")

    def test_tokens(self):
        self.assertProblem(with_entry("relays", 0, token=None), "relays[0].token", "missing")
        for bad in ("", "a b", "R/1", "T\u00fcr", "x" * 65, 5):
            self.assertProblem(with_entry("inputs", 0, token=bad), "inputs[0].token",
                               "ReferenceToken")
        self.assertLoads(with_entry("inputs", 0, token="A-z_0.9" + "x" * 57))  # 64 characters
        self.assertEqual(self.problem(with_entry("relays", 1, token="R1")),
                         'relays[1].token: "R1" is already used by relays[0]')
        # unique per list: a relay and an input may share a token
        self.assertLoads(with_entry("inputs", 0, token="R1"))

    def test_address_fields_per_hal(self):
        self.assertProblem(with_entry("relays", 0, pin=None), "relays[0].pin", "missing")
        for bad in (28, -1, "17", 1.0, True):
            self.assertProblem(with_entry("relays", 0, pin=bad), "relays[0].pin", "0 to 27")
        self.assertProblem(with_entry("inputs", 0, beaglebone_board(), line=None),
                           "inputs[0].line", "missing")
        self.assertProblem(with_entry("inputs", 0, beaglebone_board(), chip=""),
                           "inputs[0].chip", "non-empty string")
        for bad in (0, 9):
            self.assertProblem(with_entry("relays", 1, usbrelay_board(), channel=bad),
                               "relays[1].channel", "1 to 8")
        no_device = usbrelay_board()
        del no_device["device"]
        self.assertProblem(no_device, "device", "missing")
        for bad in (-1, True, "", [25]):
            self.assertProblem(with_entry("relays", 0, machine_board(), pin=bad),
                               "relays[0].pin", "GPIO number or a pin name")
        self.assertProblem(with_entry("serial_ports", 0, machine_board(), device="/dev/ttyS0"),
                           "serial_ports[0].device", "integer")
        sim = {"name": "s", "hal": "sim", "relays": [{"token": "R1", "pin": 4}]}
        self.assertProblem(sim, "relays[0].pin", "unknown field")  # the simulator has no pins
        sim = {"name": "s", "hal": "sim", "serial_ports": [{"token": "S1", "device": "/dev/ttyS0"}]}
        self.assertProblem(sim, "serial_ports[0].device", '(one of: pty)')

    def test_addresses_are_unique(self):
        self.assertEqual(self.problem(with_entry("relays", 1, pin=17)),
                         "relays[1].pin: 17 is already used by relays[0]")
        self.assertEqual(self.problem(with_entry("inputs", 0, pin=27)),
                         "inputs[0].pin: 27 is already used by relays[1]")
        self.assertEqual(self.problem(with_entry("inputs", 0, beaglebone_board(),
                                                 chip="gpiochip1")),
                         'inputs[0].line: chip "gpiochip1" line 13 is already used by relays[0]')
        self.assertLoads(beaglebone_board())  # the same line on another chip is another pin
        self.assertEqual(self.problem(with_entry("relays", 1, usbrelay_board(), channel=1)),
                         "relays[1].channel: 1 is already used by relays[0]")
        self.assertEqual(self.problem(with_entry("serial_ports", 0, machine_board(), rx=25)),
                         "serial_ports[0].rx: 25 is already used by relays[0]")
        self.assertEqual(self.problem(with_entry("inputs", 0, machine_board(), pin=17)),
                         "serial_ports[0].tx: 17 is already used by inputs[0]")

    def test_enumerations(self):
        cases = (("relays", "contact", "no", "NO, NC"),
                 ("relays", "idle_state", "Open", "open, closed"),
                 ("relays", "mode", "monostable", "Monostable, Bistable"),
                 ("inputs", "pull", "none", "up, down, off"),
                 ("inputs", "idle_state", True, "open, closed"),
                 ("serial_ports", "type", "RS485", "RS232, RS422HalfDuplex, RS422FullDuplex, "
                  "RS485HalfDuplex, RS485FullDuplex, Generic"),
                 ("serial_ports", "direction", "manual", "kernel, auto"),
                 ("serial_ports", "parity", "none", "None, Even, Odd, Mark, Space"),
                 ("serial_ports", "stop_bits", 3, "1, 1.5, 2"),
                 ("serial_ports", "stop_bits", True, "1, 1.5, 2"))
        for section, field, bad, choices in cases:
            self.assertProblem(with_entry(section, 0, **{field: bad}),
                               "%s[0].%s" % (section, field),
                               "unknown %s (one of: %s)" % (json.dumps(bad), choices))

    def test_numbers_in_range(self):
        for bad in (-1, 1001, 20.5, "20"):
            self.assertProblem(with_entry("inputs", 0, debounce_ms=bad), "inputs[0].debounce_ms",
                               "0 to 1000")
        for good in (0, 1000):
            self.assertLoads(with_entry("inputs", 0, debounce_ms=good))
        for bad in ([5, 1], [0, 1], [1], [1, "2"], "1-5"):
            self.assertProblem(with_entry("relays", 0, delay_times=bad), "relays[0].delay_times",
                               "0 < min <= max")
        self.assertProblem(with_entry("relays", 0, delay_time=0), "relays[0].delay_time",
                           "above 0")
        self.assertEqual(self.problem(with_entry("relays", 0, delay_time=700)),
                         "relays[0].delay_time: 700 is outside delay_times [0.1, 600]")
        self.assertProblem(with_entry("relays", 0, delay_time=0.5, delay_times=[1, 10]),
                           "relays[0].delay_time", "outside")
        self.assertLoads(with_entry("relays", 0, delay_time=10, delay_times=[1, 10]))
        for where, bad in (("baud_rate", 0), ("baud_rate", 9600.0), ("baud_rates", []),
                           ("baud_rates[1]", [9600, -1]), ("character_length", 4),
                           ("character_length", 9), ("character_lengths[1]", [8, 9])):
            field = where.split("[")[0]
            self.assertProblem(with_entry("serial_ports", 0, **{field: bad}),
                               "serial_ports[0]." + where, json.dumps(bad if field == where
                                                                      else bad[1]))

    def test_start_configuration_within_options(self):
        for field, value, options in (("baud_rate", 250000, "baud_rates"),
                                      ("parity", "Mark", "parities"),
                                      ("character_length", 5, "character_lengths"),
                                      ("stop_bits", 1.5, "stop_bit_list")):
            self.assertProblem(with_entry("serial_ports", 0, **{field: value}),
                               "serial_ports[0]." + field, "is not among " + options)
        self.assertLoads(with_entry("serial_ports", 0, baud_rate=250000, baud_rates=[250000],
                                    parity="Mark", parities=["Mark"], character_length=5,
                                    character_lengths=[5], stop_bits=1.5, stop_bit_list=[1.5]))
        # the default start value must be offered too
        self.assertProblem(with_entry("serial_ports", 0, baud_rates=[19200]),
                           "serial_ports[0].baud_rate", "9600 is not among baud_rates [19200]")

    def test_what_a_micropython_uart_cannot_do(self):
        self.assertProblem(with_entry("serial_ports", 0, machine_board(), parity="Mark",
                                      parities=["None", "Mark"]),
                           "serial_ports[0].parities", "a machine board cannot do \"Mark\"")
        self.assertProblem(with_entry("serial_ports", 0, machine_board(),
                                      stop_bit_list=[1, 1.5]),
                           "serial_ports[0].stop_bit_list", "a machine board cannot do 1.5")

    def test_rs485_direction(self):
        half = {"type": "RS485HalfDuplex"}
        self.assertProblem(with_entry("serial_ports", 0, **half), "serial_ports[0].direction",
                           "needs one of: kernel, auto")
        for direction in ("kernel", "auto"):
            self.assertLoads(with_entry("serial_ports", 0, direction=direction, **half))
        self.assertProblem(with_entry("serial_ports", 0, machine_board(), direction="kernel",
                                      **half),
                           "serial_ports[0].direction", "machine board needs one of: auto")
        self.assertLoads(with_entry("serial_ports", 0, machine_board(), direction="auto", **half))
        for kind in ("RS232", "RS485FullDuplex", "RS422FullDuplex", "Generic"):
            self.assertProblem(with_entry("serial_ports", 0, type=kind, direction="auto"),
                               "serial_ports[0].direction", "no direction to switch")
            self.assertLoads(with_entry("serial_ports", 0, type=kind))

    def test_sections_a_hal_does_not_have(self):
        self.assertEqual(self.problem(usbrelay_board(inputs=[{"token": "IN1"}])),
                         "inputs: a usbrelay board has no inputs")
        self.assertEqual(self.problem(usbrelay_board(serial_ports=[{"token": "S1"}])),
                         "serial_ports: a usbrelay board has no serial ports")
        self.assertLoads(usbrelay_board(inputs=[], serial_ports=[]))

    def test_input_level_contradicting_the_pull(self):
        self.assertEqual(self.problem(with_entry("inputs", 0, active_low=False)),
                         'inputs[0].active_low: false contradicts pull "up" '
                         '(a closed contact reads low)')
        self.assertProblem(with_entry("inputs", 0, pull="down", active_low=True),
                           "inputs[0].active_low", "reads high")

    def test_at_most_16_relays_16_inputs_4_serial_ports(self):
        def entries(count, **fields):
            return [dict(fields, token="T%d" % i, pin=i) for i in range(count)]
        self.assertLoads(pi_board(relays=entries(16), inputs=[]))
        self.assertEqual(self.problem(pi_board(relays=entries(17), inputs=[])),
                         "relays: 17 entries, at most 16")
        self.assertEqual(self.problem(pi_board(relays=[], inputs=entries(17))),
                         "inputs: 17 entries, at most 16")
        ports = [{"token": "S%d" % i, "device": "/dev/ttyS%d" % i} for i in range(5)]
        self.assertLoads(pi_board(serial_ports=ports[:4]))
        self.assertEqual(self.problem(pi_board(serial_ports=ports)),
                         "serial_ports: 5 entries, at most 4")


class SensorsTest(BoardFileTest):
    """Checklist 8.7 sensors: a file holding a number, one sensor of each kind."""

    def test_the_scale_defaults_to_one(self):
        board = self.load({"name": "t", "hal": "sim", "sensors": [
            {"kind": "temperature", "path": "/sys/class/thermal/thermal_zone0/temp",
              "scale": 0.001},
            {"kind": "battery", "path": "/sys/class/power_supply/BAT0/capacity"}]})[1]
        self.assertEqual([(s["kind"], s["scale"]) for s in board["sensors"]],
                         [("temperature", 0.001), ("battery", 1)])
        self.assertEqual(self.load({"name": "t", "hal": "sim"})[1]["sensors"], [])

    def test_problems(self):
        def sensors(*entries):
            return {"name": "t", "hal": "sim", "sensors": list(entries)}
        self.assertProblem(sensors({"kind": "pressure", "path": "/x"}), "sensors[0].kind",
                           "battery, humidity, temperature")
        self.assertProblem(sensors({"kind": "humidity"}), "sensors[0].path", "missing")
        self.assertProblem(sensors({"kind": "humidity", "path": "x"}), "sensors[0].path",
                           "absolute file path")
        self.assertProblem(sensors({"kind": "humidity", "path": "/x", "scale": 0}),
                           "sensors[0].scale", "other than 0")
        self.assertProblem(sensors({"kind": "humidity", "path": "/x", "pin": 4}),
                           "sensors[0].pin", "unknown field")
        self.assertProblem(sensors({"kind": "battery", "path": "/x"},
                                   {"kind": "battery", "path": "/y"}),
                           "sensors[1].kind", "already used by sensors[0]")
