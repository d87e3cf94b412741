"""The network operations of the device service (checklist 8.3 #1-#17, #22) over the simulated
network backend, in memory: every operation, every fault, capabilities, and what a device
without a backend (or with one that cannot apply) answers. Under pytest every response is also
validated against the official schemas (tests/conftest.py)."""

import unittest

from agent.app import build_app
from agent.device import Device
from agent.settings import Settings
from hal.net.sim import SimNetwork
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll, StateDirCase

BOARD = {"name": "test", "hal": "sim"}
INVALID_ARG = "InvalidArgVal"
NOT_SUPPORTED = ("Receiver", ["ActionNotSupported"])


def prefixed(address, length):
    return ("<tt:Manual><tt:Address>%s</tt:Address><tt:PrefixLength>%d</tt:PrefixLength>"
            "</tt:Manual>" % (address, length))


def set_interface(config, token="eth0"):
    return ("<tds:SetNetworkInterfaces><tds:InterfaceToken>%s</tds:InterfaceToken>"
            "<tds:NetworkInterface>%s</tds:NetworkInterface></tds:SetNetworkInterfaces>"
            % (token, config))


def ntp_host(kind, value):
    child = "DNSname" if kind == "DNS" else kind + "Address"
    return ("<tds:NTPManual><tt:Type>%s</tt:Type><tt:%s>%s</tt:%s></tds:NTPManual>"
            % (kind, child, value, child))


def set_ntp(from_dhcp, *hosts):
    return "<tds:SetNTP><tds:FromDHCP>%s</tds:FromDHCP>%s</tds:SetNTP>" % (
        from_dhcp, "".join(hosts))


class FakeNtp:
    def __init__(self):
        self.syncs = 0

    def sync_now(self):
        self.syncs += 1


class NetworkCase(StateDirCase):
    def start(self, backend=True):
        self.device = Device(BOARD, Settings(self.dir), hostname=lambda: "host-os")
        if backend:
            self.device.network = SimNetwork(BOARD, self.dir)
            self.changes = []
            self.device.network.on_change = lambda: self.changes.append(1)
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def ok(self, body):
        r = self.client.call(body)
        self.assertEqual(r.status, 200, r.body)
        return r.body_child

    def fault(self, body):
        r = self.client.call(body)
        self.assertIn(r.status, (400, 500), r.body)
        return r.fault()

    def reboot_needed(self, body):
        return self.ok(body).findtext(TDS, "RebootNeeded")


class HostnameTest(NetworkCase):
    def hostname(self):
        info = self.ok("<tds:GetHostname/>").find(TDS, "HostnameInformation")
        return info.findtext(TT, "FromDHCP"), info.findtext(TT, "Name")

    def test_get_set_and_persist(self):
        self.assertEqual(self.hostname(), ("false", "onvif-agent"))
        self.ok("<tds:SetHostname><tds:Name> door-1.example </tds:Name></tds:SetHostname>")
        self.start()
        self.assertEqual(self.hostname(), ("false", "door-1.example"))

    def test_invalid_names(self):
        for name in ("-door", "door_1", "192.168.1.1", "a" * 64, "", "door..x"):
            self.assertEqual(self.fault("<tds:SetHostname><tds:Name>%s</tds:Name>"
                                        "</tds:SetHostname>" % name),
                             ("Sender", [INVALID_ARG, "InvalidHostname"]), name)
        self.assertEqual(self.hostname(), ("false", "onvif-agent"))

    def test_from_dhcp_needs_a_reboot_and_then_an_empty_name_is_accepted(self):
        self.assertEqual(self.reboot_needed("<tds:SetHostnameFromDHCP><tds:FromDHCP>true"
                                            "</tds:FromDHCP></tds:SetHostnameFromDHCP>"), "true")
        self.assertEqual(self.hostname()[0], "true")
        self.ok("<tds:SetHostname><tds:Name></tds:Name></tds:SetHostname>")
        self.assertEqual(self.hostname(), ("true", "onvif-agent"))

    def test_without_a_backend_the_host_name_is_the_os_one(self):
        self.start(backend=False)
        self.assertEqual(self.hostname(), ("false", "host-os"))
        self.assertEqual(self.fault("<tds:SetHostname><tds:Name>door</tds:Name>"
                                    "</tds:SetHostname>"), NOT_SUPPORTED)


class DnsTest(NetworkCase):
    def dns(self):
        info = self.ok("<tds:GetDNS/>").find(TDS, "DNSInformation")
        return (info.findtext(TT, "FromDHCP"),
                [e.text for e in info.findall(TT, "SearchDomain")],
                [e.findtext(TT, "IPv4Address") or e.findtext(TT, "IPv6Address")
                 for e in info.findall(TT, "DNSFromDHCP")],
                [(e.findtext(TT, "Type"), e.findtext(TT, "IPv4Address") or
                  e.findtext(TT, "IPv6Address")) for e in info.findall(TT, "DNSManual")])

    def test_defaults_from_dhcp(self):
        self.assertEqual(self.dns(), ("true", [], ["192.168.1.1"], []))

    def test_manual_servers(self):
        self.ok("<tds:SetDNS><tds:FromDHCP>false</tds:FromDHCP><tds:SearchDomain>example.com"
                "</tds:SearchDomain><tds:DNSManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>"
                "192.0.2.53</tt:IPv4Address></tds:DNSManual><tds:DNSManual><tt:Type>IPv6"
                "</tt:Type><tt:IPv6Address>2001:DB8::53</tt:IPv6Address></tds:DNSManual>"
                "</tds:SetDNS>")
        self.assertEqual(self.dns(), ("false", ["example.com"], [],
                                      [("IPv4", "192.0.2.53"), ("IPv6", "2001:db8::53")]))

    def test_faults(self):
        def set_dns(kind, child, address):
            return ("<tds:SetDNS><tds:FromDHCP>false</tds:FromDHCP><tds:DNSManual><tt:Type>%s"
                    "</tt:Type><tt:%s>%s</tt:%s></tds:DNSManual></tds:SetDNS>"
                    % (kind, child, address, child))
        self.assertEqual(self.fault(set_dns("IPv4", "IPv4Address", "192.0.2.300")),
                         ("Sender", [INVALID_ARG, "InvalidIPv4Address"]))
        self.assertEqual(self.fault(set_dns("IPv4", "IPv4Address", "224.0.0.251")),
                         ("Sender", [INVALID_ARG, "InvalidIPv4Address"]))
        self.assertEqual(self.fault(set_dns("IPv6", "IPv6Address", "2001:db8::g")),
                         ("Sender", [INVALID_ARG, "InvalidIPv6Address"]))
        self.assertEqual(self.fault(set_dns("IPv6", "IPv4Address", "192.0.2.1")),
                         ("Sender", [INVALID_ARG, "InvalidIPv6Address"]))
        self.assertEqual(self.fault("<tds:SetDNS><tds:FromDHCP>false</tds:FromDHCP>"
                                    "<tds:SearchDomain>bad_domain</tds:SearchDomain>"
                                    "</tds:SetDNS>"), ("Sender", [INVALID_ARG]))
        self.assertEqual(self.dns()[0], "true", "nothing changed")


class NtpTest(NetworkCase):
    def ntp(self):
        info = self.ok("<tds:GetNTP/>").find(TDS, "NTPInformation")
        return (info.findtext(TT, "FromDHCP"),
                [(e.findtext(TT, "Type"), e.children[1].text)
                 for e in info.findall(TT, "NTPManual")])

    def test_servers_of_every_kind_are_agent_settings(self):
        self.device.ntp = FakeNtp()
        self.assertEqual(self.ntp(), ("false", []))
        self.ok(set_ntp("true", ntp_host("IPv4", "192.0.2.123"),
                        ntp_host("IPv6", "2001:DB8::123"), ntp_host("DNS", "pool.ntp.org")))
        self.assertEqual(self.ntp(), ("true", [("IPv4", "192.0.2.123"),
                                               ("IPv6", "2001:db8::123"),
                                               ("DNS", "pool.ntp.org")]))
        self.assertEqual(self.device.settings.get("ntp_servers"),
                         ["192.0.2.123", "2001:db8::123", "pool.ntp.org"])
        self.assertEqual(self.device.settings.get("ntp_from_dhcp"), True)
        self.assertEqual(self.device.ntp.syncs, 1, "a new configuration is used at once")

    def test_faults(self):
        self.assertEqual(self.fault(set_ntp("false", ntp_host("IPv4", "192.0.2"))),
                         ("Sender", [INVALID_ARG, "InvalidIPv4Address"]))
        self.assertEqual(self.fault(set_ntp("false", ntp_host("IPv6", "::1::"))),
                         ("Sender", [INVALID_ARG, "InvalidIPv6Address"]))
        self.assertEqual(self.fault(set_ntp("false", ntp_host("DNS", "-pool.ntp.org"))),
                         ("Sender", [INVALID_ARG, "InvalidDnsName"]))
        five = [ntp_host("IPv4", "192.0.2.%d" % i) for i in range(1, 6)]
        self.assertEqual(self.fault(set_ntp("false", *five)), ("Sender", [INVALID_ARG]))
        self.ok(set_ntp("false", *five[:4]))  # the NTP capability: 4

    def test_a_clock_on_ntp_keeps_a_server(self):
        self.ok(set_ntp("false", ntp_host("DNS", "pool.ntp.org")))
        self.ok("<tds:SetSystemDateAndTime><tds:DateTimeType>NTP</tds:DateTimeType>"
                "<tds:DaylightSavings>false</tds:DaylightSavings></tds:SetSystemDateAndTime>")
        self.assertEqual(self.fault(set_ntp("false")),
                         ("Sender", [INVALID_ARG, "TimeSyncedToNtp"]))
        # The simulated DHCP server names no NTP server either.
        self.assertEqual(self.fault(set_ntp("true")),
                         ("Sender", [INVALID_ARG, "TimeSyncedToNtp"]))
        self.ok(set_ntp("false", ntp_host("IPv4", "192.0.2.1")))


class InterfacesTest(NetworkCase):
    def interfaces(self):
        return self.ok("<tds:GetNetworkInterfaces/>").findall(TDS, "NetworkInterfaces")

    def test_factory_new_eth0(self):
        (eth0,) = self.interfaces()
        self.assertEqual(eth0.get("token"), "eth0")
        self.assertEqual(eth0.find(TT, "Info").findtext(TT, "MTU"), "1500")
        self.assertEqual(eth0.find(TT, "Link").findtext(TT, "InterfaceType"), "6")
        config = eth0.find(TT, "IPv4").find(TT, "Config")
        self.assertEqual(config.findtext(TT, "DHCP"), "true")
        self.assertEqual(config.find(TT, "LinkLocal").findtext(TT, "PrefixLength"), "16")
        self.assertIsNotNone(config.find(TT, "FromDHCP"))
        v6 = eth0.find(TT, "IPv6").find(TT, "Config")
        self.assertEqual(v6.findtext(TT, "DHCP"), "Auto")

    def test_static_address_applies_at_once_with_a_hello(self):
        self.assertEqual(self.reboot_needed(set_interface(
            "<tt:IPv4><tt:Enabled>true</tt:Enabled>%s<tt:DHCP>false</tt:DHCP></tt:IPv4>"
            "<tt:IPv6>%s</tt:IPv6>" % (prefixed("10.0.0.9", 8), prefixed("2001:db8::9", 64)))),
            "false")
        self.assertEqual(self.changes, [1])
        (eth0,) = self.interfaces()
        config = eth0.find(TT, "IPv4").find(TT, "Config")
        self.assertEqual(config.find(TT, "Manual").findtext(TT, "Address"), "10.0.0.9")
        self.assertIsNone(config.find(TT, "FromDHCP"))
        self.assertIsNotNone(config.find(TT, "LinkLocal"), "link-local stays with static")
        v6 = eth0.find(TT, "IPv6").find(TT, "Config")
        self.assertEqual(v6.find(TT, "Manual").findtext(TT, "Address"), "2001:db8::9")

    def test_faults(self):
        bad = (("wlan0", "<tt:Enabled>true</tt:Enabled>", "InvalidNetworkInterface"),
               ("eth0", "<tt:MTU>9001</tt:MTU>", "InvalidMtuValue"),
               ("eth0", "<tt:MTU>576</tt:MTU>", "InvalidMtuValue"),  # IPv6 needs 1280
               ("eth0", "<tt:Link><tt:AutoNegotiation>false</tt:AutoNegotiation><tt:Speed>42"
                        "</tt:Speed><tt:Duplex>Full</tt:Duplex></tt:Link>",
                "InvalidInterfaceSpeed"),
               ("eth0", "<tt:IPv4>%s</tt:IPv4>" % prefixed("10.0.0.0", 8), "InvalidIPv4Address"),
               ("eth0", "<tt:IPv4>%s</tt:IPv4>" % prefixed("300.0.0.1", 8),
                "InvalidIPv4Address"),
               ("eth0", "<tt:IPv6>%s</tt:IPv6>" % prefixed("ff02::1", 64),
                "InvalidIPv6Address"))
        for token, config, subcode in bad:
            self.assertEqual(self.fault(set_interface(config, token)),
                             ("Sender", [INVALID_ARG, subcode]), config)
        self.assertEqual(self.fault(set_interface(
            "<tt:Extension><tt:Dot11><tt:SSID>YQ==</tt:SSID><tt:Mode>Infrastructure</tt:Mode>"
            "<tt:Alias>a</tt:Alias><tt:Security><tt:Mode>None</tt:Mode></tt:Security>"
            "</tt:Dot11></tt:Extension>")),
            ("Receiver", ["ActionNotSupported", "InvalidDot11"]))
        self.assertEqual(self.fault(set_interface("<tt:IPv6><tt:DHCP>Stateful</tt:DHCP>"
                                                  "</tt:IPv6>")),
                         ("Receiver", ["ActionNotSupported", "InvalidDHCPv6"]))
        self.assertEqual(self.changes, [], "nothing changed")

    def test_without_a_backend(self):
        self.start(backend=False)
        self.assertEqual(self.fault("<tds:GetNetworkInterfaces/>"), NOT_SUPPORTED)
        self.assertEqual(self.fault(set_interface("<tt:Enabled>true</tt:Enabled>")),
                         NOT_SUPPORTED)


class GatewayTest(NetworkCase):
    def gateway(self):
        gw = self.ok("<tds:GetNetworkDefaultGateway/>").find(TDS, "NetworkGateway")
        return ([e.text for e in gw.findall(TT, "IPv4Address")],
                [e.text for e in gw.findall(TT, "IPv6Address")])

    def test_set_and_get(self):
        self.assertEqual(self.gateway(), ([], []))
        self.ok("<tds:SetNetworkDefaultGateway><tds:IPv4Address>192.168.1.1</tds:IPv4Address>"
                "<tds:IPv6Address>2001:DB8::1</tds:IPv6Address></tds:SetNetworkDefaultGateway>")
        self.assertEqual(self.gateway(), (["192.168.1.1"], ["2001:db8::1"]))
        self.ok("<tds:SetNetworkDefaultGateway/>")
        self.assertEqual(self.gateway(), ([], []))

    def test_faults(self):
        for body, subcode in (("<tds:IPv4Address>192.168.1</tds:IPv4Address>",
                               "InvalidIPv4Address"),
                              ("<tds:IPv6Address>fe80::1::</tds:IPv6Address>",
                               "InvalidIPv6Address"),
                              ("<tds:IPv4Address>224.0.0.1</tds:IPv4Address>",
                               "InvalidGatewayAddress"),
                              ("<tds:IPv4Address>0.0.0.0</tds:IPv4Address>",
                               "InvalidGatewayAddress")):
            self.assertEqual(self.fault("<tds:SetNetworkDefaultGateway>%s"
                                        "</tds:SetNetworkDefaultGateway>" % body),
                             ("Sender", [INVALID_ARG, subcode]), body)


class ZeroConfigurationTest(NetworkCase):
    def zero(self):
        zc = self.ok("<tds:GetZeroConfiguration/>").find(TDS, "ZeroConfiguration")
        return (zc.findtext(TT, "InterfaceToken"), zc.findtext(TT, "Enabled"),
                [e.text for e in zc.findall(TT, "Addresses")])

    def test_switch_link_local_off_and_on(self):
        token, enabled, addresses = self.zero()
        self.assertEqual((token, enabled, len(addresses)), ("eth0", "true", 1))
        self.ok("<tds:SetZeroConfiguration><tds:InterfaceToken>eth0</tds:InterfaceToken>"
                "<tds:Enabled>false</tds:Enabled></tds:SetZeroConfiguration>")
        self.assertEqual(self.zero(), ("eth0", "false", []))
        self.assertEqual(self.changes, [1])

    def test_unknown_interface(self):
        self.assertEqual(self.fault(
            "<tds:SetZeroConfiguration><tds:InterfaceToken>eth7</tds:InterfaceToken>"
            "<tds:Enabled>false</tds:Enabled></tds:SetZeroConfiguration>"),
            ("Sender", [INVALID_ARG, "InvalidNetworkInterface"]))


class UnsupportedTest(NetworkCase):
    def test_dot11_operations(self):
        for body in ("<tds:GetDot11Capabilities/>",
                     "<tds:GetDot11Status><tds:InterfaceToken>eth0</tds:InterfaceToken>"
                     "</tds:GetDot11Status>",
                     "<tds:ScanAvailableDot11Networks><tds:InterfaceToken>eth0"
                     "</tds:InterfaceToken></tds:ScanAvailableDot11Networks>"):
            self.assertEqual(self.fault(body),
                             ("Receiver", ["ActionNotSupported", "InvalidDot11"]))

    def test_dynamic_dns(self):
        self.assertEqual(self.fault("<tds:GetDynamicDNS/>"), NOT_SUPPORTED)

    def test_a_backend_that_cannot_apply(self):
        self.device.network.can_apply = False
        for body in ("<tds:SetHostname><tds:Name>door</tds:Name></tds:SetHostname>",
                     "<tds:SetHostnameFromDHCP><tds:FromDHCP>true</tds:FromDHCP>"
                     "</tds:SetHostnameFromDHCP>",
                     "<tds:SetDNS><tds:FromDHCP>true</tds:FromDHCP></tds:SetDNS>",
                     set_interface("<tt:Enabled>true</tt:Enabled>"),
                     "<tds:SetNetworkDefaultGateway/>",
                     "<tds:SetZeroConfiguration><tds:InterfaceToken>eth0</tds:InterfaceToken>"
                     "<tds:Enabled>true</tds:Enabled></tds:SetZeroConfiguration>"):
            self.assertEqual(self.fault(body), NOT_SUPPORTED, body)
        # ... while reading still works.
        self.ok("<tds:GetNetworkInterfaces/>")


class CapabilitiesTest(NetworkCase):
    def network(self):
        r = self.ok("<tds:GetServiceCapabilities/>")
        return r.find(TDS, "Capabilities").find(TDS, "Network")

    def legacy(self):
        r = self.ok("<tds:GetCapabilities><tds:Category>Device</tds:Category>"
                    "</tds:GetCapabilities>")
        network = r.find(TDS, "Capabilities").find(TT, "Device").find(TT, "Network")
        return [(e.name, e.text) for e in network.children]

    def test_with_the_sim_backend(self):
        n = self.network()
        self.assertEqual([n.get(a) for a in ("IPFilter", "ZeroConfiguration", "IPVersion6",
                                             "DynDNS", "Dot11Configuration",
                                             "HostnameFromDHCP", "NTP", "DHCPv6")],
                         ["true", "true", "true", "false", "false", "true", "4", "false"])
        self.assertEqual(self.legacy(), [("IPFilter", "true"), ("ZeroConfiguration", "true"),
                                         ("IPVersion6", "true"), ("DynDNS", "false")])

    def test_without_a_backend(self):
        self.start(backend=False)
        n = self.network()
        self.assertEqual([n.get(a) for a in ("ZeroConfiguration", "IPVersion6",
                                             "HostnameFromDHCP", "NTP")],
                         ["false", "false", "false", "4"])
        self.assertEqual(self.fault("<tds:GetZeroConfiguration/>"), NOT_SUPPORTED)


class ProtocolsTest(NetworkCase):
    def test_without_listeners_the_ports_are_reported_and_fixed(self):
        self.device.http_port, self.device.https_port = 8080, 8443
        protocols = self.ok("<tds:GetNetworkProtocols/>").findall(TDS, "NetworkProtocols")
        self.assertEqual([(p.findtext(TT, "Name"), p.findtext(TT, "Enabled"),
                           p.findtext(TT, "Port")) for p in protocols],
                         [("HTTP", "true", "8080"), ("HTTPS", "true", "8443")])
        self.assertEqual(self.fault("<tds:SetNetworkProtocols><tds:NetworkProtocols>"
                                    "<tt:Name>HTTP</tt:Name><tt:Enabled>true</tt:Enabled>"
                                    "<tt:Port>80</tt:Port></tds:NetworkProtocols>"
                                    "</tds:SetNetworkProtocols>"), NOT_SUPPORTED)


if __name__ == "__main__":
    unittest.main()
