"""Board definitions: which HAL, which pins and names (a JSON file in boards/ or any path).

Boards are data, chosen by `--board` (lessons-from-anchors 8): no platform if/elif in code.
The whole file is checked once, at load, against the tables below, so a typo or a pin used
twice stops the agent with one message naming the file and the field, instead of surfacing
later as a relay that never clicks. After `load_board` every documented field is present
(defaults filled), so callers can rely on it. The format, defaults and wiring notes are in
boards/README.md. The bounds (16 relays, 16 inputs, 4 serial ports) keep every answer that
lists them, and the saved settings, small on a microcontroller.
"""

import json
import os
import sys

from hal import HALS
from hal.base import DEFAULT_DEBOUNCE_MS, PARITIES, SERIAL_TYPES, SerialPort

from .errors import ConfigError, Sentinel
from .monitoring import SENSORS
from .services.aux_ops import MAX_AUXILIARY_COMMAND
from .settings import read_json_file

DEFAULT_BOARD = "desktop"

REQUIRED = Sentinel("REQUIRED")  # default of a field that must be given
ABSENT = Sentinel("ABSENT")      # default of an optional field that stays absent

# tt:ReferenceToken is an xs:string of at most 64 characters; these characters are safe in
# XML, in URIs and in log lines, so a token never needs escaping anywhere.
MAX_TOKEN_LENGTH = 64
TOKEN_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

STATES = ("open", "closed")                     # physical contact state of relays and inputs
STOP_BITS = (1, 1.5, 2)
DIRECTIONS = ("kernel", "auto")                 # how RS-485 half-duplex direction is switched
HALF_DUPLEX = ("RS422HalfDuplex", "RS485HalfDuplex")
PULLS = ("up", "down", "off")
# What a closed contact reads as, per pull: a pull-up is pulled to ground by the contact
# (reads low), a pull-down is pulled high; "off" (external resistor) leaves it to "active_low".
CLOSED_READS_LOW = {"up": True, "down": False, "off": None}
# Start configuration field -> the option list it must be one of.
START_OPTIONS = (("baud_rate", "baud_rates"), ("parity", "parities"),
                 ("character_length", "character_lengths"), ("stop_bits", "stop_bit_list"))


class _Invalid(Exception):
    """One problem at one field path; check_board adds the file name."""

    def __init__(self, where, problem):
        super().__init__(where, problem)
        self.where = where
        self.problem = problem


def _show(value):
    return json.dumps(value)  # as the board file spells it


def _choices(values):
    return ", ".join(str(v) for v in values)


# -- field checks: each takes (value, where) and raises _Invalid ----------------------------------

def text(value, where):
    if not isinstance(value, str) or not value:
        raise _Invalid(where, "must be a non-empty string, not %s" % _show(value))


def boolean(value, where):
    if value is not True and value is not False:
        raise _Invalid(where, "must be true or false, not %s" % _show(value))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def integer(low, high=None):
    span = "%d or more" % low if high is None else "from %d to %d" % (low, high)

    def check(value, where):
        if not _is_int(value) or value < low or (high is not None and value > high):
            raise _Invalid(where, "must be an integer %s, not %s" % (span, _show(value)))
    return check


def one_of(values):
    def check(value, where):
        # true == 1 in Python: a boolean must not pass where numbers are listed
        if isinstance(value, bool) or value not in values:
            raise _Invalid(where, "unknown %s (one of: %s)" % (_show(value), _choices(values)))
    return check


def list_of(item, empty_ok=False):
    def check(value, where):
        if not isinstance(value, list) or not (value or empty_ok):
            raise _Invalid(where, "must be a %slist, not %s"
                           % ("" if empty_ok else "non-empty ", _show(value)))
        for i, element in enumerate(value):
            item(element, "%s[%d]" % (where, i))
    return check


def token(value, where):
    if (not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN_LENGTH
            or [c for c in value if c not in TOKEN_CHARACTERS]):
        raise _Invalid(where, "must be 1 to %d of A-Z a-z 0-9 - _ . (an ONVIF ReferenceToken), "
                              "not %s" % (MAX_TOKEN_LENGTH, _show(value)))


def device_path(value, where):
    if not isinstance(value, str) or not value.startswith("/"):
        raise _Invalid(where, "must be a device path like \"/dev/ttyUSB0\", not %s" % _show(value))


def pin_id(value, where):
    """A MicroPython machine.Pin id: a GPIO number or a board pin name ("GP15")."""
    if not (isinstance(value, str) and value) and not (_is_int(value) and value >= 0):
        raise _Invalid(where, "must be a GPIO number or a pin name like \"GP15\", not %s"
                       % _show(value))


def seconds(value, where):
    if not _is_number(value) or value <= 0:
        raise _Invalid(where, "must be a number of seconds above 0, not %s" % _show(value))


def seconds_range(value, where):
    if (not isinstance(value, list) or len(value) != 2 or not _is_number(value[0])
            or not _is_number(value[1]) or not 0 < value[0] <= value[1]):
        raise _Invalid(where, "must be [min, max] seconds with 0 < min <= max, not %s"
                       % _show(value))


def json_object(value, where):
    if not isinstance(value, dict):
        raise _Invalid(where, "must be a JSON object, not %s" % _show(value))


positive = integer(1)

# -- field tables: (name, check, default) in the order problems are looked for --------------------

BOARD_FIELDS = (
    ("name", text, REQUIRED),
    ("hal", one_of(sorted(HALS)), REQUIRED),
    ("description", text, ABSENT),      # device information (GetDeviceInformation, scopes)
    ("manufacturer", text, ABSENT),
    ("model", text, ABSENT),
    ("firmware_version", text, ABSENT),
    ("serial_number", text, ABSENT),
    ("hardware_id", text, ABSENT),
    ("scopes", list_of(text, empty_ok=True), ()),  # agent.scopes checks each URI
    ("allow_password_text", boolean, False),
    ("allow_local_consumers", boolean, False),  # push Notify to loopback/link-local (issue 7)
    ("event_storage_bytes", integer(0), 65536),  # the event ring's size, 0 = off (issue 7)
    ("auxiliary_commands", list_of(json_object, empty_ok=True), ()),  # checked after the relays
    ("sensors", list_of(json_object, empty_ok=True), ()),  # monitoring events (checklist 8.7)
)

RELAY_FIELDS = (
    ("token", token, REQUIRED),
    ("description", text, ABSENT),
    ("contact", one_of(("NO", "NC")), "NO"),
    ("active_low", boolean, False),
    # ONVIF RelayOutputSettings (DeviceIO): the defaults a client sees and may change
    ("idle_state", one_of(STATES), "open"),
    ("mode", one_of(("Monostable", "Bistable")), "Bistable"),
    ("delay_times", seconds_range, (0.1, 600)),
    ("delay_time", seconds, 1),
)

INPUT_FIELDS = (
    ("token", token, REQUIRED),
    ("description", text, ABSENT),
    ("pull", one_of(PULLS), "up"),
    ("active_low", boolean, ABSENT),  # filled from "pull" by _check_input
    ("debounce_ms", integer(0, 1000), DEFAULT_DEBOUNCE_MS),
    ("idle_state", one_of(STATES), "open"),
)

SERIAL_FIELDS = (
    ("token", token, REQUIRED),
    ("description", text, ABSENT),
    ("type", one_of(SERIAL_TYPES), "RS232"),
    ("direction", one_of(DIRECTIONS), None),  # null or absent: nothing to switch
    ("baud_rates", list_of(positive), SerialPort.BAUD_RATES),
    ("parities", list_of(one_of(PARITIES)), PARITIES[:3]),
    ("character_lengths", list_of(integer(5, 8)), SerialPort.CHARACTER_LENGTHS),
    ("stop_bit_list", list_of(one_of(STOP_BITS)), SerialPort.STOP_BITS),
    ("baud_rate", positive, 9600),
    ("parity", one_of(PARITIES), "None"),
    ("character_length", integer(5, 8), 8),
    ("stop_bits", one_of(STOP_BITS), 1),
)


MAX_AUXILIARY_COMMANDS = 16
# The tt: prefix is reserved for the commands ONVIF defines (devicemgmt.wsdl,
# SendAuxiliaryCommand): a board may offer these, never invent its own tt: command.
RESERVED_AUXILIARY_COMMANDS = (
    "tt:Wiper|On", "tt:Wiper|Off", "tt:Washer|On", "tt:Washer|Off",
    "tt:WashingProcedure|On", "tt:WashingProcedure|Off",
    "tt:IRLamp|On", "tt:IRLamp|Off", "tt:IRLamp|Auto")


def auxiliary_command(value, where):
    """The capability lists the commands as one tt:StringAttrList (an xs:list), so a command
    holds no space or control character, which would split it in two there."""
    if (not isinstance(value, str) or not 0 < len(value) <= MAX_AUXILIARY_COMMAND
            or [c for c in value if c <= " "]):
        raise _Invalid(where, "must be 1 to %d characters without spaces, not %s"
                       % (MAX_AUXILIARY_COMMAND, _show(value)))
    if value.startswith("tt:") and value not in RESERVED_AUXILIARY_COMMANDS:
        raise _Invalid(where, "%s: the tt: prefix is reserved for ONVIF's commands (%s); "
                              "name a vendor command without it" % (
                                  _show(value), _choices(RESERVED_AUXILIARY_COMMANDS)))


AUXILIARY_FIELDS = (
    ("command", auxiliary_command, REQUIRED),
    ("relay", token, REQUIRED),
    ("state", one_of(("active", "inactive")), "active"),
    ("pulse_ms", integer(1, 600000), ABSENT),  # back to inactive after it, like delay_times
)


def file_path(value, where):
    if not isinstance(value, str) or not value.startswith("/"):
        raise _Invalid(where, "must be an absolute file path like "
                              "\"/sys/class/thermal/thermal_zone0/temp\", not %s" % _show(value))


def scale(value, where):
    if not _is_number(value) or value == 0:
        raise _Invalid(where, "must be a number other than 0, not %s" % _show(value))


# A file holding one number, times `scale`: degrees Celsius, percent of relative humidity,
# percent of battery capacity (agent.monitoring reads it every few seconds).
SENSOR_FIELDS = (
    ("kind", one_of(sorted(SENSORS)), REQUIRED),
    ("path", file_path, REQUIRED),
    ("scale", scale, 1),
)


def _check_sensors(board):
    """Checklist 8.7's sensor topics carry no Source item: one sensor of each kind."""
    kinds = {}
    for i, entry in enumerate(board["sensors"]):
        where = "sensors[%d]" % i
        _refuse_unknown(entry, SENSOR_FIELDS, where, "a sensor")
        _check_values(entry, SENSOR_FIELDS, where)
        if entry["kind"] in kinds:
            raise _Invalid(where + ".kind", "%s is already used by %s"
                           % (_show(entry["kind"]), kinds[entry["kind"]]))
        kinds[entry["kind"]] = where


class HalRules:
    """What one HAL adds to the tables: the address fields of its relays, inputs and serial
    ports (None: this board has none), which RS-485 directions it can switch, the serial
    option values its UARTs cannot do (option list field -> values refused), and the network
    backends its boards may name in "network" (the first is the default, checklist 8.3)."""

    def __init__(self, name, relays, inputs=None, serial_ports=None, directions=("auto",),
                 board_fields=(), serial_cannot=None, networks=("linux", "sim")):
        self.name = name
        self.sections = {"relays": relays, "inputs": inputs, "serial_ports": serial_ports}
        self.directions = directions
        self.board_fields = (("network", one_of(networks), networks[0]),) + board_fields
        self.serial_cannot = serial_cannot or {}


def _serial(device, *pins):
    return (("device", device, REQUIRED),) + tuple((pin, pin_id, ABSENT) for pin in pins)


PI_PIN = (("pin", integer(0, 27), REQUIRED),)  # BCM numbers of the 40-pin header
GPIOD_LINE = (("chip", text, REQUIRED), ("line", integer(0, 1023), REQUIRED))
MACHINE_PIN = (("pin", pin_id, REQUIRED),)
UART_PINS = ("tx", "rx")  # serial port fields that are pins too (MicroPython UARTs)

# One entry per key of hal.HALS (tests/test_board.py holds them equal). Only the Linux HALs
# can ask the kernel's rs485 mode to switch direction; the others need an auto transceiver.
HAL_RULES = dict((rules.name, rules) for rules in (
    # a pseudo-terminal per port; the simulated network by default, or the host's real one
    HalRules("sim", (), (), _serial(one_of(("pty",))), networks=("sim", "linux")),
    HalRules("pi", PI_PIN, PI_PIN, _serial(device_path), DIRECTIONS),
    HalRules("beaglebone", GPIOD_LINE, GPIOD_LINE, _serial(device_path), DIRECTIONS),
    HalRules("usbrelay", (("channel", integer(1, 8), REQUIRED),),
             board_fields=(("device", device_path, REQUIRED), ("baud_rate", positive, 9600))),
    # MicroPython's machine.UART has no mark/space parity and no 1.5 stop bits.
    HalRules("machine", MACHINE_PIN, MACHINE_PIN, _serial(integer(0, 9), *UART_PINS),
             serial_cannot={"parities": ("Mark", "Space"), "stop_bit_list": (1.5,)},
             networks=("machine",)),
))


def _refuse_unknown(record, fields, where, owner):
    """A misspelt key must not pass silently as an absent field with its default."""
    known = [name for name, _, _ in fields]
    for key in sorted(record):
        if key not in known:
            raise _Invalid(_at(where, key), "unknown field (%s knows: %s)"
                           % (owner, _choices(sorted(known))))


def _at(where, name):
    return where + "." + name if where else name


def _check_values(record, fields, where):
    """Check each field and fill defaults, in table order."""
    for name, check, default in fields:
        if name not in record or (record[name] is None and default is None):
            if default is REQUIRED:
                raise _Invalid(_at(where, name), "missing (required)")
            if default is not ABSENT:
                record[name] = list(default) if isinstance(default, tuple) else default
        else:
            check(record[name], _at(where, name))


def _check_relay(relay, where, rules):
    low, high = relay["delay_times"]
    if not low <= relay["delay_time"] <= high:
        raise _Invalid(where + ".delay_time", "%s is outside delay_times %s"
                       % (_show(relay["delay_time"]), _show(relay["delay_times"])))


def _check_input(line, where, rules):
    reads_low = CLOSED_READS_LOW[line["pull"]]
    if reads_low is None:
        line.setdefault("active_low", True)
    elif line.setdefault("active_low", reads_low) != reads_low:
        raise _Invalid(where + ".active_low", "%s contradicts pull %s (a closed contact reads %s)"
                       % (_show(line["active_low"]), _show(line["pull"]),
                          "low" if reads_low else "high"))


def _check_serial(port, where, rules):
    for options_field, refused in rules.serial_cannot.items():
        for value in port[options_field]:
            if value in refused:
                raise _Invalid(where + "." + options_field, "a %s board cannot do %s"
                               % (rules.name, _show(value)))
    for value_field, options_field in START_OPTIONS:
        if port[value_field] not in port[options_field]:
            raise _Invalid(where + "." + value_field, "%s is not among %s %s"
                           % (_show(port[value_field]), options_field,
                              _show(port[options_field])))
    direction = port["direction"]
    if port["type"] not in HALF_DUPLEX:
        if direction is not None:
            raise _Invalid(where + ".direction", "a %s port has no direction to switch (leave "
                                                 "it out)" % port["type"])
    elif direction not in rules.directions:
        raise _Invalid(where + ".direction", "a %s port of a %s board needs one of: %s, not %s"
                       % (port["type"], rules.name, _choices(rules.directions),
                          _show(direction)))


# (board key, common fields, most entries, rule across an entry's fields, noun)
SECTIONS = (
    ("relays", RELAY_FIELDS, 16, _check_relay, "a relay"),
    ("inputs", INPUT_FIELDS, 16, _check_input, "an input"),
    ("serial_ports", SERIAL_FIELDS, 4, _check_serial, "a serial port"),
)


def _check_section(board, rules, section, fields, limit, rule, noun):
    entries = board[section]
    address = rules.sections[section]
    if entries and address is None:
        raise _Invalid(section, "a %s board has no %s" % (rules.name, section.replace("_", " ")))
    if len(entries) > limit:
        raise _Invalid(section, "%d entries, at most %d" % (len(entries), limit))
    fields = fields + (address or ())
    owner = "%s of a %s board" % (noun, rules.name)
    tokens = {}
    for i, entry in enumerate(entries):
        where = "%s[%d]" % (section, i)
        _refuse_unknown(entry, fields, where, owner)
        _check_values(entry, fields, where)
        rule(entry, where, rules)
        if entry["token"] in tokens:  # tokens name entries in ONVIF requests: one per list
            raise _Invalid(where + ".token", "%s is already used by %s"
                           % (_show(entry["token"]), tokens[entry["token"]]))
        tokens[entry["token"]] = where


def _pin_uses(board, rules):
    """(where, address, owner) of every pin the board drives or reads, in file order."""
    for section in ("relays", "inputs"):
        names = [name for name, _, _ in rules.sections[section] or ()]
        for i, entry in enumerate(board[section] if names else ()):
            where = "%s[%d]" % (section, i)
            yield where + "." + names[-1], tuple((n, entry[n]) for n in names), where
    for i, port in enumerate(board["serial_ports"]):
        for name in UART_PINS:
            if name in port:
                where = "serial_ports[%d].%s" % (i, name)
                yield where, (("pin", port[name]),), where


def _check_addresses_unique(board, rules):
    """A pin used twice would have two owners fighting over it, across relays, inputs and
    UART pins; on a beaglebone the address is the pair chip + line."""
    users = {}
    for where, address, owner in _pin_uses(board, rules):
        if address in users:
            shown = (_show(address[0][1]) if len(address) == 1 else
                     " ".join("%s %s" % (name, _show(value)) for name, value in address))
            raise _Invalid(where, "%s is already used by %s" % (shown, users[address]))
        users[address] = owner


def _check_auxiliary_commands(board):
    """Checklist 8.6 SendAuxiliaryCommand: each command drives one of the board's relays."""
    entries = board["auxiliary_commands"]
    if len(entries) > MAX_AUXILIARY_COMMANDS:
        raise _Invalid("auxiliary_commands", "%d entries, at most %d"
                       % (len(entries), MAX_AUXILIARY_COMMANDS))
    relays = [relay["token"] for relay in board["relays"]]
    commands = {}
    for i, entry in enumerate(entries):
        where = "auxiliary_commands[%d]" % i
        _refuse_unknown(entry, AUXILIARY_FIELDS, where, "an auxiliary command")
        _check_values(entry, AUXILIARY_FIELDS, where)
        if entry["relay"] not in relays:
            raise _Invalid(where + ".relay", "no relay %s (relays: %s)"
                           % (_show(entry["relay"]), _choices(relays) or "none"))
        if "pulse_ms" in entry and entry["state"] != "active":
            raise _Invalid(where + ".pulse_ms", "a pulse needs state \"active\"")
        if entry["command"] in commands:
            raise _Invalid(where + ".command", "%s is already used by %s"
                           % (_show(entry["command"]), commands[entry["command"]]))
        commands[entry["command"]] = where


def check_board(board, path):
    """Check a board (parsed from the file at `path`) in place and fill its defaults; the first
    problem is a ConfigError naming the file and the field path."""
    try:
        return _check_board(board)
    except _Invalid as invalid:
        field = invalid.where + ": " if invalid.where else ""
        raise ConfigError("board file %s: %s%s" % (path, field, invalid.problem))


def _check_board(board):
    json_object(board, "")
    _check_values(board, BOARD_FIELDS[:2], "")  # "hal" decides which other keys exist
    rules = HAL_RULES[board["hal"]]
    fields = BOARD_FIELDS + rules.board_fields + tuple(
        (section[0], list_of(json_object, empty_ok=True), ()) for section in SECTIONS)
    _refuse_unknown(board, fields, "", "a %s board" % rules.name)
    _check_values(board, fields, "")
    for section in SECTIONS:
        _check_section(board, rules, *section)
    _check_addresses_unique(board, rules)
    _check_auxiliary_commands(board)
    _check_sensors(board)
    return board


def board_dirs():
    """Where named boards are looked up: the source tree, then the installed data files."""
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return (here + "/../boards", getattr(sys, "prefix", "") + "/share/onvif-agent/boards")


def find_board(name_or_path):
    """A board name (`desktop`) or a path to a board file; returns the file's path."""
    if "/" in name_or_path or name_or_path.endswith(".json"):
        return name_or_path
    for folder in board_dirs():
        path = folder + "/" + name_or_path + ".json"
        try:
            os.stat(path)
            return path
        except OSError:
            pass
    raise ConfigError("no board named %r (looked in %s)" % (name_or_path,
                                                              ", ".join(board_dirs())))


def load_board(name_or_path=DEFAULT_BOARD):
    """Read and check a board file; every problem is one ConfigError naming the file and field."""
    path = find_board(name_or_path)
    board = read_json_file(path, "board file")
    check_board(board, path)
    board["path"] = path
    return board
