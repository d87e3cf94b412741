"""The WS-Discovery Target Service (agent/discovery.py) against checklist 7, on both runtimes."""

import unittest

from agent import discovery
from agent.discovery import D, TDS, WSADIS, Discovery
from agent.soap import SOAP12
from agent.xmltree import parse
from tests.support import Clock, Rng

ENDPOINT = "urn:uuid:0f3c8a52-1d2e-4b6f-9a7c-1234567890ab"
SCOPES = [
    "onvif://www.onvif.org/hardware/D1-566",
    "onvif://www.onvif.org/name/Front%20Door",
    "onvif://www.onvif.org/location/country/fr",
    "http://vendor.example/acl/Door/1",
]
MULTICAST = True
UNICAST = False
SOURCE = ("192.0.2.7", 40001)
LOCAL = ["192.0.2.1"]  # the XAddr hosts of the link a datagram reached
NVT = "http://www.onvif.org/ver10/network/wsdl"


def probe(body="<d:Probe/>", message_id="urn:uuid:11111111-2222-4333-8444-555555555555",
          action=D + "/Probe", extra=""):
    header = ""
    if action is not None:
        header += '<a:Action s:mustUnderstand="1">%s</a:Action>' % action
    if message_id is not None:
        header += "<a:MessageID>%s</a:MessageID>" % message_id
    return ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
            '<s:Header>%s<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery'
            '</a:To>%s</s:Header><s:Body>%s</s:Body></s:Envelope>'
            % (header, extra, body)).encode()


def scopes_probe(scopes, match_by=None):
    attr = "" if match_by is None else ' MatchBy="%s"' % match_by
    return probe("<d:Probe><d:Scopes%s>%s</d:Scopes></d:Probe>" % (attr, scopes))


def resolve(address):
    return probe("<d:Resolve><a:EndpointReference><a:Address>%s</a:Address>"
                 "</a:EndpointReference></d:Resolve>" % address, action=D + "/Resolve")


def make(**options):
    settings = {
        "endpoint": ENDPOINT,
        "scopes": lambda: SCOPES,
        "xaddrs": lambda hosts: [url % discovery.url_host(host) for host in hosts for url in (
            "http://%s:8080/onvif/device_service", "https://%s:8443/onvif/device_service")],
        "instance_id": 42,
        "metadata_version": lambda: 3,
        "rand": lambda n: n - 1,
        "clock": Clock(),
    }
    settings.update(options)
    return Discovery(**settings)


def header_text(root, name):
    return root.find(SOAP12, "Header").findtext(WSADIS, name)


def app_sequence(root):
    attrs = root.find(SOAP12, "Header").find(D, "AppSequence").attrs
    return int(attrs[("", "InstanceId")]), int(attrs[("", "MessageNumber")])


def body_of(root):
    return root.find(SOAP12, "Body").children[0]


class ProbeTypesTest(unittest.TestCase):
    def answers(self, data, multicast=MULTICAST):
        return len(make().receive(data, SOURCE, LOCAL, multicast)) == 1

    def test_probe_without_types_or_scopes_matches(self):
        self.assertTrue(self.answers(probe()))
        self.assertTrue(self.answers(probe("<d:Probe><d:Types/><d:Scopes/></d:Probe>")))

    def test_device_type_under_any_prefix(self):
        for types in ('<d:Types xmlns:tds="%s">tds:Device</d:Types>' % TDS,
                      '<d:Types xmlns:x="%s"> x:Device </d:Types>' % TDS,
                      '<d:Types xmlns="%s">Device</d:Types>' % TDS):
            self.assertTrue(self.answers(probe("<d:Probe>%s</d:Probe>" % types)), types)

    def test_other_types_do_not_match(self):
        for types in ('<d:Types xmlns:dn="%s">dn:NetworkVideoTransmitter</d:Types>' % NVT,
                      '<d:Types xmlns:tds="%s">tds:Device dn:X</d:Types>' % TDS,  # undeclared
                      '<d:Types xmlns:tds="urn:other">tds:Device</d:Types>',
                      '<d:Types xmlns:tds="%s">tds:device</d:Types>' % TDS,
                      '<d:Types xmlns:tds="%s" xmlns:dn="%s">tds:Device dn:NetworkVideoTransmitter'
                      '</d:Types>' % (TDS, NVT)):
            self.assertFalse(self.answers(probe("<d:Probe>%s</d:Probe>" % types)), types)


class ScopeMatchingTest(unittest.TestCase):
    def matches(self, scopes, match_by=None):
        return len(make().receive(scopes_probe(scopes, match_by), SOURCE, LOCAL, MULTICAST)) == 1

    def test_rfc3986_prefix_on_segment_boundaries(self):
        yes = ("onvif://www.onvif.org/hardware/D1-566", "onvif://www.onvif.org/hardware",
               "onvif://www.onvif.org/hardware/", "onvif://www.onvif.org", "onvif://www.onvif.org/",
               "onvif://www.onvif.org/location/country", "http://vendor.example/acl/Door",
               "onvif://www.onvif.org/hardware/D1-566?x=1#frag",
               "onvif://www.onvif.org/hardware onvif://www.onvif.org/name/Front%20Door")
        no = ("onvif://www.onvif.org/hardware/D1", "onvif://www.onvif.org/hard",
              "onvif://www.onvif.org/hardware/D1-566/x", "onvif://www.onvif.org/Profile/Streaming",
              "onvif://www.onvif.org/hardware onvif://www.onvif.org/Profile/Streaming",
              "onvif://other.org/hardware", "http://www.onvif.org/hardware",
              "onvif://www.onvif.org:80/hardware", "onvif:/hardware")
        for scope in yes:
            self.assertTrue(self.matches(scope), scope)
        for scope in no:
            self.assertFalse(self.matches(scope), scope)

    def test_scheme_and_authority_case_insensitive_path_case_sensitive(self):
        self.assertTrue(self.matches("ONVIF://WWW.ONVIF.ORG/hardware/D1-566"))
        self.assertTrue(self.matches("Http://Vendor.Example/acl"))
        self.assertFalse(self.matches("onvif://www.onvif.org/Hardware/D1-566"))
        self.assertFalse(self.matches("onvif://www.onvif.org/hardware/d1-566"))

    def test_percent_encoding_is_decoded_first(self):
        self.assertTrue(self.matches("onvif://www.onvif.org/name/Front%20Door"))
        self.assertTrue(self.matches("onvif://www.onvif.org/%6eame/Front%20D%6For"))
        self.assertTrue(self.matches("onvif://www.onvif.org/hardware/D1%2d566"))
        self.assertTrue(self.matches("onvif://www.%4Fnvif.org/hardware"))
        self.assertFalse(self.matches("onvif://www.onvif.org/name/Front%20door"))
        self.assertFalse(self.matches("onvif://www.onvif.org/name/Front%2"))
        self.assertFalse(self.matches("onvif://www.onvif.org/hardware%2FD1-566"))  # not a '/'

    def test_dot_segments_never_match(self):
        for scope in ("onvif://www.onvif.org/./hardware", "onvif://www.onvif.org/name/../hardware",
                      "onvif://www.onvif.org/hardware/D1-566/..", "onvif://www.onvif.org/%2E%2E"):
            self.assertFalse(self.matches(scope), scope)
        ours = make(scopes=lambda: ["onvif://www.onvif.org/a/../b"])
        data = scopes_probe("onvif://www.onvif.org/a")
        self.assertEqual(ours.receive(data, SOURCE, LOCAL, MULTICAST), [])

    def test_rfc2396_and_absent_match_by_use_the_same_rule(self):
        for rule in (None, discovery.MATCH_RFC3986, discovery.MATCH_RFC2396,
                     " " + discovery.MATCH_RFC3986 + " "):
            self.assertTrue(self.matches("onvif://WWW.onvif.org/hardware", rule), rule)
            self.assertFalse(self.matches("onvif://www.onvif.org/hardware/D1", rule), rule)

    def test_strcmp0_is_exact(self):
        rule = discovery.MATCH_STRCMP0
        self.assertTrue(self.matches("onvif://www.onvif.org/hardware/D1-566", rule))
        self.assertTrue(self.matches("onvif://www.onvif.org/name/Front%20Door", rule))
        self.assertFalse(self.matches("onvif://www.onvif.org/hardware", rule))
        self.assertFalse(self.matches("ONVIF://www.onvif.org/hardware/D1-566", rule))
        self.assertFalse(self.matches("onvif://www.onvif.org/name/Front Door", rule))

    def test_types_and_scopes_must_both_match(self):
        body = ('<d:Probe><d:Types xmlns:t="%s">t:Device</d:Types>'
                '<d:Scopes>%s</d:Scopes></d:Probe>')
        d = make()
        self.assertEqual(len(d.receive(probe(body % (TDS, "onvif://www.onvif.org/hardware")),
                                       SOURCE, LOCAL, MULTICAST)), 1)
        self.assertEqual(d.receive(probe(body % (TDS, "onvif://www.onvif.org/Profile/C")),
                                   SOURCE, LOCAL, MULTICAST), [])
        self.assertEqual(d.receive(probe(body % (NVT, "onvif://www.onvif.org/hardware")),
                                   SOURCE, LOCAL, MULTICAST), [])


class UnsupportedRuleTest(unittest.TestCase):
    LDAP = D + "/ldap"

    def test_multicast_is_silent(self):
        d = make()
        self.assertEqual(d.receive(scopes_probe("ldap:///ou=x", self.LDAP), SOURCE, LOCAL,
                                   MULTICAST), [])
        self.assertEqual(d.stats["ignored"], 1)

    def test_unicast_gets_the_fault(self):
        d = make()
        (send,) = d.receive(scopes_probe("ldap:///ou=x", self.LDAP), SOURCE, LOCAL, UNICAST)
        self.assertEqual((send.destination, send.delay_ms), (SOURCE, 0))
        root = parse(send.data)
        self.assertEqual(header_text(root, "Action"), D + "/fault")
        self.assertEqual(header_text(root, "RelatesTo"),
                         "urn:uuid:11111111-2222-4333-8444-555555555555")
        fault = body_of(root)
        self.assertEqual((fault.ns, fault.name), (SOAP12, "Fault"))
        code = fault.find(SOAP12, "Code")
        value = code.find(SOAP12, "Value")
        self.assertEqual(value.resolve_qname(value.text), (SOAP12, "Sender"))
        sub = code.find(SOAP12, "Subcode").find(SOAP12, "Value")
        self.assertEqual(sub.resolve_qname(sub.text), (D, "MatchingRuleNotSupported"))
        rules = fault.find(SOAP12, "Detail").findtext(D, "SupportedMatchingRules").split()
        self.assertEqual(rules, list(discovery.MATCHING_RULES))
        self.assertEqual(d.stats["replied"], 1)


class ReplyTest(unittest.TestCase):
    def test_probe_match_content(self):
        d = make()
        (send,) = d.receive(probe(), SOURCE, LOCAL, MULTICAST)
        self.assertEqual(send.destination, SOURCE)
        self.assertEqual(send.repeats, discovery.UNICAST_UDP_REPEAT)
        root = parse(send.data)
        self.assertEqual(header_text(root, "Action"), D + "/ProbeMatches")
        self.assertEqual(header_text(root, "To"), WSADIS + "/role/anonymous")
        self.assertEqual(header_text(root, "RelatesTo"),
                         "urn:uuid:11111111-2222-4333-8444-555555555555")
        self.assertTrue(header_text(root, "MessageID").startswith("urn:uuid:"))
        self.assertEqual(app_sequence(root), (42, 1))
        matches = body_of(root)
        self.assertEqual((matches.ns, matches.name), (D, "ProbeMatches"))
        self.check_match(matches.find(D, "ProbeMatch"))

    def check_match(self, match):
        epr = match.find(WSADIS, "EndpointReference")
        self.assertEqual(epr.findtext(WSADIS, "Address"), ENDPOINT)
        types = match.find(D, "Types")
        self.assertEqual([types.resolve_qname(t) for t in types.text.split()], [(TDS, "Device")])
        self.assertEqual(match.findtext(D, "Scopes").split(), SCOPES)
        self.assertEqual(match.findtext(D, "XAddrs").split(),
                         ["http://192.0.2.1:8080/onvif/device_service",
                          "https://192.0.2.1:8443/onvif/device_service"])
        self.assertEqual(match.findtext(D, "MetadataVersion"), "3")

    def test_resolve_ours_answers(self):
        for address in (ENDPOINT, ENDPOINT.upper(), "URN:uuid:" + ENDPOINT[9:].upper(),
                        " %s " % ENDPOINT):
            d = make()
            (send,) = d.receive(resolve(address), SOURCE, LOCAL, MULTICAST)
            root = parse(send.data)
            self.assertEqual(header_text(root, "Action"), D + "/ResolveMatches")
            self.assertEqual(header_text(root, "RelatesTo"),
                             "urn:uuid:11111111-2222-4333-8444-555555555555")
            self.check_match(body_of(root).find(D, "ResolveMatch"))

    def test_resolve_other_is_silent(self):
        d = make()
        for address in ("urn:uuid:0f3c8a52-1d2e-4b6f-9a7c-1234567890ac", "http://x/",
                        ENDPOINT[9:]):
            self.assertEqual(d.receive(resolve(address), SOURCE, LOCAL, MULTICAST), [])
        self.assertEqual(d.stats["ignored"], 3)

    def test_relates_to_echoes_each_request(self):
        d = make()
        for n in range(3):
            mid = "urn:uuid:00000000-0000-4000-8000-00000000000%d" % n
            (send,) = d.receive(probe(message_id=mid), SOURCE, LOCAL, MULTICAST)
            self.assertEqual(header_text(parse(send.data), "RelatesTo"), mid)

    def test_message_numbers_increase_and_ids_are_fresh(self):
        d = make()
        numbers, ids = [], []
        for data in (probe(), resolve(ENDPOINT), probe()):
            root = parse(d.receive(data, SOURCE, LOCAL, UNICAST)[0].data)
            numbers.append(app_sequence(root)[1])
            ids.append(header_text(root, "MessageID"))
        numbers.append(app_sequence(parse(d.hello(LOCAL).data))[1])
        numbers.append(app_sequence(parse(d.bye().data))[1])
        self.assertEqual(numbers, [1, 2, 3, 4, 5])
        self.assertEqual(len(set(ids)), 3)

    def test_multicast_replies_wait_a_random_delay_unicast_ones_do_not(self):
        asked = []

        def rand(n):
            asked.append(n)
            return len(asked) * 100 % n

        d = make(rand=rand)
        delays = [d.receive(probe(), SOURCE, LOCAL, MULTICAST)[0].delay_ms for _ in range(6)]
        self.assertEqual(asked, [501] * 6)  # APP_MAX_DELAY 500 ms inclusive
        self.assertEqual(delays, [100, 200, 300, 400, 500, 99])
        self.assertEqual(d.receive(probe(), SOURCE, LOCAL, UNICAST)[0].delay_ms, 0)
        self.assertEqual(len(asked), 6)

    def test_ipv6_source_is_answered_as_given(self):
        source = ("fe80::1", 40001, 0, 3)  # link-local: the scope id picks the interface
        (send,) = make().receive(probe(), source, ["fe80::2%eth0"], MULTICAST)
        self.assertEqual(send.destination, source)

    def test_reply_to_is_never_followed(self):
        extra = ("<a:ReplyTo s:mustUnderstand=\"1\"><a:Address>soap.udp://198.51.100.9:9"
                 "</a:Address></a:ReplyTo>")
        (send,) = make().receive(probe(extra=extra), SOURCE, LOCAL, MULTICAST)
        self.assertEqual(send.destination, SOURCE)

    def test_other_actions_are_ignored(self):
        d = make()
        for action in ("Hello", "Bye", "ProbeMatches", "ResolveMatches", "fault"):
            self.assertEqual(d.receive(probe(action=D + "/" + action), SOURCE, LOCAL, MULTICAST),
                             [])
        self.assertEqual(d.receive(probe(action="urn:x:unknown"), SOURCE, LOCAL, MULTICAST), [])
        self.assertEqual(d.stats["ignored"], 6)
        self.assertEqual(d.stats["dropped_malformed"], 0)


class HelloByeTest(unittest.TestCase):
    def test_hello(self):
        d = make(rand=lambda n: 123)
        send = d.hello(["198.51.100.4"])
        self.assertEqual((send.destination, send.delay_ms, send.repeats),
                         (None, 123, discovery.MULTICAST_UDP_REPEAT))
        root = parse(send.data)
        self.assertEqual(header_text(root, "Action"), D + "/Hello")
        self.assertEqual(header_text(root, "To"), "urn:schemas-xmlsoap-org:ws:2005:04:discovery")
        self.assertEqual(header_text(root, "RelatesTo"), None)
        self.assertEqual(app_sequence(root), (42, 1))
        hello = body_of(root)
        self.assertEqual((hello.ns, hello.name), (D, "Hello"))
        self.assertEqual(hello.find(WSADIS, "EndpointReference").findtext(WSADIS, "Address"),
                         ENDPOINT)
        self.assertEqual(hello.findtext(D, "XAddrs").split()[0],
                         "http://198.51.100.4:8080/onvif/device_service")
        self.assertEqual(hello.findtext(D, "MetadataVersion"), "3")
        self.assertEqual(hello.findtext(D, "Scopes").split(), SCOPES)

    def test_bye(self):
        send = make().bye()
        self.assertEqual((send.destination, send.delay_ms, send.repeats),
                         (None, 0, discovery.MULTICAST_UDP_REPEAT))
        root = parse(send.data)
        self.assertEqual(header_text(root, "Action"), D + "/Bye")
        self.assertEqual(header_text(root, "To"), "urn:schemas-xmlsoap-org:ws:2005:04:discovery")
        bye = body_of(root)
        self.assertEqual([(c.ns, c.name) for c in bye.children], [(WSADIS, "EndpointReference")])
        self.assertEqual(bye.children[0].findtext(WSADIS, "Address"), ENDPOINT)


class RateLimitTest(unittest.TestCase):
    def test_token_bucket(self):
        clock = Clock()
        d = make(clock=clock, max_replies_per_s=5)
        answered = [len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)) for _ in range(8)]
        self.assertEqual(answered, [1] * 5 + [0] * 3)  # a burst of one second's worth
        self.assertEqual(d.stats["dropped_rate"], 3)
        clock.now += 199
        self.assertEqual(d.receive(probe(), SOURCE, LOCAL, MULTICAST), [])
        clock.now += 1  # 200 ms at 5/s: one reply earned
        self.assertEqual(len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)), 1)
        self.assertEqual(d.receive(probe(), SOURCE, LOCAL, MULTICAST), [])
        clock.now += 100000  # a long pause refills only up to the burst
        answered = [len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)) for _ in range(7)]
        self.assertEqual(answered, [1] * 5 + [0] * 2)

    def test_requests_we_ignore_cost_nothing(self):
        d = make(max_replies_per_s=1)
        for _ in range(5):
            d.receive(resolve("urn:uuid:other"), SOURCE, LOCAL, MULTICAST)
        self.assertEqual(len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)), 1)

    def test_clock_going_backwards_earns_nothing(self):
        clock = Clock()
        d = make(clock=clock, max_replies_per_s=1)
        self.assertEqual(len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)), 1)
        clock.now -= 5000
        self.assertEqual(d.receive(probe(), SOURCE, LOCAL, MULTICAST), [])
        clock.now += 1000
        self.assertEqual(len(d.receive(probe(), SOURCE, LOCAL, MULTICAST)), 1)


class HostileInputTest(unittest.TestCase):
    def drop(self, d, data, multicast=MULTICAST):
        self.assertEqual(d.receive(data, SOURCE, LOCAL, multicast), [])

    def test_malformed_datagrams_are_dropped_and_counted(self):
        d = make()
        soap11 = probe().replace(b"http://www.w3.org/2003/05/soap-envelope",
                                 b"http://schemas.xmlsoap.org/soap/envelope/")
        bad = [b"", b"\x00\xff garbage", b"<s:Envelope", soap11, probe()[:-5],
               probe(message_id=None), probe(action=None), probe(body="<d:Resolve/>"),
               probe("<d:Resolve/>", action=D + "/Resolve"),
               probe('<d:Probe><d:Types>nope:Device</d:Types></d:Probe>'),
               probe('<d:Probe><d:Types>1bad</d:Types></d:Probe>'),
               probe(extra='<x:H xmlns:x="urn:x" s:mustUnderstand="1"/>')]
        for data in bad:
            self.drop(d, data, UNICAST)  # never a fault, even to a unicast sender
        self.assertEqual(d.stats["dropped_malformed"], len(bad))
        self.assertEqual(d.stats["replied"], 0)
        self.assertEqual(d.last_error, None)

    def test_oversized_datagram_is_dropped_before_parsing(self):
        d = make()
        padding = "<a:Pad xmlns:a='urn:pad'>%s</a:Pad>" % ("x" * discovery.MAX_DATAGRAM)
        self.drop(d, probe(extra=padding))
        self.assertEqual(d.stats["dropped_oversize"], 1)
        exact = probe(extra="<x:P xmlns:x='urn:p'/>")
        exact = exact.replace(b"<x:P", b"<x:P" + b" " * (discovery.MAX_DATAGRAM - len(exact)))
        self.assertEqual(len(exact), discovery.MAX_DATAGRAM)
        self.assertEqual(len(d.receive(exact, SOURCE, LOCAL, MULTICAST)), 1)

    def test_bounded_lists(self):
        d = make()
        many = " ".join(["onvif://www.onvif.org"] * (discovery.MAX_ITEMS + 1))
        self.drop(d, scopes_probe(many))
        types = " ".join(["t:Device"] * (discovery.MAX_ITEMS + 1))
        self.drop(d, probe('<d:Probe><d:Types xmlns:t="%s">%s</d:Types></d:Probe>' % (TDS, types)))
        self.drop(d, scopes_probe("onvif://www.onvif.org/" + "a" * discovery.MAX_SCOPE))
        self.assertEqual(d.stats["dropped_malformed"], 3)
        ok = " ".join(["onvif://www.onvif.org"] * discovery.MAX_ITEMS)
        self.assertEqual(len(d.receive(scopes_probe(ok), SOURCE, LOCAL, MULTICAST)), 1)

    def test_mutated_probes_never_raise(self):
        rng = Rng(20240605)
        seeds = [probe(), scopes_probe("onvif://www.onvif.org/hardware onvif://x/%41"),
                 probe('<d:Probe><d:Types xmlns:t="%s">t:Device</d:Types></d:Probe>' % TDS),
                 resolve(ENDPOINT), scopes_probe("a b", D + "/ldap")]
        alphabet = b"<>/:=\"' %&;#?x\x00\xff\xc3dD"
        d = make(max_replies_per_s=1000000)
        runs = 2000
        for i in range(runs):
            data = seeds[i % len(seeds)]
            for _ in range(1 + rng.below(4)):  # replace, delete or insert a few bytes
                at = rng.below(len(data))
                kind = rng.below(3)
                cut = at + 1 if kind == 0 else at + rng.below(9) if kind == 1 else at
                data = data[:at] + rng.bytes(0 if kind == 1 else 1 + rng.below(6), alphabet) \
                    + data[cut:]
            multicast = i % 2 == 0
            for send in d.receive(data, SOURCE, LOCAL, multicast):
                parse(send.data)  # whatever we answer is well-formed
        stats = d.stats
        self.assertEqual(stats["received"], runs)
        self.assertEqual(stats["received"], stats["replied"] + stats["ignored"]
                         + stats["dropped_malformed"] + stats["dropped_oversize"]
                         + stats["dropped_rate"])
        self.assertEqual(d.last_error, None)
        self.assertTrue(stats["replied"] > 0 and stats["dropped_malformed"] > 0)


SOURCE6 = ("fe80::9", 40001, 0, 3)  # a link-local source with its scope id


class Ipv6Test(unittest.TestCase):
    """Probes that came over IPv6: XAddrs name the served addresses of the interface they came
    in on, bracketed, a link-local one with its zone (RFC 6874)."""

    def xaddrs(self, send):
        match = body_of(parse(send.data)).children[0]
        return match.findtext(D, "XAddrs").split()

    def test_url_host(self):
        self.assertEqual(discovery.url_host("192.0.2.1"), "192.0.2.1")
        self.assertEqual(discovery.url_host("2001:db8::1"), "[2001:db8::1]")
        self.assertEqual(discovery.url_host("::1"), "[::1]")
        self.assertEqual(discovery.url_host("fe80::1%eth0"), "[fe80::1%25eth0]")

    def test_link_local_is_fe80_slash_10(self):
        for address in ("fe80::1", "FE80::1", "fe80::1%eth0", "febf:1::2", "fe80:0:0:0:1::"):
            self.assertTrue(discovery.link_local(address), address)
        for address in ("fec0::1", "fe7f::1", "2001:db8::1", "fd00::1", "::1", "::"):
            self.assertFalse(discovery.link_local(address), address)

    def test_scoped_adds_the_zone_to_link_local_addresses_only(self):
        self.assertEqual(discovery.scoped("fe80::1", "eth0"), "fe80::1%eth0")
        self.assertEqual(discovery.scoped("2001:db8::1", "eth0"), "2001:db8::1")
        self.assertEqual(discovery.scoped("::1", "lo"), "::1")

    def test_routable_addresses_are_preferred_link_local_only_where_alone(self):
        hosts = ["fe80::1%eth0", "2001:db8::1", "fd00::1"]
        self.assertEqual(discovery.xaddr_hosts(hosts), ["2001:db8::1", "fd00::1"])
        self.assertEqual(discovery.xaddr_hosts(["fe80::1%eth0", "fe80::2%eth0"]),
                         ["fe80::1%eth0", "fe80::2%eth0"])
        self.assertEqual(discovery.xaddr_hosts([]), [])

    def test_probe_match_names_every_host_bracketed_and_goes_to_the_source(self):
        (send,) = make().receive(probe(), SOURCE6, ["2001:db8::1", "fd00::1"], MULTICAST)
        self.assertEqual(send.destination, SOURCE6)
        self.assertEqual(self.xaddrs(send), [
            "http://[2001:db8::1]:8080/onvif/device_service",
            "https://[2001:db8::1]:8443/onvif/device_service",
            "http://[fd00::1]:8080/onvif/device_service",
            "https://[fd00::1]:8443/onvif/device_service"])

    def test_link_local_xaddr_carries_the_zone(self):
        (send,) = make().receive(resolve(ENDPOINT), SOURCE6, ["fe80::1%eth0"], UNICAST)
        self.assertEqual(self.xaddrs(send)[0], "http://[fe80::1%25eth0]:8080/onvif/device_service")
        hello = body_of(parse(make().hello(["fe80::1%eth0"]).data))
        self.assertEqual(hello.findtext(D, "XAddrs").split()[0],
                         "http://[fe80::1%25eth0]:8080/onvif/device_service")

    def test_an_interface_without_served_addresses_is_not_answered(self):
        d = make()
        ldap = scopes_probe("ldap:///ou=x", D + "/ldap")
        for data, multicast in ((probe(), MULTICAST), (probe(), UNICAST),
                                (resolve(ENDPOINT), UNICAST), (ldap, UNICAST)):
            self.assertEqual(d.receive(data, SOURCE6, [], multicast), [])
        self.assertEqual(d.stats["ignored"], 4)
        self.assertEqual(d.stats["replied"], 0)

    def test_matching_is_the_same_over_ipv6(self):
        d = make()
        hosts = ["2001:db8::1"]
        self.assertEqual(len(d.receive(scopes_probe("onvif://www.onvif.org/hardware"), SOURCE6,
                                       hosts, MULTICAST)), 1)
        self.assertEqual(d.receive(scopes_probe("onvif://www.onvif.org/hardware/D1"), SOURCE6,
                                   hosts, MULTICAST), [])
        nvt = '<d:Probe><d:Types xmlns:dn="%s">dn:NetworkVideoTransmitter</d:Types></d:Probe>'
        self.assertEqual(d.receive(probe(nvt % NVT), SOURCE6, hosts, MULTICAST), [])
        (fault,) = d.receive(scopes_probe("ldap:///ou=x", D + "/ldap"), SOURCE6, hosts, UNICAST)
        self.assertEqual((fault.destination, header_text(parse(fault.data), "Action")),
                         (SOURCE6, D + "/fault"))


class UriTest(unittest.TestCase):
    def test_canonical_form(self):
        c = discovery.canonical_uri
        self.assertEqual(c("ONVIF://WWW.Onvif.ORG/a/B%20c/?q#f"),
                         ("onvif", b"www.onvif.org", [b"a", b"B c"]))
        self.assertEqual(c("onvif://www.onvif.org"), ("onvif", b"www.onvif.org", []))
        self.assertEqual(c("urn:x:Y"), ("urn", None, [b"x:Y"]))
        self.assertEqual(c("a%2Fb"), ("", None, [b"a/b"]))
        self.assertEqual(c("x://h/%C3%A9t%c3%a9"), ("x", b"h", ["\u00e9t\u00e9".encode()]))
        self.assertEqual(c("x://h/a/%zz"), None)
        self.assertEqual(c("x://h/a/%4"), None)

    def test_same_address(self):
        self.assertTrue(discovery.same_address(ENDPOINT, ENDPOINT.upper()))
        self.assertFalse(discovery.same_address("http://a/X", "http://a/x"))
