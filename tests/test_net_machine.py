"""hal.net.machine (board "network": "machine") against tests/fake_network: the interfaces a
MicroPython firmware has, static IPv4 through ifconfig, kept in STATE/network.json and applied
again at boot. Portable: runs on CPython and inside MicroPython (neither has a real `network`)."""

import json
import unittest

from agent import log
from hal.net.base import NetworkError
from hal.net.machine import FILENAME, MachineNetwork, netmask_of, prefix_of
from tests import fake_network
from tests.net_conformance import check_backend
from tests.support import Lines, remove_tree, scratch_dir

STATIC = ["192.168.4.50", "255.255.255.0", "192.168.4.1", "192.168.4.1"]


class MachineNetworkTest(unittest.TestCase):
    def setUp(self):
        self.state = scratch_dir()
        self.addCleanup(remove_tree, self.state)
        self.network = fake_network.Network()

    def backend(self):
        """The backend as the board's main.py makes it at boot."""
        return MachineNetwork({}, self.state, network_module=self.network)

    def saved(self):
        with open(self.state + "/" + FILENAME) as f:
            return json.load(f)

    def fault(self, call, *args):
        try:
            call(*args)
        except NetworkError as exc:
            return exc.subcode
        raise AssertionError("no NetworkError")

    def test_wifi_station_on_dhcp(self):
        backend = self.backend()
        interfaces = check_backend(self, backend)
        self.assertEqual(interfaces, [{
            "token": "wlan0", "enabled": True, "name": "wlan0",
            "hw_address": "24:0a:c4:00:00:01", "mtu": 1500, "type": 71, "link": None,
            "oper": None, "up": True,
            "ipv4": {"enabled": True, "dhcp": True, "manual": [], "link_local": [],
                     "from_dhcp": ["192.168.4.20", 24]},
            "ipv6": None}])
        self.assertEqual(backend.dns(), {"from_dhcp": True, "search": [], "manual": [],
                                         "dhcp_servers": ["192.168.4.1"]})
        self.assertEqual(backend.gateway(), {"ipv4": ["192.168.4.1"], "ipv6": []})
        self.assertEqual(backend.hostname(), {"from_dhcp": False, "name": "mpy-door"})
        self.assertTrue(backend.can_apply)
        self.assertFalse(backend.ipv6 or backend.zero_configuration or backend.dot11)

    def test_no_lease_yet(self):
        self.network.wlan.settings = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        self.network.wlan.connected = False
        backend = self.backend()
        interface = check_backend(self, backend)[0]
        self.assertEqual((interface["up"], interface["ipv4"]["from_dhcp"]), (False, None))
        self.assertEqual(backend.gateway()["ipv4"], [])

    def test_wired_port(self):
        self.network = fake_network.Network(lan="plain")
        eth0 = check_backend(self, self.backend())[1]
        self.assertEqual((eth0["token"], eth0["type"], eth0["ipv4"]["from_dhcp"]),
                         ("eth0", 6, ["10.0.0.5", 8]))
        link = {"link": {"auto": True, "speed": 100, "duplex": "Full"}}
        self.assertEqual(self.fault(self.backend().set_interface, "eth0", link),
                         "InvalidInterfaceType")
        self.network = fake_network.Network(lan="needs-phy")
        self.assertEqual([i["token"] for i in self.backend().interfaces()], ["wlan0"])

    def test_no_network_at_all(self):
        backend = MachineNetwork({}, self.state, network_module=object())
        self.assertFalse(backend.can_apply)
        self.assertEqual(check_backend(self, backend), [])

    def test_making_the_dhcp_address_manual_applies_at_once(self):
        backend = self.backend()
        reboot = backend.set_interface("wlan0", {"ipv4": {"dhcp": False}})
        self.assertFalse(reboot)
        self.assertEqual(self.network.wlan.applied, [tuple(DHCP_AS_STATIC)])
        self.assertEqual(self.saved()["static"], {"wlan0": DHCP_AS_STATIC})
        ipv4 = backend.interfaces()[0]["ipv4"]
        self.assertEqual((ipv4["dhcp"], ipv4["manual"], ipv4["from_dhcp"]),
                         (False, [["192.168.4.20", 24]], None))

    def test_a_new_address_waits_for_the_reboot(self):
        backend = self.backend()
        self.assertTrue(backend.set_interface("wlan0", {"ipv4": {
            "dhcp": False, "manual": [["192.168.4.50", 24]]}, "mtu": 1500}))
        self.assertEqual(self.network.wlan.applied, [])  # the response still goes out
        self.assertEqual(self.saved()["static"], {"wlan0": STATIC})
        self.network = fake_network.Network()  # reset: the firmware is on DHCP again
        self.backend()
        self.assertEqual(self.network.wlan.applied, [tuple(STATIC)])

    def test_dhcp_back_on(self):
        backend = self.backend()
        self.assertFalse(backend.set_interface("wlan0", {"ipv4": {"dhcp": True}}))
        backend.set_interface("wlan0", {"ipv4": {"dhcp": False, "manual": [["192.168.4.50", 24]]}})
        self.assertTrue(backend.set_interface("wlan0", {"ipv4": {"dhcp": True}}))
        self.assertEqual(self.saved()["static"], {})
        self.network = fake_network.Network()
        self.backend()
        self.assertEqual(self.network.wlan.applied, [])

    def test_refused_changes(self):
        backend = self.backend()
        for changes, subcode in (
                ({"mtu": 1400}, "InvalidMtuValue"),
                ({"enabled": False}, None),
                ({"ipv6": {"enabled": True}}, None),
                ({"ipv4": {"enabled": False}}, None),
                ({"ipv4": {"dhcp": True, "manual": [["192.168.4.50", 24]]}}, None),
                ({"ipv4": {"dhcp": False, "manual": [["192.168.4.50", 24],
                                                     ["192.168.4.51", 24]]}},
                 "InvalidIPv4Address")):
            self.assertEqual(self.fault(backend.set_interface, "wlan0", changes), subcode)
        self.assertEqual(self.fault(backend.set_interface, "eth0", {}), "InvalidNetworkInterface")
        self.assertFalse(backend.set_interface("wlan0", {"ipv6": {"enabled": False}}))
        link = {"link": {"auto": True, "speed": 100, "duplex": "Full"}}
        self.assertFalse(backend.set_interface("wlan0", link))  # ignored on 802.11 (8.3)
        self.assertEqual(self.network.wlan.applied, [])

    def test_gateway_and_dns_need_a_manual_address(self):
        backend = self.backend()
        self.assertIsNone(self.fault(backend.set_gateway, ["192.168.4.254"], []))
        self.assertIsNone(self.fault(backend.set_dns, False, [], ["192.168.4.53"]))
        backend.set_dns(True, [], [])  # DHCP's DNS: already so
        backend.set_interface("wlan0", {"ipv4": {"dhcp": False}})
        backend.set_gateway(["192.168.4.254"], [])
        backend.set_dns(False, [], ["192.168.4.53"])
        self.assertEqual(self.network.wlan.settings,
                         ("192.168.4.20", "255.255.255.0", "192.168.4.254", "192.168.4.53"))
        self.assertEqual(backend.dns(), {"from_dhcp": False, "search": [], "dhcp_servers": [],
                                         "manual": ["192.168.4.53"]})
        self.assertEqual(backend.gateway()["ipv4"], ["192.168.4.254"])
        self.assertEqual(self.fault(backend.set_gateway, ["192.168.4.1", "192.168.4.2"], []),
                         "InvalidGatewayAddress")
        self.assertIsNone(self.fault(backend.set_gateway, ["192.168.4.1"], ["fe80::1"]))
        for args in ((True, [], []), (False, ["example.com"], []),
                     (False, [], ["192.168.4.53", "192.168.4.54"]), (False, [], ["2001:db8::1"])):
            self.assertIsNone(self.fault(backend.set_dns, *args))

    def test_hostname(self):
        backend = self.backend()
        backend.set_hostname("door-2")
        self.assertEqual(backend.hostname(), {"from_dhcp": False, "name": "door-2"})
        self.network = fake_network.Network()
        self.assertEqual(self.backend().hostname()["name"], "door-2")  # set again at boot
        self.assertIsNone(self.fault(backend.set_hostname_from_dhcp, True))
        self.network = fake_network.Network(hostname=None)
        backend = self.backend()
        self.assertEqual(backend.hostname()["name"], "")
        self.assertIsNone(self.fault(backend.set_hostname, "door-3"))
        self.assertIsNone(self.fault(backend.set_zero_config, "wlan0", True))
        self.assertEqual(backend.zero_config(), [])

    def test_factory_default(self):
        backend = self.backend()
        backend.set_interface("wlan0", {"ipv4": {"dhcp": False}})
        backend.factory_reset(False)
        self.assertEqual(self.saved()["static"], {"wlan0": DHCP_AS_STATIC})
        backend.factory_reset(True)
        self.assertEqual(self.saved(), {})
        self.network = fake_network.Network()
        self.backend()
        self.assertEqual(self.network.wlan.applied, [])

    def test_unreadable_state_starts_on_dhcp(self):
        log.set_stream(Lines())
        self.addCleanup(log.set_stream, None)
        with open(self.state + "/" + FILENAME, "w") as f:
            f.write("[1, 2")
        backend = self.backend()
        self.assertTrue(backend.interfaces()[0]["ipv4"]["dhcp"])

    def test_netmasks(self):
        for prefix, netmask in ((0, "0.0.0.0"), (8, "255.0.0.0"), (23, "255.255.254.0"),
                                (32, "255.255.255.255")):
            self.assertEqual(netmask_of(prefix), netmask)
            self.assertEqual(prefix_of(netmask), prefix)


DHCP_AS_STATIC = list(fake_network.DHCP_LEASE)
