"""agent.network's rules (RFC 1123 host names, DNS names, addresses, request parsing) and the
simulated network backend hal.net.sim (defaults, validation like a real device, persistence,
factory reset). Portable: runs in MicroPython too."""

import unittest

from agent import network
from agent.soap import SoapFault
from agent.xmltree import parse
from hal.net import open_network
from hal.net.base import LOOPBACK, NetworkError
from hal.net.sim import SimNetwork, default_interface, default_mac
from tests.net_conformance import check_backend
from tests.support import remove_tree, scratch_dir

TT = "http://www.onvif.org/ver10/schema"
BOARD = {"name": "test", "hal": "sim"}


def element(xml):
    return parse(('<tt:X xmlns:tt="%s">%s</tt:X>' % (TT, xml)).encode())


class HostnameTest(unittest.TestCase):
    VALID = ("door-1", "a", "A1", "1door", "x" * 63, "door.example.com", "door.example.c0m",
             "xn--bcher-kva.example", "3com.example", ".".join(["a" * 63] * 3) + "." + "b" * 61)
    INVALID = ("", "-door", "door-", "do_or", "door.", ".door", "door..example", "x" * 64,
               "192.168.1.1", "door.123", "123", "d\u00f6or", "door example", "door:80",
               ".".join(["a" * 63] * 4), "a.-b", "a.b-")

    def test_rfc1123_names_pass(self):
        for name in self.VALID:
            self.assertTrue(network.is_hostname(name), name)

    def test_everything_else_fails(self):
        for name in self.INVALID:
            self.assertFalse(network.is_hostname(name), name)

    def test_check_hostname_is_the_invalid_hostname_fault(self):
        with self.assertRaises(SoapFault) as caught:
            network.check_hostname("bad_name")
        self.assertEqual([s[1] for s in caught.exception.subcodes],
                         ["InvalidArgVal", "InvalidHostname"])

    def test_dns_names_may_end_with_the_root_dot(self):
        self.assertTrue(network.is_dns_name("pool.ntp.org."))
        self.assertTrue(network.is_dns_name("pool.ntp.org"))
        self.assertFalse(network.is_dns_name("pool..ntp.org"))
        self.assertFalse(network.is_dns_name("."))
        self.assertFalse(network.is_dns_name("10.0.0.1"))


def subcodes(call, *args):
    try:
        call(*args)
    except SoapFault as exc:
        return exc.code, [s[1] for s in exc.subcodes]
    raise AssertionError("no fault")


class AddressTest(unittest.TestCase):
    def prefixed(self, address, length, version=4):
        return network.parse_prefixed(element(
            "<tt:Address>%s</tt:Address><tt:PrefixLength>%s</tt:PrefixLength>"
            % (address, length)), version)

    def test_manual_addresses_are_canonical(self):
        self.assertEqual(self.prefixed(" 192.168.1.10 ", 24), ["192.168.1.10", 24])
        self.assertEqual(self.prefixed("10.0.0.1", 31), ["10.0.0.1", 31])
        self.assertEqual(self.prefixed("2001:DB8:0:0::7", 64, 6), ["2001:db8::7", 64])

    def test_addresses_a_host_cannot_have(self):
        bad4 = ("Sender", ["InvalidArgVal", "InvalidIPv4Address"])
        for address, length in (("192.168.1.0", 24), ("192.168.1.255", 24), ("127.0.0.2", 8),
                                ("0.1.2.3", 8), ("224.0.0.1", 4), ("255.255.255.255", 32),
                                ("169.254.1.1", 16), ("192.168.1.10", 0),
                                ("192.168.1.10", 33), ("192.168.1.010", 24), ("host", 24),
                                ("192.168.1.10", "x")):
            self.assertEqual(subcodes(self.prefixed, address, length), bad4, address)
        bad6 = ("Sender", ["InvalidArgVal", "InvalidIPv6Address"])
        for address, length in (("::1", 128), ("::", 64), ("ff02::1", 64), ("fe80::1", 64),
                                ("2001:db8::1", 129), ("2001:db8::1%eth0", 64), ("1.2.3.4", 64)):
            self.assertEqual(subcodes(self.prefixed, address, length, 6), bad6, address)

    def test_gateways(self):
        self.assertEqual(network.parse_gateway("192.168.1.1", 4), "192.168.1.1")
        self.assertEqual(subcodes(network.parse_gateway, "192.168.1", 4),
                         ("Sender", ["InvalidArgVal", "InvalidIPv4Address"]))
        for address, version in (("224.0.0.1", 4), ("0.0.0.0", 4), ("169.254.0.1", 4),
                                 ("ff02::2", 6), ("::", 6)):
            self.assertEqual(subcodes(network.parse_gateway, address, version),
                             ("Sender", ["InvalidArgVal", "InvalidGatewayAddress"]), address)

    def test_network_hosts(self):
        host = network.parse_network_host
        self.assertEqual(host(element("<tt:Type>DNS</tt:Type><tt:DNSname>pool.ntp.org"
                                      "</tt:DNSname>")), "pool.ntp.org")
        self.assertEqual(host(element("<tt:Type>IPv6</tt:Type><tt:IPv6Address>2001:DB8::1"
                                      "</tt:IPv6Address>")), "2001:db8::1")
        self.assertEqual(subcodes(host, element("<tt:Type>DNS</tt:Type><tt:DNSname>no_such"
                                                "</tt:DNSname>")),
                         ("Sender", ["InvalidArgVal", "InvalidDnsName"]))
        self.assertEqual(subcodes(host, element("<tt:Type>IPv4</tt:Type><tt:IPv6Address>::2"
                                                "</tt:IPv6Address>")),
                         ("Sender", ["InvalidArgVal", "InvalidIPv4Address"]))
        self.assertEqual(network.host_kind("pool.ntp.org"), "DNS")
        self.assertEqual(network.host_kind("10.1.2.3"), "IPv4")
        self.assertEqual(network.host_kind("::2"), "IPv6")


class ChangesTest(unittest.TestCase):
    def setUp(self):
        self.backend = SimNetwork(BOARD)

    def changes(self, xml):
        return network.parse_interface_changes(element(xml), self.backend)

    def test_only_what_the_request_gave(self):
        self.assertEqual(self.changes(""), {})
        self.assertEqual(self.changes(
            "<tt:Enabled>true</tt:Enabled><tt:MTU>1400</tt:MTU><tt:IPv4><tt:Manual>"
            "<tt:Address>10.0.0.5</tt:Address><tt:PrefixLength>8</tt:PrefixLength></tt:Manual>"
            "<tt:DHCP>false</tt:DHCP></tt:IPv4>"),
            {"enabled": True, "mtu": 1400, "ipv4": {"manual": [["10.0.0.5", 8]], "dhcp": False}})
        self.assertEqual(self.changes(
            "<tt:Link><tt:AutoNegotiation>false</tt:AutoNegotiation><tt:Speed>100</tt:Speed>"
            "<tt:Duplex>Half</tt:Duplex></tt:Link><tt:IPv6><tt:Enabled>false</tt:Enabled>"
            "<tt:AcceptRouterAdvert>false</tt:AcceptRouterAdvert><tt:DHCP>Off</tt:DHCP>"
            "</tt:IPv6>"),
            {"link": {"auto": False, "speed": 100, "duplex": "Half"},
             "ipv6": {"enabled": False, "accept_router_advert": False, "dhcp": "Off"}})

    def test_faults(self):
        self.assertEqual(subcodes(self.changes, "<tt:MTU>-1</tt:MTU>"),
                         ("Sender", ["InvalidArgVal", "InvalidMtuValue"]))
        self.assertEqual(subcodes(self.changes, "<tt:Link><tt:AutoNegotiation>false"
                                  "</tt:AutoNegotiation><tt:Speed>100</tt:Speed>"
                                  "<tt:Duplex>Quarter</tt:Duplex></tt:Link>"),
                         ("Sender", ["InvalidArgVal", "InvalidInterfaceSpeed"]))
        self.assertEqual(subcodes(self.changes, "<tt:IPv6><tt:DHCP>Sometimes</tt:DHCP></tt:IPv6>"),
                         ("Sender", ["InvalidArgVal"]))
        self.assertEqual(subcodes(self.changes, "<tt:Extension><tt:Dot11/></tt:Extension>"),
                         ("Receiver", ["ActionNotSupported", "InvalidDot11"]))
        many = "".join("<tt:Manual><tt:Address>10.0.0.%d</tt:Address><tt:PrefixLength>8"
                       "</tt:PrefixLength></tt:Manual>" % i for i in range(1, 10))
        self.assertEqual(subcodes(self.changes, "<tt:IPv4>%s</tt:IPv4>" % many),
                         ("Sender", ["InvalidArgVal"]))

    def test_backend_errors_become_faults(self):
        self.assertEqual(subcodes(network.apply, self.backend.interface, "wlan9"),
                         ("Sender", ["InvalidArgVal", "InvalidNetworkInterface"]))
        self.assertEqual(subcodes(network.apply, self.backend.set_interface, "eth0",
                                  {"mtu": 9001}),
                         ("Sender", ["InvalidArgVal", "InvalidMtuValue"]))

        def refuse():
            raise NetworkError(None, "read-only")
        self.assertEqual(subcodes(network.apply, refuse), ("Receiver", ["ActionNotSupported"]))
        self.assertEqual(subcodes(network.applying, None), ("Receiver", ["ActionNotSupported"]))
        self.backend.can_apply = False
        self.assertEqual(subcodes(network.applying, self.backend),
                         ("Receiver", ["ActionNotSupported"]))
        self.assertEqual(subcodes(network.check_dhcpv6, {"ipv6": {"dhcp": "Stateful"}}, False),
                         ("Receiver", ["ActionNotSupported", "InvalidDHCPv6"]))
        network.check_dhcpv6({"ipv6": {"dhcp": "Stateless"}}, False)


class SimNetworkTest(unittest.TestCase):
    def setUp(self):
        self.dir = scratch_dir()
        self.net = open_network(BOARD, self.dir)
        self.changed = []
        self.net.on_change = lambda: self.changed.append(1)

    def tearDown(self):
        remove_tree(self.dir)

    def test_the_board_chooses_the_backend(self):
        self.assertEqual(open_network({"name": "x", "hal": "pi", "network": "sim"}, None).kind,
                         "sim")
        self.assertEqual(open_network(BOARD, None).kind, "sim")  # by its HAL

    def test_its_answers_have_the_contracts_shape(self):
        check_backend(self, self.net)
        self.net.set_interface("eth0", {"ipv4": {"dhcp": False, "manual": [["10.1.2.3", 16]]}})
        check_backend(self, self.net)

    def test_factory_new_interface(self):
        self.assertEqual(self.net.kind, "sim")
        (eth0,) = self.net.interfaces()
        self.assertEqual(eth0["token"], "eth0")
        self.assertEqual(eth0["hw_address"][:3], "02:")  # locally administered
        self.assertEqual(eth0["hw_address"], default_mac(self.dir))
        self.assertTrue(eth0["ipv4"]["dhcp"])  # checklist 6: DHCP on and link-local on
        self.assertEqual(len(eth0["ipv4"]["link_local"]), 1)
        self.assertEqual(eth0["ipv4"]["link_local"][0][0][:8], "169.254.")
        self.assertEqual(eth0["ipv4"]["from_dhcp"][1], 24)
        self.assertEqual(eth0["ipv6"]["link_local"][0][0][:6], "fe80::")
        self.assertEqual(self.net.hostname(), {"from_dhcp": False, "name": "onvif-agent"})
        self.assertEqual(self.net.zero_config()[0]["addresses"],
                         [eth0["ipv4"]["link_local"][0][0]])

    def test_changes_apply_at_once_and_persist(self):
        self.assertFalse(self.net.set_interface("eth0", {"ipv4": {
            "dhcp": False, "manual": [["10.1.2.3", 16]]}, "mtu": 1400}))
        self.assertEqual(self.changed, [1])
        again = SimNetwork(BOARD, self.dir)
        eth0 = again.interfaces()[0]
        self.assertEqual(eth0["ipv4"]["manual"], [["10.1.2.3", 16]])
        self.assertIsNone(eth0["ipv4"]["from_dhcp"])
        self.assertEqual(eth0["mtu"], 1400)
        self.assertTrue(again.set_hostname_from_dhcp(True))  # RebootNeeded
        self.assertTrue(SimNetwork(BOARD, self.dir).hostname()["from_dhcp"])

    def test_validation_like_a_real_device(self):
        def code(changes, token="eth0"):
            try:
                self.net.set_interface(token, changes)
            except NetworkError as exc:
                return exc.subcode
        self.assertEqual(code({}, "eth1"), "InvalidNetworkInterface")
        self.assertEqual(code({"mtu": 67, "ipv6": {"enabled": False}}), "InvalidMtuValue")
        self.assertEqual(code({"mtu": 1279}), "InvalidMtuValue")  # IPv6 is on
        self.assertEqual(code({"mtu": 9001}), "InvalidMtuValue")
        self.assertEqual(code({"link": {"auto": False, "speed": 42, "duplex": "Full"}}),
                         "InvalidInterfaceSpeed")
        self.assertEqual(code({"ipv4": {"enabled": False}, "ipv6": {"enabled": False}}),
                         "InvalidIPv4Address")
        self.assertEqual(self.changed, [], "nothing changed")
        self.assertIsNone(code({"mtu": 576, "ipv6": {"enabled": False}}))
        self.assertEqual(self.net.interfaces()[0]["ipv6"]["link_local"], [])
        self.assertEqual(code({"ipv6": {"enabled": True}}), "InvalidMtuValue")  # 576 < 1280
        loopback = default_interface("00:00:00:00:00:00")
        loopback.update(token="lo", type=LOOPBACK, link=None)
        self.net.state["interfaces"].append(loopback)
        self.assertEqual(code({"link": {"auto": True, "speed": 1000, "duplex": "Full"}}, "lo"),
                         "InvalidInterfaceType")

    def test_fixed_link_speed(self):
        self.net.set_interface("eth0", {"link": {"auto": False, "speed": 100, "duplex": "Half"}})
        eth0 = self.net.interfaces()[0]
        self.assertEqual(eth0["oper"], {"auto": False, "speed": 100, "duplex": "Half"})

    def test_zero_config_dns_gateway_and_hard_reset(self):
        self.net.set_zero_config("eth0", False)
        self.assertEqual(self.net.zero_config(),
                         [{"token": "eth0", "enabled": False, "addresses": []}])
        self.net.set_dns(False, ["example.com"], ["192.0.2.53"])
        self.assertEqual(self.net.dns(), {"from_dhcp": False, "search": ["example.com"],
                                          "manual": ["192.0.2.53"], "dhcp_servers": []})
        self.net.set_gateway(["192.0.2.1"], ["2001:db8::1"])
        self.net.set_hostname("door-7")
        self.net.factory_reset(hard=False)  # soft keeps the network (8.4 #8)
        self.assertEqual(SimNetwork(BOARD, self.dir).gateway()["ipv4"], ["192.0.2.1"])
        self.net.factory_reset(hard=True)
        again = SimNetwork(BOARD, self.dir)
        self.assertEqual(again.gateway(), {"ipv4": [], "ipv6": []})
        self.assertEqual(again.hostname()["name"], "onvif-agent")
        self.assertTrue(again.zero_config()[0]["enabled"])
        self.assertTrue(again.dns()["from_dhcp"])

    def test_a_corrupt_state_file_starts_fresh(self):
        with open(self.dir + "/network.json", "w") as f:
            f.write("{not json")
        from agent import log
        from tests.support import Quiet
        log.set_stream(Quiet())
        try:
            self.assertEqual(SimNetwork(BOARD, self.dir).interfaces()[0]["token"], "eth0")
        finally:
            log.set_stream(None)


if __name__ == "__main__":
    unittest.main()
