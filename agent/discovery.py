"""WS-Discovery 2005/04 Target Service (checklist 7), sans-IO: datagram bytes in, Sends out.

No sockets, clock or randomness live here: the transport (agent/discovery_net.py) feeds each
datagram to `Discovery.receive()` and sends what it returns, after each Send's delay and with its
repeats. The clock (rate limit) and `rand` (reply delays) are injected, so tests drive both.
"""

from .errors import AgentError, LocalProtocolError, RemoteProtocolError
from .ids import uuid4
from .soap import SoapFault, read_envelope, write_envelope, write_fault
from .xmlwrite import PREFIXES, XmlWriter

D = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSADIS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
TDS = "http://www.onvif.org/ver10/device/wsdl"

DISCOVERY_ADDR_V4 = "239.255.255.250"
DISCOVERY_ADDR_V6 = "ff02::c"
PORT = 3702

# A Probe or Resolve from a real client is 0.5-1.5 KB. 8 KiB leaves room for long scope lists and
# verbose headers while bounding what one datagram costs to parse (and the receive buffer a
# microcontroller must hold); SOAP-over-UDP would allow ~64 KB, i.e. IP fragments nobody needs.
MAX_DATAGRAM = 8192
MAX_ITEMS = 32  # probe Types / Scopes list entries parsed; ours are a handful
MAX_SCOPE = 1024  # characters of one probe scope URI

ACTION_HELLO = D + "/Hello"
ACTION_BYE = D + "/Bye"
ACTION_PROBE = D + "/Probe"
ACTION_PROBE_MATCHES = D + "/ProbeMatches"
ACTION_RESOLVE = D + "/Resolve"
ACTION_RESOLVE_MATCHES = D + "/ResolveMatches"
ACTION_FAULT = D + "/fault"
TO_DISCOVERY = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"  # wsadis:To of multicast messages
TO_ANONYMOUS = WSADIS + "/role/anonymous"  # unicast replies (checklist 7)

# WS-Discovery 2005/04 section 5.1 matching rules. ONVIF names rfc3986; rfc2396 (the default
# when MatchBy is absent) gets the same rule, which is identical for ONVIF's URIs (checklist 7).
MATCH_RFC3986 = D + "/rfc3986"
MATCH_RFC2396 = D + "/rfc2396"
MATCH_STRCMP0 = D + "/strcmp0"
MATCHING_RULES = (MATCH_RFC3986, MATCH_RFC2396, MATCH_STRCMP0)

# WS-Discovery 2005/04 constant: replies to a multicast message wait a random 0..APP_MAX_DELAY ms.
APP_MAX_DELAY = 500
# SOAP-over-UDP (2004) Appendix I, the retransmission algorithm WS-Discovery 2005/04 refers to:
# a message is sent once and then repeated *_UDP_REPEAT more times, the first repeat after a random
# UDP_MIN_DELAY..UDP_MAX_DELAY ms, each later wait doubled up to UDP_UPPER_DELAY.
MULTICAST_UDP_REPEAT = 2
UNICAST_UDP_REPEAT = 1
UDP_MIN_DELAY = 50
UDP_MAX_DELAY = 250
UDP_UPPER_DELAY = 500

# Replies per second (and burst): a flood of probes, possibly with forged sources, must not turn
# the device into a reflector (checklist 7 "rate-limit replies").
REPLY_RATE = 20

# The wsadis header blocks we process. ReplyTo is read as "understood" but never followed: replies
# go to the datagram's source only, so a forged ReplyTo cannot aim them at a third party.
_UNDERSTOOD = tuple((WSADIS, name) for name in ("Action", "MessageID", "To", "ReplyTo"))

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SCHEME = _LETTERS + "0123456789+-."  # RFC 3986 3.1
_HEX = b"0123456789abcdefABCDEF"


class Send:
    """One datagram to send: after `delay_ms`, to `destination` ((ip, port); None means the
    multicast group), then `repeats` more times (SOAP-over-UDP Appendix I back-off)."""

    def __init__(self, delay_ms, data, destination, repeats):
        self.delay_ms = delay_ms
        self.data = data
        self.destination = destination
        self.repeats = repeats

    def __repr__(self):
        return "<Send %d bytes to %r after %d ms, %d repeats>" % (
            len(self.data), self.destination, self.delay_ms, self.repeats)


class Discovery:
    """The Target Service role: answers Probe and Resolve, writes Hello and Bye."""

    def __init__(self, *, endpoint, scopes, xaddrs, instance_id, metadata_version, rand, clock,
                 types=((TDS, "Device"),), max_replies_per_s=REPLY_RATE):
        for ns, _ in types:
            if ns not in PREFIXES:  # d:Types is a QName list: its prefixes must be declarable
                raise LocalProtocolError("no prefix for type namespace " + ns)
        self._endpoint = endpoint
        self._scopes = scopes
        self._xaddrs = xaddrs
        self._instance_id = instance_id
        self._metadata_version = metadata_version
        self._rand = rand
        self._clock = clock
        self._types = tuple(types)
        self._message_number = 0
        # Token bucket in thousandths of a reply: each elapsed ms adds `rate` of them.
        self._rate = max_replies_per_s
        self._capacity = max_replies_per_s * 1000
        self._tokens = self._capacity
        self._last = None
        self.stats = {"received": 0, "replied": 0, "dropped_malformed": 0, "dropped_oversize": 0,
                      "dropped_rate": 0, "ignored": 0}
        self.last_error = None  # an unexpected exception receive() swallowed, for the log

    # -- incoming -------------------------------------------------------------------------------

    def receive(self, data, source, hosts, multicast):
        """The Sends answering one datagram from `source` that reached the interface whose
        `hosts` (see `xaddr_hosts`) the XAddrs name; [] for anything to ignore. Never raises: a
        malformed multicast datagram is dropped silently (checklist 7, no fault storms)."""
        stats = self.stats
        stats["received"] += 1
        if len(data) > MAX_DATAGRAM:  # checked before any parsing
            stats["dropped_oversize"] += 1
            return []
        if not hosts:  # an interface where the device serves nothing: no address to give
            stats["ignored"] += 1
            return []
        try:
            outcome, sends = self._handle(data, source, hosts, multicast)
        except (AgentError, ValueError):  # parser, SOAP and QName errors; bad UTF-8
            outcome, sends = "dropped_malformed", []
        except Exception as exc:  # a bug of ours must not stop the listener
            self.last_error = exc
            outcome, sends = "dropped_malformed", []
        stats[outcome] += 1
        return sends

    def _handle(self, data, source, hosts, multicast):
        env = read_envelope(data, _UNDERSTOOD, max_total=MAX_DATAGRAM)
        action = _header(env, "Action")
        if action == ACTION_PROBE:
            return self._probe(env, source, hosts, multicast)
        if action == ACTION_RESOLVE:
            return self._resolve(env, source, hosts, multicast)
        if action is None:
            raise RemoteProtocolError("no wsadis:Action")
        return "ignored", []  # Hello, Bye, matches of other devices, anything else

    def _probe(self, env, source, hosts, multicast):
        """WS-Discovery 2005/04 section 5: answer only when every Type and Scope matches."""
        relates_to = _message_id(env)
        probe = _body(env, "Probe")
        scopes = probe.find(D, "Scopes")
        rule = MATCH_RFC3986
        if scopes is not None:
            rule = scopes.attrs.get(("", "MatchBy"), "").strip() or MATCH_RFC3986
            if rule not in MATCHING_RULES:
                if multicast:  # checklist 7: silence, never a fault to a multicast probe
                    return "ignored", []
                fault = SoapFault("Sender", (D, "MatchingRuleNotSupported"),
                                  reason="the matching rule is not supported",
                                  detail=_supported_rules)
                return self._reply(source, False, ACTION_FAULT, relates_to,
                                   lambda w: write_fault(w, fault))
        types = probe.find(D, "Types")
        if types is not None:
            for name in _items(types.text):
                if types.resolve_qname(name) not in self._types:
                    return "ignored", []
        if scopes is not None:
            wanted = _items(scopes.text)
            for scope in wanted:
                if len(scope) > MAX_SCOPE:
                    raise RemoteProtocolError("probe scope too long")
            if wanted and not _scopes_match(wanted, self._scopes(), rule):
                return "ignored", []
        return self._reply(source, multicast, ACTION_PROBE_MATCHES, relates_to,
                           lambda w: self._matches(w, "ProbeMatches", "ProbeMatch", hosts))

    def _resolve(self, env, source, hosts, multicast):
        """WS-Discovery 2005/04 section 6: answer only a Resolve for our own endpoint."""
        relates_to = _message_id(env)
        epr = _body(env, "Resolve").find(WSADIS, "EndpointReference")
        address = None if epr is None else epr.findtext(WSADIS, "Address")
        if address is None:
            raise RemoteProtocolError("Resolve without an endpoint address")
        if not same_address(address, self._endpoint):
            return "ignored", []
        return self._reply(source, multicast, ACTION_RESOLVE_MATCHES, relates_to,
                           lambda w: self._matches(w, "ResolveMatches", "ResolveMatch",
                                                   hosts))

    def _reply(self, source, multicast, action, relates_to, body):
        """A unicast reply to the datagram's source, if the rate limit allows one now."""
        if not self._allow():
            return "dropped_rate", []
        # 2005/04 sections 5.3 and 6.2: the random delay spreads the answers of many devices to
        # one multicast request; a unicast request has one answerer and is answered at once.
        delay = self._rand(APP_MAX_DELAY + 1) if multicast else 0
        data = self._message(action, TO_ANONYMOUS, relates_to, body)
        return "replied", [Send(delay, data, source, UNICAST_UDP_REPEAT)]  # IPv6: keeps scope id

    def _allow(self):
        """Token bucket: `rate` replies per second, bursts of up to one second's worth."""
        now = self._clock()
        if self._last is not None and now > self._last:
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1000:
            return False
        self._tokens -= 1000
        return True

    # -- outgoing -------------------------------------------------------------------------------

    def hello(self, hosts):
        """Multicast Hello (2005/04 section 4.1) with the XAddrs of `hosts`,
        after a random 0..APP_MAX_DELAY (checklist 7: recommended on joining the network)."""
        def body(w):
            w.start(D, "Hello")
            self._match(w, hosts)
            w.end()
        data = self._message(ACTION_HELLO, TO_DISCOVERY, None, body)
        return Send(self._rand(APP_MAX_DELAY + 1), data, None, MULTICAST_UDP_REPEAT)

    def bye(self):
        """Multicast Bye (2005/04 section 4.2), sent at once. It carries only the endpoint
        reference (the rest is optional in ByeType): it tells clients to forget that address,
        whatever interface they knew it on."""
        def body(w):
            w.start(D, "Bye")
            self._endpoint_reference(w)
            w.end()
        return Send(0, self._message(ACTION_BYE, TO_DISCOVERY, None, body), None,
                    MULTICAST_UDP_REPEAT)

    def _message(self, action, to, relates_to, body):
        """A whole envelope as bytes; every message takes the next AppSequence MessageNumber."""
        self._message_number += 1
        number = self._message_number

        def header(w):
            w.leaf(WSADIS, "Action", action)
            w.leaf(WSADIS, "MessageID", "urn:uuid:" + uuid4())
            if relates_to is not None:
                w.leaf(WSADIS, "RelatesTo", relates_to)
            w.leaf(WSADIS, "To", to)
            w.leaf(D, "AppSequence", attrs=[("InstanceId", self._instance_id),
                                            ("MessageNumber", number)])

        pieces = []
        write_envelope(XmlWriter(pieces.append, chunk=MAX_DATAGRAM), body, header,
                       declare=(WSADIS, D))
        return b"".join(pieces)

    def _matches(self, w, outer, inner, hosts):
        w.start(D, outer)
        w.start(D, inner)
        self._match(w, hosts)
        w.end()
        w.end()

    def _match(self, w, hosts):
        """EPR, Types, Scopes, XAddrs, MetadataVersion: ProbeMatch, ResolveMatch and Hello."""
        self._endpoint_reference(w)
        w.start(D, "Types", declare=[ns for ns, _ in self._types])  # QNames need their prefixes
        w.text(" ".join(w.qname(ns, local) for ns, local in self._types))
        w.end()
        scopes = self._scopes()
        if scopes:
            w.leaf(D, "Scopes", " ".join(scopes))
        w.leaf(D, "XAddrs", " ".join(self._xaddrs(hosts)))
        w.leaf(D, "MetadataVersion", self._metadata_version())

    def _endpoint_reference(self, w):
        w.start(WSADIS, "EndpointReference")
        w.leaf(WSADIS, "Address", self._endpoint)
        w.end()


def url_host(address):
    """`address` as the host of a URL: an IPv6 literal in brackets (RFC 3986 3.2.2), its zone
    after "%25" (RFC 6874: "%" itself must be escaped in a URI)."""
    if ":" not in address:
        return address
    return "[%s]" % address.replace("%", "%25")


def link_local(address):
    """Whether an IPv6 address (zone or not) is in fe80::/10, usable only with its zone."""
    head = address.split(":")[0]
    return bool(head) and int(head, 16) & 0xffc0 == 0xfe80


def scoped(address, interface):
    """An IPv6 address as sockets and URLs need it: a link-local one with its zone (RFC 4007
    "fe80::1%eth0"), any other bare."""
    return address + "%" + interface if link_local(address) else address


def xaddr_hosts(hosts):
    """Which of one interface's IPv6 `hosts` (see `scoped`) XAddrs name (checklist 7).

    The routable ones, where it has any: a link-local address needs its zone, and RFC 6874
    zones name an interface *of the host using the URL*, so ours (e.g. "eth0") is right only
    for a client that happens to use the same name or puts its own in; and few clients take a
    zone at all (urllib3 2 does; requests, so zeep, and httpx fail on "%25zone"). On a link
    with nothing else (two hosts cabled directly, no router) the link-local address is all
    there is, so it is given, with our zone as RFC 6874 writes it.
    """
    routable = [host for host in hosts if not link_local(host)]
    return routable or list(hosts)


def _supported_rules(w):
    """env:Detail of the MatchingRuleNotSupported fault (2005/04 section 5.1)."""
    w.leaf(D, "SupportedMatchingRules", " ".join(MATCHING_RULES))


def _header(env, name):
    block = env.header(WSADIS, name)
    return None if block is None else block.text.strip()


def _message_id(env):
    """The request's MessageID, which the reply's RelatesTo echoes; a request without one
    cannot be answered."""
    message_id = _header(env, "MessageID")
    if not message_id:
        raise RemoteProtocolError("no wsadis:MessageID")
    return message_id


def _body(env, name):
    if env.body.ns != D or env.body.name != name:
        raise RemoteProtocolError("body is not d:" + name)
    return env.body


def _items(text):
    """A whitespace-separated list (xs:list), bounded to MAX_ITEMS entries."""
    items = text.split()
    if len(items) > MAX_ITEMS:
        raise RemoteProtocolError("too many list items")
    return items


def same_address(a, b):
    """Endpoint addresses as URIs: a urn:uuid compares case-insensitively (RFC 8141 for the
    "urn" and NID, RFC 9562 for the hex digits); other URIs as exact strings."""
    a = a.strip()
    b = b.strip()
    if a[:9].lower() == "urn:uuid:" and b[:9].lower() == "urn:uuid:":
        return a.lower() == b.lower()
    return a == b


def _scopes_match(wanted, ours, rule):
    """Every probe scope matches one of ours (2005/04 section 5.1)."""
    if rule == MATCH_STRCMP0:  # case-sensitive string equality
        for scope in wanted:
            if scope not in ours:
                return False
        return True
    ours = [c for c in (canonical_uri(s) for s in ours) if c is not None]
    for scope in wanted:
        probe = canonical_uri(scope)
        if probe is None:
            return False
        for mine in ours:
            if uri_prefix_match(probe, mine):
                break
        else:
            return False
    return True


def uri_prefix_match(probe, ours):
    """The rfc3986 rule on canonical URIs: same scheme and authority, and the probe's path
    segments a segment-wise prefix of ours (`.../D1` matches `.../D1/x`, never `.../D1-566`)."""
    segments = probe[2]
    return (probe[0] == ours[0] and probe[1] == ours[1]
            and ours[2][:len(segments)] == segments)


def canonical_uri(uri):
    """(scheme, authority, [path segments]) for the rfc3986 rule (checklist 7), or None for a
    URI that can never match: one with a '.' or '..' segment, or with a broken escape.

    Scheme and authority are lower-cased, each path segment percent-decoded into octets after
    splitting (an escaped '/' stays inside its segment; octets, not text, so both runtimes agree
    on any escape), query and fragment dropped. A leading and a trailing '/' are not segments,
    so `onvif://www.onvif.org` and `onvif://www.onvif.org/` both match every ONVIF scope.
    """
    uri = uri.partition("#")[0].partition("?")[0]
    scheme, colon, rest = uri.partition(":")
    if not colon or not scheme or scheme[0] not in _LETTERS or _invalid_char(scheme, _SCHEME):
        scheme, rest = "", uri  # a relative reference: no scheme to compare
    authority = None
    if rest[:2] == "//":
        authority, _, rest = rest[2:].partition("/")
        authority = _unescape(authority)
        if authority is None:
            return None
        authority = authority.lower()
    elif rest[:1] == "/":
        rest = rest[1:]
    if rest[-1:] == "/":
        rest = rest[:-1]
    segments = []
    if rest:
        for segment in rest.split("/"):
            segment = _unescape(segment)
            if segment is None or segment == b"." or segment == b"..":
                return None
            segments.append(segment)
    return scheme.lower(), authority, segments


def _invalid_char(s, chars):
    """Whether `s` holds a character outside `chars` (MicroPython's str lacks isalnum)."""
    for c in s:
        if c not in chars:
            return True
    return False


def _unescape(s):
    """Percent-decode (RFC 3986 2.1) text into octets, or None for a malformed escape."""
    raw = s.encode()
    if b"%" not in raw:
        return raw
    parts = raw.split(b"%")
    out = bytearray(parts[0])
    for part in parts[1:]:
        if len(part) < 2 or part[0] not in _HEX or part[1] not in _HEX:
            return None
        out.append(int(part[:2].decode(), 16))
        out.extend(part[2:])
    return bytes(out)
