"""Network configuration rules common to every backend (checklist 6, 8.3; issue 8).

The backends (hal/net/: sim, linux, machine) know how to read and apply a configuration; this
module is what the device says about any of them, so a client sees the same validation and the
same faults whichever board it talks to:

- addresses: dotted quads and IPv6 text parsed by agent.ipfilter's parsers; a manual address
  must be unicast and usable by a host (not 0/8, loopback, link-local, multicast or the
  broadcast/network address of its prefix), else ter:InvalidIPv4Address / InvalidIPv6Address;
- host names: RFC 1123 §2.1 (labels of 1-63 letters, digits and hyphens, not starting or ending
  with a hyphen, 253 characters at most, the last label not all-numeric, so that an IPv4 literal
  is never taken for a name), else ter:InvalidHostname; SetNTP's DNS names follow the same rule
  and may end with the root dot (ter:InvalidDnsName);
- a tt:NetworkInterfaceSetConfiguration becomes the backend's `changes` dict, holding only what
  the request gave;
- a backend that cannot apply anything (`can_apply` False, or no backend at all) answers every
  Set* with env:Receiver/ter:ActionNotSupported, never a fake success (checklist 6);
- 802.11 settings on a backend without Wi-Fi are Receiver/ActionNotSupported/InvalidDot11, a
  stateful DHCPv6 request on a device without the DHCPv6 capability ...InvalidDHCPv6 (8.3 #11);
- a backend's NetworkError carries the fault subcode; None means "cannot apply".
"""

from hal.net.base import NetworkError

from .ipfilter import format_address, parse_ipv4, parse_ipv6
from .services import parse_boolean
from .soap import SoapFault, sender

TT = "http://www.onvif.org/ver10/schema"

MAX_HOSTNAME = 253   # RFC 1123 §2.1 (RFC 1035's 255 octets on the wire)
MAX_LABEL = 63
MAX_MANUAL_ADDRESSES = 8   # per family and interface: a bound on what one request can add
MAX_DNS_SERVERS = 4
MAX_SEARCH_DOMAINS = 6     # glibc's resolv.conf limit
MAX_GATEWAYS = 4
IPV6_DHCP_MODES = ("Auto", "Stateful", "Stateless", "Off")
DUPLEX = ("Full", "Half")

_LETTERS_DIGITS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DIGITS = "0123456789"

# Subcodes a backend reports that are Receiver/ActionNotSupported faults (8.3 #11); every other
# one is Sender/InvalidArgVal/subcode.
_RECEIVER_SUBCODES = ("InvalidDot11", "InvalidDHCPv6")


# -- names ----------------------------------------------------------------------------------

def is_hostname(name):
    """Whether `name` is an RFC 1123 §2.1 host name (a single label or a dotted name)."""
    if not name or len(name) > MAX_HOSTNAME:
        return False
    labels = name.split(".")
    for label in labels:
        if not 0 < len(label) <= MAX_LABEL or label[0] == "-" or label[-1] == "-":
            return False
        for ch in label:
            if ch != "-" and _LETTERS_DIGITS.find(ch) < 0:
                return False
    # RFC 1123 §2.1: a valid name is never all-numeric in its top label, which keeps dotted
    # quads ("192.168.1.1") out.
    return not _all_digits(labels[len(labels) - 1])


def is_dns_name(name):
    """A DNS name for SetNTP: a host name, optionally fully qualified with the root dot."""
    if name and name[len(name) - 1] == ".":
        name = name[:len(name) - 1]
    return is_hostname(name)


def _all_digits(text):
    for ch in text:
        if _DIGITS.find(ch) < 0:
            return False
    return True


def check_hostname(name):
    if not is_hostname(name):
        raise sender("InvalidArgVal", "InvalidHostname",
                     reason="not an RFC 1123 host name: %s" % name[:MAX_HOSTNAME])
    return name


# -- addresses ------------------------------------------------------------------------------

def _fault(version):
    return "InvalidIPv4Address" if version == 4 else "InvalidIPv6Address"


def _text(element):
    return (element.text or "").strip() if element is not None else ""


def parse_address(text, version, subcode=None):
    """Canonical text of an IPv4 (version 4) or IPv6 (6) address, else the Sender fault
    (`subcode`, default Invalid<family>Address). IPv6 zones are refused: a configured address
    names no interface of its own."""
    text = (text or "").strip()
    raw = parse_ipv4(text) if version == 4 else parse_ipv6(text)
    if raw is None:
        raise sender("InvalidArgVal", subcode or _fault(version),
                     reason="not an IPv%d address: %s" % (version, text[:45]))
    return format_address(raw)


def is_unicast(address):
    """Whether canonical address text is one a host may use as its own or as a peer's:
    not unspecified, loopback, multicast or (IPv4) limited broadcast and 0/8."""
    if ":" in address:
        raw = parse_ipv6(address)
        return raw != bytes(16) and raw != bytes(15) + b"\x01" and raw[0] != 0xFF
    raw = parse_ipv4(address)
    return raw[0] not in (0, 127) and raw[0] < 224


def is_link_local(address):
    raw = parse_ipv6(address) if ":" in address else parse_ipv4(address)
    if len(raw) == 4:
        return raw[0] == 169 and raw[1] == 254
    return raw[0] == 0xFE and raw[1] & 0xC0 == 0x80


def parse_prefixed(element, version):
    """[address, prefix length] of a tt:PrefixedIPv4Address / PrefixedIPv6Address that may be
    a host's manual address, else Sender/InvalidArgVal/Invalid<family>Address."""
    subcode = _fault(version)
    address = parse_address(_text(element.find(TT, "Address")), version)
    length = _text(element.find(TT, "PrefixLength"))
    width = 32 if version == 4 else 128
    if not length.isdigit() or len(length) > 3 or not 0 < int(length) <= width:
        raise sender("InvalidArgVal", subcode,
                     reason="prefix length of %s must be 1..%d" % (address, width))
    length = int(length)
    if not is_unicast(address) or is_link_local(address):
        raise sender("InvalidArgVal", subcode,
                     reason="%s is not a unicast address a host may be given" % address)
    if version == 4 and length < 31 and _host_part(parse_ipv4(address), length) in (0, -1):
        raise sender("InvalidArgVal", subcode,
                     reason="%s is the network or broadcast address of /%d" % (address, length))
    return [address, length]


def _host_part(raw, length):
    """The host bits of an IPv4 address: 0 for all zeros, -1 for all ones, else 1."""
    value = raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3]
    mask = (1 << (32 - length)) - 1
    host = value & mask
    return 0 if host == 0 else (-1 if host == mask else 1)


def parse_ip_address(element):
    """Canonical text of a tt:IPAddress (Type IPv4 or IPv6 and the matching child)."""
    kind = _text(element.find(TT, "Type"))
    if kind not in ("IPv4", "IPv6"):
        raise sender("InvalidArgVal", reason="IPAddress Type must be IPv4 or IPv6")
    version = 4 if kind == "IPv4" else 6
    address = parse_address(_text(element.find(TT, kind + "Address")), version)
    if not is_unicast(address):
        raise sender("InvalidArgVal", _fault(version), reason="%s is not unicast" % address)
    return address


def parse_network_host(element):
    """Server text of a tt:NetworkHost (SetNTP): an address, or a DNS name as given."""
    kind = _text(element.find(TT, "Type"))
    if kind == "DNS":
        name = _text(element.find(TT, "DNSname"))
        if not is_dns_name(name):
            raise sender("InvalidArgVal", "InvalidDnsName",
                         reason="not a DNS name: %s" % name[:MAX_HOSTNAME])
        return name
    if kind not in ("IPv4", "IPv6"):
        raise sender("InvalidArgVal", reason="NetworkHost Type must be IPv4, IPv6 or DNS")
    return parse_ip_address(element)


def host_kind(server):
    """tt:NetworkHostType of a stored server text."""
    if parse_ipv4(server) is not None:
        return "IPv4"
    return "IPv6" if ":" in server else "DNS"


def parse_gateway(text, version):
    """A default gateway: an address (Invalid<family>Address) a router can have
    (InvalidGatewayAddress: not unicast, or IPv4 link-local)."""
    address = parse_address(text, version)
    if not is_unicast(address) or (version == 4 and is_link_local(address)):
        raise sender("InvalidArgVal", "InvalidGatewayAddress",
                     reason="%s cannot be a default gateway" % address)
    return address


def bounded(items, limit, what):
    if len(items) > limit:
        raise sender("InvalidArgVal", reason="at most %d %s" % (limit, what))
    return items


# -- interfaces -----------------------------------------------------------------------------

def _boolean(element, name):
    child = element.find(TT, name)
    return None if child is None else parse_boolean(child.text, name)


def parse_interface_changes(element, backend):
    """The `changes` dict of a tt:NetworkInterfaceSetConfiguration (hal.net.base contract):
    only the fields the request gave."""
    changes = {}
    enabled = _boolean(element, "Enabled")
    if enabled is not None:
        changes["enabled"] = enabled
    link = element.find(TT, "Link")
    if link is not None:
        changes["link"] = _parse_link(link)
    mtu = element.find(TT, "MTU")
    if mtu is not None:
        text = _text(mtu)
        if not text.isdigit() or len(text) > 6:
            raise sender("InvalidArgVal", "InvalidMtuValue", reason="MTU is not a number")
        changes["mtu"] = int(text)
    ipv4 = element.find(TT, "IPv4")
    if ipv4 is not None:
        changes["ipv4"] = _parse_family(ipv4, 4)
    ipv6 = element.find(TT, "IPv6")
    if ipv6 is not None:
        if not backend.ipv6:
            raise sender("InvalidArgVal", "InvalidIPv6Address",
                         reason="this device has no IPv6")
        changes["ipv6"] = v6 = _parse_family(ipv6, 6)
        ra = _boolean(ipv6, "AcceptRouterAdvert")
        if ra is not None:
            v6["accept_router_advert"] = ra
    extension = element.find(TT, "Extension")
    if extension is not None and extension.find(TT, "Dot11") is not None and not backend.dot11:
        raise SoapFault("Receiver", "ActionNotSupported", "InvalidDot11",
                        reason="this device has no IEEE 802.11 interface")
    return changes


def _parse_link(link):
    """tt:NetworkInterfaceConnectionSetting: all three children are required."""
    auto = _boolean(link, "AutoNegotiation")
    speed = _text(link.find(TT, "Speed"))
    duplex = _text(link.find(TT, "Duplex"))
    if auto is None or not speed.isdigit() or len(speed) > 6 or duplex not in DUPLEX:
        raise sender("InvalidArgVal", "InvalidInterfaceSpeed",
                     reason="Link needs AutoNegotiation, Speed (Mb/s) and Duplex Full or Half")
    return {"auto": auto, "speed": int(speed), "duplex": duplex}


def _parse_family(element, version):
    changes = {}
    enabled = _boolean(element, "Enabled")
    if enabled is not None:
        changes["enabled"] = enabled
    manual = element.findall(TT, "Manual")
    if manual:
        entries = []
        for entry in manual:
            parsed = parse_prefixed(entry, version)
            if parsed not in entries:
                entries.append(parsed)
        changes["manual"] = bounded(entries, MAX_MANUAL_ADDRESSES,
                                    "manual IPv%d addresses" % version)
    dhcp = element.find(TT, "DHCP")
    if dhcp is not None:
        if version == 4:
            changes["dhcp"] = parse_boolean(dhcp.text, "DHCP")
        else:
            mode = _text(dhcp)
            if mode not in IPV6_DHCP_MODES:
                raise sender("InvalidArgVal", reason="IPv6 DHCP must be one of "
                             + ", ".join(IPV6_DHCP_MODES))
            changes["dhcp"] = mode
    return changes


# -- applying -------------------------------------------------------------------------------

def applying(backend):
    """The backend, if it can apply a Set*; else Receiver/ActionNotSupported (checklist 6:
    never a fake success)."""
    if backend is None or not backend.can_apply:
        raise SoapFault("Receiver", "ActionNotSupported",
                        reason="this device's network is managed by its operating system")
    return backend


def check_dhcpv6(changes, dhcpv6):
    """Stateful DHCPv6 needs the DHCPv6 capability (8.2.1, 8.3 #11)."""
    mode = changes.get("ipv6", {}).get("dhcp")
    if mode == "Stateful" and not dhcpv6:
        raise SoapFault("Receiver", "ActionNotSupported", "InvalidDHCPv6",
                        reason="this device has no stateful DHCPv6 client")


def fault_of(error):
    """The SOAP fault of a backend's NetworkError."""
    if error.subcode is None:
        return SoapFault("Receiver", "ActionNotSupported", reason=error.reason)
    if error.subcode in _RECEIVER_SUBCODES:
        return SoapFault("Receiver", "ActionNotSupported", error.subcode, reason=error.reason)
    return sender("InvalidArgVal", error.subcode, reason=error.reason)


def apply(call, *args):
    """`call(*args)` on a backend, its NetworkError turned into the SOAP fault."""
    try:
        return call(*args)
    except NetworkError as exc:
        raise fault_of(exc)
