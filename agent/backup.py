"""The system backup archive (checklist 8.4 #2 SystemBackupUri, #5 StartSystemRestore).

An archive is a small versioned JSON document: the format name and version, the agent version
and board it was made by, when, the settings that define the device's configuration, and a
SHA-256 over the canonical form of all that, so a truncated or edited file is refused.

What it carries, and what not (decisions of issue 8):
- The configuration keys of CONFIG (clock mode, offset and zone, NTP servers, scopes and
  discovery mode, DeviceIO settings, the IP address filter), each checked on restore by the
  same rules the operations that set it apply.
- Not the users: HTTP Digest and UsernameToken need the passwords themselves (agent.users), so
  an archive holding users would hold every password in clear, in a file that leaves the
  device. A restore keeps the device's users as they are.
- Not the identity (endpoint_uuid, discovery_instance), nor history (last_reset, the event ring):
  a restored device stays the same device and its InstanceId keeps growing.
- Not the network settings and the network backend's state: IP addresses differ between devices
  (checklist 8.4 #3 allows it), and a restore must not cut the client off the device it is
  configuring.
Restore validates the whole archive (format, version, board, checksum, every key known, every
value valid) before anything is staged; one bad value refuses the whole file.
"""

import json

from . import __version__
from .clock import MODES as CLOCK_MODES
from .datetimes import format_datetime
from .deviceio import IDLE_STATES, RELAY_MODES
from .ipfilter import parse_stored
from .posixtz import TimeZone
from .scopes import MAX_SCOPES, MODES as DISCOVERY_MODES, check_uri
from .soap import SoapFault

FORMAT = "onvif-agent-backup"
VERSION = 1
MAX_NTP_SERVERS = 8
MAX_HOST = 255
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]%_"


class BadArchive(ValueError):
    """The uploaded file is no usable archive of this device (HTTP 415, checklist 8.4 #5)."""


def _fail(reason):
    raise BadArchive(reason)


def _check_int(value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail("an integer %d..%d expected" % (low, high))


def _check_bool(value, device):
    if not isinstance(value, bool):
        _fail("true or false expected")


def _one_of(choices):
    def check(value, device):
        if value not in choices:
            _fail("one of %s expected" % ", ".join(choices))
    return check


def _check_offset(value, device):
    _check_int(value, -(1 << 40), 1 << 40)


def _check_timezone(value, device):
    try:
        TimeZone(value)
    except ValueError as exc:
        _fail("not a POSIX TZ: %s" % exc)


def _list(value, most):
    if not isinstance(value, list) or len(value) > most:
        _fail("a list of at most %d entries expected" % most)
    return value


def _check_hosts(value, device):
    for host in _list(value, MAX_NTP_SERVERS):
        if not isinstance(host, str) or not 0 < len(host) <= MAX_HOST or \
                any(c not in _HOST_CHARS for c in host):
            _fail("not a host name or address")


def _check_scopes(value, device):
    for uri in _list(value, MAX_SCOPES):
        if not isinstance(uri, str) or value.count(uri) != 1:
            _fail("scopes are distinct strings")
        check_uri(uri)  # SoapFault with its reason


def _check_ip_filter(value, device):
    parse_stored(value)  # SoapFault, KeyError or TypeError


def _fields(value, names):
    """`value` as a dict whose keys are among `names`."""
    if not isinstance(value, dict):
        _fail("an object expected")
    for key in value:
        if key not in names:
            _fail("unknown field %r" % key)
    return value


def _by_token(items, token):
    for item in items:
        if item.token == token:
            return item
    return _fail("no %r on this board" % token)


def _check_deviceio(value, device):
    """The settings agent.deviceio keeps, against this board's relays, inputs and ports."""
    io = device.io
    value = _fields(value, ("relays", "inputs", "serial"))
    for token, saved in _fields(value.get("relays", {}), [r.token for r in io.relays]).items():
        relay = _by_token(io.relays, token)
        saved = _fields(saved, ("mode", "delay_ms", "idle_state"))
        _one_of(RELAY_MODES)(saved.get("mode"), device)
        _one_of(IDLE_STATES)(saved.get("idle_state"), device)
        _check_int(saved.get("delay_ms"), *relay.delay_range_ms)
    for token, saved in _fields(value.get("inputs", {}), [i.token for i in io.inputs]).items():
        _one_of(IDLE_STATES)(_fields(saved, ("idle_state",)).get("idle_state"), device)
    ports = io.serial_ports
    for token, config in _fields(value.get("serial", {}), [p.token for p in ports]).items():
        try:
            usable = isinstance(config, dict) and _by_token(ports, token).allows(config)
        except KeyError:  # a field no serial configuration has
            usable = False
        if not usable:
            _fail("serial configuration of %r not among the port's options" % token)


# Every configuration key an archive may carry, with its check (raising BadArchive, SoapFault,
# ValueError, KeyError or TypeError). A restore replaces exactly these keys.
CONFIG = {
    "clock_mode": _one_of(CLOCK_MODES),
    "clock_offset": _check_offset,
    "daylight_savings": _check_bool,
    "timezone": _check_timezone,
    "ntp_servers": _check_hosts,
    "ntp_from_dhcp": _check_bool,
    "scopes": _check_scopes,
    "discovery_mode": _one_of(DISCOVERY_MODES),
    "deviceio": _check_deviceio,
    "ip_filter": _check_ip_filter,
}


def _escape(text):
    """A JSON string, the same bytes on both runtimes (their json modules escape differently)."""
    out = ['"']
    for c in text:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def canonical(value):
    """Canonical JSON text (sorted keys, no spaces) of a settings value, for the checksum."""
    if isinstance(value, dict):
        return "{" + ",".join(_escape(k) + ":" + canonical(value[k])
                              for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):  # tuples: values read back from the settings
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, str):
        return _escape(value)
    return json.dumps(value)


def _checksum(document):
    from .compat import sha256
    return "".join("%02x" % b for b in sha256(canonical(document).encode()))


def make_archive(device, now):
    """The archive of `device`'s configuration now (device time, Unix seconds), as bytes."""
    settings = device.settings
    document = {"format": FORMAT, "version": VERSION, "agent": __version__,
                "board": device.board["name"], "created": format_datetime(now),
                "settings": dict((key, settings.get(key)) for key in CONFIG
                                 if settings.get(key) is not None)}
    return seal(document)


def seal(document):
    """The archive bytes of `document` with its checksum added."""
    document["sha256"] = _checksum(document)
    return json.dumps(document).encode()


def read_archive(data, device):
    """The configuration settings of an uploaded archive, every one validated for `device`;
    BadArchive (with a short reason) for anything else. Its size is bounded by the HTTP
    body limit (agent.http, 64 KiB: a real archive is a few KiB)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeError):
        _fail("not a JSON document")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        _fail("not an %s archive" % FORMAT)
    if document.get("version") != VERSION:
        _fail("archive version %r, this agent reads version %d" % (document.get("version"),
                                                                    VERSION))
    claimed = document.pop("sha256", None)
    if not isinstance(claimed, str) or claimed != _checksum(document):
        _fail("checksum mismatch: the archive is damaged or was edited")
    if document.get("board") != device.board["name"]:
        _fail("made on board %r, this device is %r" % (document.get("board"),
                                                      device.board["name"]))
    settings = _fields(document.get("settings"), CONFIG)
    for key, value in settings.items():
        try:
            CONFIG[key](value, device)
        except SoapFault as fault:
            _fail("%s: %s" % (key, fault.reason))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            _fail("%s: %s" % (key, exc))
    if settings.get("clock_mode") == "NTP" and not (settings.get("ntp_servers") or
                                                    settings.get("ntp_from_dhcp")):
        _fail("NTP time without an NTP server")
    return settings
