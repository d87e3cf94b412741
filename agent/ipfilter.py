"""IP address filter (issue 8, checklist 8.3 #18-#21): which peers may open a connection.

The filter is a type (Allow: only the listed prefixes are admitted; Deny: the listed prefixes
are refused) and up to MAX_ENTRIES IPv4 and MAX_ENTRIES IPv6 prefixes. The HTTP servers ask
`admits(peer)` for every accepted connection (agent.server `admit`); the operations of
agent.services.ipfilter_ops change it, and every change is one atomic settings write.

Addresses are parsed here, without the ipaddress module (MicroPython has none): dotted quads,
and IPv6 text with "::" and an embedded IPv4 tail. Both become bytes (4 or 16), so one prefix
match serves both families; a peer "::ffff:a.b.c.d" (an IPv4 client of a dual-stack socket) is
matched as the IPv4 address it is.

Decisions where the spec leaves a choice:
- A filter without entries admits everyone, whatever its type. The schema allows Allow with no
  entries and the spec says nothing of its meaning; read literally it would refuse every peer,
  remote administrators included, with no way back but the device's console. So an empty list
  means "no filtering", as on common devices; the first start has Deny with no entries.
- Loopback peers (127.0.0.0/8, ::1) are always admitted: an administrator who locks every
  remote address out can still reach the device from the device itself (e.g. over ssh).
- A peer address that cannot be read is refused while the filter has entries (fail closed).
- Add and Remove ignore the request's Type (checklist 8.3 #20, #21); an entry already present is
  not added twice and does not count against the limit; Remove of an entry not present is
  ter:NoIPv4Address / ter:NoIPv6Address and changes nothing.
- An entry is kept as given (canonical text, e.g. 192.168.1.7/24 stays so), and matched on its
  first PrefixLength bits; entries are equal when address and prefix length are.
- More than MAX_ENTRIES of a family in SetIPAddressFilter is ter:IPFilterListIsFull as in Add
  (the checklist names it for Add only; no other subcode fits).
- A refused connection is closed at once, with no response (agent.server); refusals are logged
  at info, at most one line per 10 s with a count, so a scan cannot flood the log.
- A prefix length outside 0..32 (0..128) is ter:InvalidIPv4Address (ter:InvalidIPv6Address);
  an IPv6 zone ("fe80::1%eth0") is invalid: a filter entry names no interface.
"""

from . import log
from .soap import sender

ALLOW, DENY = "Allow", "Deny"
TYPES = (ALLOW, DENY)

# Prefixes per family: a few management subnets with room to spare, and a bound on the work
# done for every accepted connection.
MAX_ENTRIES = 16

SETTINGS_KEY = "ip_filter"

# The longest IPv6 text, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255": anything longer is
# refused before it is parsed.
MAX_ADDRESS_TEXT = 45

_HEX = "0123456789abcdefABCDEF"
_LOOPBACK = ((b"\x7f\x00\x00\x00", 8), (b"\x00" * 15 + b"\x01", 128))
_MAPPED = b"\x00" * 10 + b"\xff\xff"  # ::ffff:0:0/96, IPv4-mapped IPv6 (RFC 4291 2.5.5.2)

# Per family (address width in bytes): the fault subcodes of a bad and of an absent entry.
_IPV4, _IPV6 = 4, 16
_FAULTS = {_IPV4: ("InvalidIPv4Address", "NoIPv4Address"),
           _IPV6: ("InvalidIPv6Address", "NoIPv6Address")}


def parse_ipv4(text):
    """The 4 bytes of a dotted quad, or None. Leading zeros are refused: "010" reads as octal
    to some tools and as decimal to others."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i, part in enumerate(parts):
        if not part or len(part) > 3 or not part.isdigit() or (part[0] == "0" and len(part) > 1):
            return None
        value = int(part)
        if value > 255:
            return None
        out[i] = value
    return bytes(out)


def _groups(text, last):
    """16-bit groups of one side of "::", or None; in the `last` side the final group may be
    a dotted quad (two groups)."""
    if not text:
        return []
    parts = text.split(":")
    groups = []
    for i, part in enumerate(parts):
        if last and i == len(parts) - 1 and "." in part:
            quad = parse_ipv4(part)
            if quad is None:
                return None
            groups.append(quad[0] << 8 | quad[1])
            groups.append(quad[2] << 8 | quad[3])
        elif not part or len(part) > 4 or [c for c in part if c not in _HEX]:
            return None
        else:
            groups.append(int(part, 16))
    return groups


def parse_ipv6(text):
    """The 16 bytes of IPv6 text (RFC 4291 2.2: full, "::"-compressed, IPv4 tail), or None."""
    if not text or len(text) > MAX_ADDRESS_TEXT:
        return None
    halves = text.split("::")
    if len(halves) > 2:
        return None
    head = _groups(halves[0], len(halves) == 1)
    tail = _groups(halves[1], True) if len(halves) == 2 else []
    if head is None or tail is None:
        return None
    missing = 8 - len(head) - len(tail)
    if missing < (1 if len(halves) == 2 else 0) or (len(halves) == 1 and missing):
        return None  # "::" stands for one group or more; without it there are exactly 8
    out = bytearray(16)
    for i, group in enumerate(head + [0] * missing + tail):
        out[2 * i] = group >> 8
        out[2 * i + 1] = group & 0xFF
    return bytes(out)


def format_address(address):
    """Canonical text of 4 or 16 address bytes (RFC 5952 for IPv6: lower case, the longest run
    of two or more zero groups, the first of equals, as "::")."""
    if len(address) == _IPV4:
        return ".".join(str(b) for b in address)
    groups = [address[i] << 8 | address[i + 1] for i in range(0, 16, 2)]
    best, best_len, start = -1, 1, None
    for i, group in enumerate(groups + [1]):  # the sentinel ends a trailing run
        if group == 0 and start is None:
            start = i
        elif group != 0 and start is not None:
            if i - start > best_len:
                best, best_len = start, i - start
            start = None
    text = ["%x" % g for g in groups]
    if best < 0:
        return ":".join(text)
    return ":".join(text[:best]) + "::" + ":".join(text[best + best_len:])


def in_prefix(address, network, length):
    """Whether the first `length` bits of `address` equal those of `network` (same width)."""
    if len(address) != len(network):
        return False
    whole, bits = length >> 3, length & 7
    if address[:whole] != network[:whole]:
        return False
    if not bits:
        return True
    mask = (0xFF << (8 - bits)) & 0xFF
    return address[whole] & mask == network[whole] & mask


def peer_address(peer):
    """The address bytes of an accepted connection's peer, IPv4-mapped IPv6 as IPv4; None if
    unreadable. `peer` is what accept() returned: a (host, port, ...) tuple on CPython, or a
    raw sockaddr (struct sockaddr_in: 16 bytes, sockaddr_in6: 28) on MicroPython ports."""
    if isinstance(peer, tuple):
        host = peer[0]
        address = parse_ipv6(host.split("%")[0]) if ":" in host else parse_ipv4(host)
    elif isinstance(peer, bytes) and len(peer) == 16:
        address = peer[4:8]
    elif isinstance(peer, bytes) and len(peer) == 28:
        address = peer[8:24]
    else:
        return None
    if address is not None and len(address) == _IPV6 and address[:12] == _MAPPED:
        return address[12:]
    return address


def parse_entry(text, prefix_text, width):
    """(address bytes, prefix length) of a tt:PrefixedIPv4Address (width 4) or
    tt:PrefixedIPv6Address (16) given as text; Sender/InvalidArgVal/Invalid... otherwise."""
    text = str(text or "").strip()
    prefix_text = str(prefix_text).strip()  # an int when read back from the settings file
    address = parse_ipv4(text) if width == _IPV4 else parse_ipv6(text)
    if address is None or not prefix_text.isdigit() or len(prefix_text) > 3 or \
            int(prefix_text) > 8 * width:
        raise sender("InvalidArgVal", _FAULTS[width][0],
                     reason="not an IPv%d address with a prefix length 0..%d: %s/%s"
                     % (4 if width == _IPV4 else 6, 8 * width, text[:MAX_ADDRESS_TEXT],
                        prefix_text[:4]))
    return address, int(prefix_text)


class IPFilter:
    """The device's filter, a view of its entry in `settings` (agent.settings.Settings): the
    settings are the one source of truth, so the HTTP servers' filter and the operations' one
    agree without sharing an object. The stored value is parsed again only when it changed."""

    def __init__(self, settings):
        self.settings = settings
        self._source = None  # the settings value last parsed
        self._state = (DENY, [], [])

    def _current(self):
        """(type, IPv4 entries, IPv6 entries), entries as (address bytes, prefix length)."""
        stored = self.settings.get(SETTINGS_KEY)
        if stored is not self._source:
            self._source = stored
            self._state = (DENY, [], [])
            if stored:
                try:
                    self._state = parse_stored(stored)
                except Exception as exc:  # a hand-edited settings file must not stop the device
                    log.error("ip filter in the settings file unreadable (%r): no filtering",
                              exc)
        return self._state

    def _store(self, kind, ipv4, ipv6):
        """Validate everything, then write once: a bad entry or a failed write changes nothing."""
        kind, v4, v6 = _validate(kind, ipv4, ipv6)
        self.settings.update(**{SETTINGS_KEY: {"type": kind, "ipv4": _texts(v4),
                                               "ipv6": _texts(v6)}})

    def entries(self):
        """(type, IPv4 and IPv6 entries as (text, prefix length)) for GetIPAddressFilter."""
        kind, v4, v6 = self._current()
        return kind, _texts(v4), _texts(v6)

    def set(self, kind, ipv4, ipv6):
        """SetIPAddressFilter: replace everything. Entries are (address text, prefix text)."""
        self._store(kind, ipv4, ipv6)

    def add(self, ipv4, ipv6):
        """AddIPAddressFilter: append entries not yet present; the Type stays."""
        kind, old4, old6 = self.entries()
        self._store(kind, old4 + list(ipv4), old6 + list(ipv6))

    def remove(self, ipv4, ipv6):
        """RemoveIPAddressFilter: drop entries, each of which must be present; the Type stays."""
        kind, v4, v6 = self._current()
        keep = []
        for requested, current, width in ((ipv4, v4, _IPV4), (ipv6, v6, _IPV6)):
            gone = [parse_entry(a, p, width) for a, p in requested]
            for entry in gone:
                if entry not in current:
                    raise sender("InvalidArgVal", _FAULTS[width][1],
                                 reason="no such entry: %s/%d" % (format_address(entry[0]),
                                                                  entry[1]))
            keep.append(_texts([e for e in current if e not in gone]))
        self._store(kind, keep[0], keep[1])

    def admits(self, peer):
        """Whether a connection from `peer` (as accept() gave it) may proceed."""
        kind, v4, v6 = self._current()
        if not v4 and not v6:
            return True
        address = peer_address(peer)
        if address is None:
            return False
        for network, length in _LOOPBACK:
            if in_prefix(address, network, length):
                return True
        matched = False
        for network, length in v4 if len(address) == _IPV4 else v6:
            if in_prefix(address, network, length):
                matched = True
                break
        return matched == (kind == ALLOW)


def parse_stored(stored):
    """(type, IPv4 entries, IPv6 entries) of the filter as the settings keep it; the Sender
    fault, KeyError or TypeError if it is no valid filter (a restored backup, agent.backup)."""
    return _validate(stored["type"], stored["ipv4"], stored["ipv6"])


def _validate(kind, ipv4, ipv6):
    """(type, IPv4 entries, IPv6 entries) parsed and deduplicated, or the Sender fault."""
    if kind not in TYPES:
        raise sender("InvalidArgVal", reason="IP address filter Type is Allow or Deny")
    v4 = _unique([parse_entry(a, p, _IPV4) for a, p in ipv4])
    v6 = _unique([parse_entry(a, p, _IPV6) for a, p in ipv6])
    for entries, version in ((v4, 4), (v6, 6)):
        if len(entries) > MAX_ENTRIES:
            raise sender("InvalidArgVal", "IPFilterListIsFull",
                         reason="at most %d IPv%d entries" % (MAX_ENTRIES, version))
    return kind, v4, v6


def _unique(entries):
    out = []
    for entry in entries:
        if entry not in out:
            out.append(entry)
    return out


def _texts(entries):
    return [(format_address(address), length) for address, length in entries]
