"""The IP address filter (issue 8, checklist 8.3 #18-#21): address parsing, prefix matching,
admission, limits, persistence, and Get/Set/Add/RemoveIPAddressFilter with their faults through
a real Session (schema-validated under pytest)."""

import unittest

from agent import log
from agent.app import build_app
from agent.device import Device
from agent.ipfilter import (MAX_ENTRIES, SETTINGS_KEY, IPFilter, format_address, in_prefix,
                            parse_ipv4, parse_ipv6, peer_address)
from agent.settings import Settings
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll, Lines, remove_tree, scratch_dir

BOARD = {"name": "Front door", "hal": "sim"}


def v6(*groups):
    out = bytearray(16)
    for i, g in enumerate(groups):
        out[2 * i] = g >> 8
        out[2 * i + 1] = g & 0xFF
    return bytes(out)


class ParseTest(unittest.TestCase):
    def test_ipv4(self):
        self.assertEqual(parse_ipv4("192.168.1.254"), bytes([192, 168, 1, 254]))
        self.assertEqual(parse_ipv4("0.0.0.0"), bytes(4))
        for bad in ("", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.", "1..3.4",
                    "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "1234.1.1.1", "1.2.3.4/24"):
            self.assertEqual(parse_ipv4(bad), None, bad)

    def test_ipv6(self):
        cases = (("::", v6()), ("::1", v6(0, 0, 0, 0, 0, 0, 0, 1)), ("1::", v6(1)),
                 ("1:2:3:4:5:6:7:8", v6(1, 2, 3, 4, 5, 6, 7, 8)),
                 ("1:2:3:4:5:6:7::", v6(1, 2, 3, 4, 5, 6, 7, 0)),
                 ("::2:3:4:5:6:7:8", v6(0, 2, 3, 4, 5, 6, 7, 8)),
                 ("FE80::aB:1", v6(0xfe80, 0, 0, 0, 0, 0, 0xab, 1)),
                 ("::ffff:10.1.2.3", v6(0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203)),
                 ("1:2:3:4:5:6:1.2.3.4", v6(1, 2, 3, 4, 5, 6, 0x0102, 0x0304)),
                 ("64:ff9b::192.0.2.1", v6(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201)))
        for text, value in cases:
            self.assertEqual(parse_ipv6(text), value, text)
        for bad in ("", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::",
                    "1::2:", "12345::", "g::", "1.2.3.4::", "::1.2.3", "::256.1.1.1",
                    "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "::1 ", "1:2:3:4:5:6:7:8::",
                    "1" * 46, "1:2:3:4:5:6:7:8:"):
            self.assertEqual(parse_ipv6(bad), None, bad)

    def test_canonical_text(self):
        for text, canonical in (("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
                                ("0:0:1:0:0:0:0:0", "0:0:1::"), ("::", "::"),
                                ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
                                ("fe80:0:0:0:0:0:0:1", "fe80::1"), ("::ffff:1.2.3.4",
                                                                    "::ffff:102:304")):
            self.assertEqual(format_address(parse_ipv6(text)), canonical, text)
        self.assertEqual(format_address(parse_ipv4("10.0.0.1")), "10.0.0.1")

    def test_prefix_match(self):
        net = parse_ipv4("192.168.4.0")
        self.assertTrue(in_prefix(parse_ipv4("192.168.5.9"), net, 23))
        self.assertFalse(in_prefix(parse_ipv4("192.168.6.9"), net, 23))
        self.assertTrue(in_prefix(parse_ipv4("8.8.8.8"), net, 0))
        self.assertTrue(in_prefix(net, net, 32))
        self.assertFalse(in_prefix(parse_ipv4("192.168.4.1"), net, 32))
        net6 = parse_ipv6("2001:db8:abcd::")
        self.assertTrue(in_prefix(parse_ipv6("2001:db8:abcd:12::1"), net6, 48))
        self.assertFalse(in_prefix(parse_ipv6("2001:db8:abce::1"), net6, 48))
        self.assertTrue(in_prefix(parse_ipv6("2001:db8:abcf::1"), net6, 46))
        self.assertFalse(in_prefix(parse_ipv4("32.1.13.184"), net6, 16))  # families differ

    def test_peer_addresses(self):
        self.assertEqual(peer_address(("10.0.0.5", 4000)), parse_ipv4("10.0.0.5"))
        self.assertEqual(peer_address(("::ffff:10.0.0.5", 4000, 0, 0)), parse_ipv4("10.0.0.5"))
        self.assertEqual(peer_address(("fe80::1%eth0", 4000, 0, 2)), parse_ipv6("fe80::1"))
        # raw sockaddr_in / sockaddr_in6 as MicroPython ports give them
        self.assertEqual(peer_address(b"\x02\x00\x1f\x90" + bytes([10, 0, 0, 5]) + bytes(8)),
                         parse_ipv4("10.0.0.5"))
        self.assertEqual(peer_address(b"\x0a\x00\x1f\x90" + bytes(4) + parse_ipv6("fd00::7")
                                      + bytes(4)), parse_ipv6("fd00::7"))
        self.assertEqual(peer_address(b"\x0a\x00\x1f\x90" + bytes(4) +
                                      parse_ipv6("::ffff:1.2.3.4") + bytes(4)),
                         parse_ipv4("1.2.3.4"))
        for bad in (("host", 1), b"short", None):
            self.assertEqual(peer_address(bad), None)


class AdmissionTest(unittest.TestCase):
    def setUp(self):
        self.filter = IPFilter(Settings())

    def test_no_entries_admit_everyone_whatever_the_type(self):
        for kind in ("Deny", "Allow"):
            self.filter.set(kind, [], [])
            self.assertTrue(self.filter.admits(("203.0.113.9", 1)), kind)
            self.assertTrue(self.filter.admits(("2001:db8::9", 1, 0, 0)), kind)
            self.assertTrue(self.filter.admits(None), kind)

    def test_allow(self):
        self.filter.set("Allow", [("192.168.1.0", "24")], [("2001:db8::", "32")])
        for peer, admitted in ((("192.168.1.77", 1), True), (("192.168.2.77", 1), False),
                               (("::ffff:192.168.1.77", 1, 0, 0), True),
                               (("::ffff:192.168.2.77", 1, 0, 0), False),
                               (("2001:db8:5::1", 1, 0, 0), True),
                               (("2001:db9::1", 1, 0, 0), False),
                               (("127.0.0.1", 1), True), (("127.9.9.9", 1), True),
                               (("::1", 1, 0, 0), True), (None, False)):
            self.assertEqual(self.filter.admits(peer), admitted, peer)

    def test_deny(self):
        self.filter.set("Deny", [("10.0.0.0", "8"), ("127.0.0.1", "32")], [("fd00::", "8")])
        for peer, admitted in ((("10.200.0.1", 1), False), (("11.0.0.1", 1), True),
                               (("::ffff:10.1.1.1", 1, 0, 0), False),
                               (("fdff::1", 1, 0, 0), False), (("fe80::1", 1, 0, 0), True),
                               (("127.0.0.1", 1), True), (("::1", 1, 0, 0), True)):
            self.assertEqual(self.filter.admits(peer), admitted, peer)

    def test_a_change_applies_to_every_view_of_the_same_settings(self):
        other = IPFilter(self.filter.settings)
        self.assertTrue(other.admits(("10.0.0.1", 1)))
        self.filter.set("Deny", [("10.0.0.1", "32")], [])
        self.assertFalse(other.admits(("10.0.0.1", 1)))
        self.filter.remove([("10.0.0.1", "32")], [])
        self.assertTrue(other.admits(("10.0.0.1", 1)))


class PersistenceTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()

    def tearDown(self):
        log.set_stream(None)
        remove_tree(self.dir)

    def test_survives_a_restart(self):
        IPFilter(Settings(self.dir)).set("Allow", [("192.168.1.7", "24")],
                                         [("2001:DB8::", "0")])
        restarted = IPFilter(Settings(self.dir))
        self.assertEqual(restarted.entries(), ("Allow", [("192.168.1.7", 24)],
                                               [("2001:db8::", 0)]))
        self.assertTrue(restarted.admits(("192.168.1.200", 1)))
        self.assertFalse(restarted.admits(("192.168.2.1", 1)))

    def test_a_damaged_entry_means_no_filtering_and_is_logged(self):
        lines = Lines()
        log.set_stream(lines)
        settings = Settings(self.dir)
        settings.update(**{SETTINGS_KEY: {"type": "Deny", "ipv4": [["1.2.3", 8]], "ipv6": []}})
        ipfilter = IPFilter(Settings(self.dir))
        self.assertEqual(ipfilter.entries(), ("Deny", [], []))
        self.assertTrue(ipfilter.admits(("1.2.3.4", 1)))
        self.assertTrue(lines.has("ip filter"))


def prefixed(family, entries):
    return "".join("<tt:%s><tt:Address>%s</tt:Address><tt:PrefixLength>%s</tt:PrefixLength>"
                   "</tt:%s>" % (family, a, p, family) for a, p in entries)


def request(operation, kind="Deny", ipv4=(), ipv6=()):
    return ("<tds:%s><tds:IPAddressFilter><tt:Type>%s</tt:Type>%s%s</tds:IPAddressFilter>"
            "</tds:%s>" % (operation, kind, prefixed("IPv4Address", ipv4),
                           prefixed("IPv6Address", ipv6), operation))


def subnets(n):
    return [("10.%d.0.0" % i, 16) for i in range(n)]


class OperationsTest(unittest.TestCase):
    def setUp(self):
        self.device = Device(BOARD, Settings())
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def call(self, body, status=200):
        r = self.client.call(body)
        self.assertEqual(r.status, status, r.body)
        return r

    def assertFault(self, body, *subcodes):
        self.assertEqual(self.call(body, 400).fault(), ("Sender", ["InvalidArgVal"] +
                                                         list(subcodes)))

    def get(self):
        r = self.call("<tds:GetIPAddressFilter/>")
        self.assertEqual(r.body_child.name, "GetIPAddressFilterResponse")
        f = r.body_child.find(TDS, "IPAddressFilter")

        def entries(name):
            return [(e.findtext(TT, "Address"), int(e.findtext(TT, "PrefixLength")))
                    for e in f.findall(TT, name)]
        return f.findtext(TT, "Type"), entries("IPv4Address"), entries("IPv6Address")

    def test_first_start_is_deny_nothing(self):
        self.assertEqual(self.get(), ("Deny", [], []))

    def test_set_add_remove(self):
        r = self.call(request("SetIPAddressFilter", "Allow", [("192.168.1.0", 24)],
                              [("FE80::", 10)]))
        self.assertEqual((r.body_child.name, r.body_child.children),
                         ("SetIPAddressFilterResponse", []))
        self.assertEqual(self.get(), ("Allow", [("192.168.1.0", 24)], [("fe80::", 10)]))
        # Type is ignored by Add and Remove (checklist 8.3 #20, #21); duplicates are not added
        r = self.call(request("AddIPAddressFilter", "Deny",
                              [("10.0.0.9", 32), ("192.168.1.0", 24)], [("2001:db8::", 32)]))
        self.assertEqual(r.body_child.name, "AddIPAddressFilterResponse")
        self.assertEqual(self.get(), ("Allow", [("192.168.1.0", 24), ("10.0.0.9", 32)],
                                      [("fe80::", 10), ("2001:db8::", 32)]))
        r = self.call(request("RemoveIPAddressFilter", "Deny", [("192.168.1.0", 24)],
                              [("fe80:0::", 10)]))
        self.assertEqual(r.body_child.name, "RemoveIPAddressFilterResponse")
        self.assertEqual(self.get(), ("Allow", [("10.0.0.9", 32)], [("2001:db8::", 32)]))
        self.assertFalse(IPFilter(self.device.settings).admits(("192.168.1.3", 1)))
        self.call(request("SetIPAddressFilter", "Deny"))
        self.assertEqual(self.get(), ("Deny", [], []))

    def test_invalid_addresses(self):
        for ipv4 in (("1.2.3", 8), ("1.2.3.4", 33), ("1.2.3.4", -1), ("1.2.3.4", "x"),
                     ("::1", 8)):
            for op in ("SetIPAddressFilter", "AddIPAddressFilter", "RemoveIPAddressFilter"):
                self.assertFault(request(op, ipv4=[ipv4]), "InvalidIPv4Address")
        for ipv6 in (("1::2::3", 8), ("::1", 129), ("1.2.3.4", 8), ("fe80::1%eth0", 64)):
            for op in ("SetIPAddressFilter", "AddIPAddressFilter", "RemoveIPAddressFilter"):
                self.assertFault(request(op, ipv6=[ipv6]), "InvalidIPv6Address")
        self.assertFault(request("SetIPAddressFilter", "Block"))
        self.assertEqual(self.get(), ("Deny", [], []))

    def test_a_bad_entry_changes_nothing(self):
        self.call(request("SetIPAddressFilter", "Deny", [("10.0.0.0", 8)]))
        self.assertFault(request("SetIPAddressFilter", "Allow", [("10.1.0.0", 16)],
                                 [("nope", 1)]), "InvalidIPv6Address")
        self.assertFault(request("AddIPAddressFilter", ipv4=[("10.1.0.0", 16), ("10.2", 16)]),
                         "InvalidIPv4Address")
        self.assertEqual(self.get(), ("Deny", [("10.0.0.0", 8)], []))

    def test_list_is_full(self):
        self.call(request("SetIPAddressFilter", "Deny", subnets(MAX_ENTRIES)))
        self.assertFault(request("AddIPAddressFilter", ipv4=[("10.200.0.0", 16)]),
                         "IPFilterListIsFull")
        self.call(request("AddIPAddressFilter", ipv4=[("10.0.0.0", 16)]))  # present: no-op
        self.assertFault(request("SetIPAddressFilter", ipv4=subnets(MAX_ENTRIES + 1)),
                         "IPFilterListIsFull")
        many6 = [("fd%02x::" % (i + 1), 32) for i in range(MAX_ENTRIES + 1)]
        self.assertFault(request("AddIPAddressFilter", ipv6=many6), "IPFilterListIsFull")
        self.call(request("AddIPAddressFilter", ipv6=many6[:MAX_ENTRIES]))
        self.assertEqual(self.get(), ("Deny", subnets(MAX_ENTRIES), many6[:MAX_ENTRIES]))

    def test_remove_of_an_absent_entry(self):
        self.call(request("SetIPAddressFilter", "Deny", [("10.0.0.0", 8)], [("fd00::", 8)]))
        self.assertFault(request("RemoveIPAddressFilter", ipv4=[("10.0.0.0", 8), ("10.0.0.0", 9)]),
                         "NoIPv4Address")
        self.assertFault(request("RemoveIPAddressFilter", ipv6=[("fd00::", 16)]),
                         "NoIPv6Address")
        self.assertFault(request("RemoveIPAddressFilter", ipv4=[("10.0.0.0", 8)],
                                 ipv6=[("fd01::", 8)]), "NoIPv6Address")
        self.assertEqual(self.get(), ("Deny", [("10.0.0.0", 8)], [("fd00::", 8)]))

    def test_malformed_requests(self):
        for op in ("SetIPAddressFilter", "AddIPAddressFilter", "RemoveIPAddressFilter"):
            for body in ("<tds:%s/>" % op,
                         "<tds:%s><tds:IPAddressFilter/></tds:%s>" % (op, op)):
                self.assertEqual(self.call(body, 400).fault(), ("Sender", ["InvalidArgs"]))

    def test_capability_reported(self):
        caps = self.call("<tds:GetServiceCapabilities/>").body_child.children[0]
        self.assertEqual(caps.find(TDS, "Network").attrs[("", "IPFilter")], "true")
        legacy = self.call("<tds:GetCapabilities/>").body_child
        network = legacy.find(TDS, "Capabilities").find(TT, "Device").find(TT, "Network")
        self.assertEqual(network.findtext(TT, "IPFilter"), "true")


if __name__ == "__main__":
    unittest.main()
