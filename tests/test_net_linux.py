"""hal.net.linux (board "network": "linux"): the kernel's files and nmcli, faked; then the real
machine read-only, and a network namespace the test builds with a known address, MTU and routes.

The fake tree holds the kernel's real formats (copied from a Linux 6.x machine): sysfs attributes,
/proc/net/route (addresses as host-order hex words), /proc/net/ipv6_route, /proc/net/if_inet6.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

import pytest

from agent import log
from hal.net import linux, nmcli
from hal.net.base import NetworkError
from hal.net.jobs import SerialJobs
from tests.net_conformance import check_backend, check_interface
from tests.support import Lines

ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n")
IPV6_ROUTE = (
    "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n")
IF_INET6 = (
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "20010db8000000000000000000000010 02 40 00 80     eth0\n"   # manual (permanent)
    "20010db80000000002000000000000aa 02 40 00 00     eth0\n"   # SLAAC (dynamic)
    "20010db80000000000000000000000bb 02 40 00 08     eth0\n"   # DAD failed
    "fe80000000000000020000fffe000001 02 40 20 80     eth0\n")
SYS = {  # interface -> sysfs attributes
    "lo": {"type": "772", "flags": "0x9", "mtu": "65536", "address": "00:00:00:00:00:00",
           "carrier": "1"},
    "eth0": {"type": "1", "flags": "0x1003", "mtu": "1500", "address": "02:00:00:00:00:01",
             "carrier": "1", "speed": "1000", "duplex": "full", "operstate": "up",
             "device/": None},
    "wlan0": {"type": "1", "flags": "0x1003", "mtu": "1500", "address": "02:00:00:00:00:02",
              "carrier": "0", "operstate": "down", "device/": None, "wireless/": None},
    "ifb0": {"type": "1", "flags": "0x82", "mtu": "1500", "address": "56:ed:91:7a:02:78"},
}
IPV4 = {"lo": [["127.0.0.1", 8]], "eth0": [["192.168.1.23", 24], ["169.254.7.9", 16]]}
ACTIVE = "0c6e1a0e-6b5e-4a52-8c1b-8d1e4b1f2a01:802-3-ethernet:eth0\n"
UUID = "0c6e1a0e-6b5e-4a52-8c1b-8d1e4b1f2a01"
ETH0_SETTINGS = (
    "ipv4.method:auto\nipv4.dns:192.0.2.53\nipv4.dns-search:\nipv4.addresses:\n"
    "ipv4.gateway:\nipv4.ignore-auto-dns:no\nipv4.link-local:default\n"
    "ipv6.method:auto\nipv6.addresses:\nipv6.dns:2001\\:db8\\:\\:53\nipv6.gateway:\n"
    "802-3-ethernet.mtu:auto\n802-3-ethernet.auto-negotiate:yes\n802-3-ethernet.speed:0\n"
    "802-3-ethernet.duplex:\n")
DHCP4 = ("DHCP4.OPTION[1]:domain_name_servers = 192.168.1.1\n"
         "DHCP4.OPTION[2]:ntp_servers = 192.168.1.2 192.168.1.3\n"
         "DHCP4.OPTION[3]:ip_address = 192.168.1.23\n")
PERMITTED = ("org.freedesktop.NetworkManager.settings.modify.system:yes\n"
             "org.freedesktop.NetworkManager.settings.modify.hostname:yes\n"
             "org.freedesktop.NetworkManager.network-control:yes\n")
NOT_PERMITTED = PERMITTED.replace(":yes", ":auth")


def make_tree(root, resolv="nameserver 192.168.1.1\nsearch example.com\n"):
    def write(path, text):
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        with open(root + path, "w") as f:
            f.write(text + "\n")
    for name, attributes in SYS.items():
        os.makedirs(root + "/sys/class/net/" + name)
        for attribute, value in attributes.items():
            if value is None:
                os.makedirs(root + "/sys/class/net/%s/%s" % (name, attribute))
            else:
                write("/sys/class/net/%s/%s" % (name, attribute), value)
        write("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, "0")
        write("/proc/sys/net/ipv6/conf/%s/accept_ra" % name, "1")
    write("/proc/net/route", ROUTE)
    write("/proc/net/ipv6_route", IPV6_ROUTE)
    write("/proc/net/if_inet6", IF_INET6)
    write("/proc/sys/kernel/hostname", "door-1")
    write("/etc/hostname", "door-1")
    write("/etc/resolv.conf", resolv)


class FakeNmcli:
    """nmcli as `run` sees it: canned answers by argument list, every call recorded; absent
    (OSError) when `answers` is None."""

    def __init__(self, permissions=PERMITTED, fail=None):
        self.calls = []
        self.fail = fail  # a word: any command holding it fails
        self.answers = None if permissions is None else {
            "general permissions": permissions,
            "connection show --active": ACTIVE,
            "connection show " + UUID: ETH0_SETTINGS,
            "device show eth0": DHCP4,
        }

    def __call__(self, argv, timeout):
        assert argv[0] == "nmcli" and isinstance(timeout, (int, float)) and timeout <= 60
        self.calls.append(argv[1:])
        if self.answers is None:
            raise FileNotFoundError(2, "No such file or directory: 'nmcli'")
        if self.fail and self.fail in argv:
            return 10, "Error: failed to modify connection"
        for key, answer in self.answers.items():
            if key in " ".join(argv):
                return 0, answer
        return 0, ""

    def changes(self):
        """The calls that change something (reads left out)."""
        return [c for c in self.calls if "show" not in c and "permissions" not in c]


class FakeTree(unittest.TestCase):
    def setUp(self):
        self.root = os.path.join(self.mkdtemp(), "root")
        make_tree(self.root)
        self.lines = Lines()
        log.set_stream(self.lines)
        self.addCleanup(log.set_stream, None)

    def mkdtemp(self):
        import tempfile
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path)
        return path

    def backend(self, nm=None):
        self.nm = nm or FakeNmcli()
        return linux.LinuxNetwork({}, None, root=self.root, run=self.nm,
                                  ipv4_addresses=lambda: IPV4, start=lambda f: f())

    def eth0(self, backend):
        return [i for i in backend.interfaces() if i["token"] == "eth0"][0]


class ReadingTest(FakeTree):
    def test_interfaces_with_networkmanager(self):
        backend = self.backend()
        interfaces = check_backend(self, backend)
        # lo is never reported, ifb0 is virtual (no device/) and has no address
        self.assertEqual([i["token"] for i in interfaces], ["eth0", "wlan0"])
        self.assertEqual(interfaces[0], {
            "token": "eth0", "enabled": True, "name": "eth0", "hw_address": "02:00:00:00:00:01",
            "mtu": 1500, "type": 6,
            "link": {"auto": True, "speed": 1000, "duplex": "Full"},
            "oper": {"auto": True, "speed": 1000, "duplex": "Full"}, "up": True,
            "ipv4": {"enabled": True, "dhcp": True, "manual": [],
                     "link_local": [["169.254.7.9", 16]], "from_dhcp": ["192.168.1.23", 24]},
            "ipv6": {"enabled": True, "dhcp": "Auto", "accept_router_advert": True,
                     "manual": [], "link_local": [["fe80::200:ff:fe00:1", 64]],
                     "from_dhcp": [], "from_ra": [["2001:db8::200:0:0:aa", 64]]}})
        wlan = interfaces[1]
        self.assertEqual((wlan["type"], wlan["link"], wlan["oper"], wlan["up"]),
                         (71, None, None, False))
        self.assertEqual(backend.dhcp_ntp_servers(), ["192.168.1.2", "192.168.1.3"])
        self.assertEqual(backend.dns(), {"from_dhcp": True, "search": ["example.com"],
                                         "dhcp_servers": ["192.168.1.1"],
                                         "manual": ["192.0.2.53", "2001:db8::53"]})
        self.assertEqual(backend.gateway(), {"ipv4": ["192.168.1.1"], "ipv6": ["fe80::1"]})
        self.assertEqual(backend.hostname(), {"from_dhcp": False, "name": "door-1"})
        self.assertEqual(backend.zero_config()[0],
                         {"token": "eth0", "enabled": True, "addresses": ["169.254.7.9"]})
        self.assertTrue(backend.can_apply and backend.hostname_from_dhcp and backend.ipv6)

    def test_without_networkmanager_every_address_is_manual(self):
        backend = self.backend(FakeNmcli(permissions=None))
        self.assertFalse(backend.can_apply or backend.hostname_from_dhcp)
        eth0 = [i for i in check_backend(self, backend) if i["token"] == "eth0"][0]
        self.assertEqual(eth0["ipv4"], {"enabled": True, "dhcp": False,
                                        "manual": [["192.168.1.23", 24]],
                                        "link_local": [["169.254.7.9", 16]], "from_dhcp": None})
        self.assertEqual(eth0["ipv6"]["manual"], [["2001:db8::10", 64]])
        self.assertEqual(eth0["ipv6"]["dhcp"], "Off")
        self.assertEqual(backend.dns(), {"from_dhcp": False, "search": ["example.com"],
                                         "dhcp_servers": [], "manual": ["192.168.1.1"]})
        self.assertEqual(backend.dhcp_ntp_servers(), [])
        self.assertIn("NetworkManager is not available", "\n".join(self.lines.lines))

    def test_systemd_resolved_stub_is_looked_through(self):
        make_tree_file(self.root, "/etc/resolv.conf", "nameserver 127.0.0.53\nsearch lan\n")
        make_tree_file(self.root, "/run/systemd/resolve/resolv.conf",
                       "nameserver 10.0.0.1\nnameserver fe80::1%eth0\n")
        dns = self.backend(FakeNmcli(permissions=None)).dns()
        self.assertEqual((dns["manual"], dns["search"]), (["10.0.0.1", "fe80::1"], ["lan"]))

    def test_manual_configuration_in_networkmanager(self):
        backend = self.backend()
        backend.nm.connections["eth0"]["settings"].update({
            "ipv4.method": "manual", "ipv4.addresses": "192.168.1.23/24",
            "ipv6.method": "dhcp", "802-3-ethernet.auto-negotiate": "no",
            "802-3-ethernet.speed": "100", "802-3-ethernet.duplex": "half"})
        eth0 = self.eth0(backend)
        self.assertEqual(eth0["ipv4"], {"enabled": True, "dhcp": False,
                                        "manual": [["192.168.1.23", 24]],
                                        "link_local": [["169.254.7.9", 16]], "from_dhcp": None})
        self.assertEqual((eth0["ipv6"]["dhcp"], eth0["ipv6"]["from_dhcp"], eth0["ipv6"]["from_ra"]),
                         ("Stateful", [["2001:db8::200:0:0:aa", 64]], []))
        self.assertEqual(eth0["link"], {"auto": False, "speed": 100, "duplex": "Half"})
        self.assertEqual(eth0["oper"], {"auto": False, "speed": 1000, "duplex": "Full"})
        self.assertFalse(backend.dns()["from_dhcp"])

    def test_a_link_of_unknown_speed_is_no_link(self):
        make_tree_file(self.root, "/sys/class/net/eth0/speed", "-1\n")  # virtual NICs say -1
        eth0 = self.eth0(self.backend())
        self.assertEqual((eth0["link"], eth0["oper"], eth0["type"]), (None, None, 6))

    def test_no_ipv6_in_the_kernel(self):
        os.remove(self.root + "/proc/net/if_inet6")
        backend = self.backend()
        self.assertFalse(backend.ipv6)
        check_backend(self, backend)

    def test_static_hostname_absent_means_dhcp_names_the_host(self):
        os.remove(self.root + "/etc/hostname")
        self.assertTrue(self.backend().hostname()["from_dhcp"])

    def test_configuration_is_read_again_in_the_background(self):
        now = [0]
        nm = nmcli.NetworkManager(FakeNmcli(), lambda f: f(), clock=lambda: now[0])
        reads = len(nm.run.calls)
        now[0] = nmcli.REFRESH_MS - 1
        nm.refresh_if_stale()
        self.assertEqual(len(nm.run.calls), reads)
        now[0] = nmcli.REFRESH_MS
        nm.refresh_if_stale()
        self.assertEqual(nm.run.calls[reads], ["-t", "-f", "UUID,TYPE,DEVICE", "connection",
                                               "show", "--active"])


def make_tree_file(root, path, text):
    os.makedirs(os.path.dirname(root + path), exist_ok=True)
    with open(root + path, "w") as f:
        f.write(text)


class ParsingTest(unittest.TestCase):
    def test_terse_escapes(self):
        self.assertEqual(nmcli.terse_fields("a\\:b:c\\\\d:"), ["a:b", "c\\d", ""])
        self.assertEqual(nmcli.terse_fields("ipv6.dns:2001\\:db8\\:\\:1", 1),
                         ["ipv6.dns", "2001:db8::1"])

    def test_routes_in_host_byte_order(self):
        self.assertEqual(linux.ipv4_default_gateways(ROUTE), ["192.168.1.1"])
        self.assertEqual(linux.ipv6_default_gateways(IPV6_ROUTE), ["fe80::1"])
        self.assertEqual(linux.default_route_devices(ROUTE), ["eth0"])


class ApplyingTest(FakeTree):
    def test_set_interface_static_address(self):
        backend = self.backend()
        self.assertFalse(backend.set_interface("eth0", {
            "mtu": 1400, "link": {"auto": False, "speed": 100, "duplex": "Full"},
            "ipv4": {"dhcp": False, "manual": [["192.168.1.10", 24]]}}))
        self.assertEqual(self.nm.changes(), [
            ["connection", "modify", UUID, "802-3-ethernet.mtu", "1400",
             "802-3-ethernet.auto-negotiate", "no", "802-3-ethernet.speed", "100",
             "802-3-ethernet.duplex", "full", "ipv4.method", "manual",
             "ipv4.addresses", "192.168.1.10/24"],
            ["--wait", "30", "connection", "up", UUID]])

    def test_set_interface_ipv6_and_disable(self):
        backend = self.backend()
        backend.set_interface("eth0", {"enabled": False, "ipv6": {
            "dhcp": "Off", "accept_router_advert": False, "manual": [["2001:db8::10", 64]]}})
        self.assertEqual(self.nm.changes(), [
            ["connection", "modify", UUID, "connection.autoconnect", "no",
             "ipv6.method", "manual", "ipv6.addresses", "2001:db8::10/64"],
            ["connection", "down", UUID]])

    def test_link_settings_on_wifi_are_ignored(self):
        wifi = {"uuid": "w", "type": "802-11-wireless", "settings": {}}
        self.assertEqual(nmcli.interface_changes(
            {"mtu": 1400, "link": {"auto": True, "speed": 0, "duplex": "Full"}}, wifi),
            [("802-11-wireless.mtu", "1400")])
        with self.assertRaises(NetworkError) as caught:
            nmcli.interface_changes({"link": {"auto": True}}, dict(wifi, type="bond"))
        self.assertEqual(caught.exception.subcode, "InvalidInterfaceType")

    def test_dhcp_off_without_an_address_is_refused(self):
        with self.assertRaises(NetworkError) as caught:
            self.backend().set_interface("eth0", {"ipv4": {"dhcp": False}})
        self.assertEqual(caught.exception.subcode, "InvalidIPv4Address")
        self.assertEqual(self.nm.changes(), [])

    def test_unknown_interface(self):
        for token in ("eth9", "lo", "ifb0"):
            with self.assertRaises(NetworkError) as caught:
                self.backend().set_interface(token, {"mtu": 1400})
            self.assertEqual(caught.exception.subcode, "InvalidNetworkInterface")

    def test_dns_gateway_hostname_zero_config(self):
        backend = self.backend()
        backend.set_dns(False, ["example.com"], ["192.0.2.1", "2001:db8::1"])
        backend.set_hostname("door-2")
        self.assertFalse(backend.set_hostname_from_dhcp(True))
        backend.set_zero_config("eth0", False)
        self.assertEqual(self.nm.changes(), [
            ["connection", "modify", UUID, "ipv4.ignore-auto-dns", "yes",
             "ipv6.ignore-auto-dns", "yes", "ipv4.dns", "192.0.2.1", "ipv6.dns", "2001:db8::1",
             "ipv4.dns-search", "example.com"],
            ["device", "reapply", "eth0"],
            ["general", "hostname", "door-2"],
            ["general", "hostname", ""],
            ["connection", "modify", UUID, "ipv4.link-local", "disabled"],
            ["--wait", "30", "connection", "up", UUID]])

    def test_gateway_needs_a_manual_address(self):
        backend = self.backend()
        with self.assertRaises(NetworkError) as caught:
            backend.set_gateway(["192.168.1.254"], [])
        self.assertEqual(caught.exception.subcode, "InvalidGatewayAddress")
        with self.assertRaises(NetworkError):
            backend.set_gateway([], ["fe80::1", "fe80::2"])
        backend.nm.connections["eth0"]["settings"]["ipv4.addresses"] = "192.168.1.10/24"
        backend.set_gateway(["192.168.1.254"], [])
        self.assertEqual(self.nm.changes(), [
            ["connection", "modify", UUID, "ipv4.gateway", "192.168.1.254", "ipv6.gateway", ""],
            ["device", "reapply", "eth0"]])

    def test_factory_default(self):
        backend = self.backend()
        backend.factory_reset(False)
        self.assertEqual(self.nm.changes(), [])
        backend.factory_reset(True)
        modify, up = self.nm.changes()
        self.assertEqual(modify[:3], ["connection", "modify", UUID])
        self.assertEqual(dict(zip(modify[3::2], modify[4::2]))["ipv4.method"], "auto")
        self.assertEqual(dict(zip(modify[3::2], modify[4::2]))["ipv4.link-local"], "enabled")
        self.assertEqual(up, ["--wait", "30", "connection", "up", UUID])

    def test_a_failing_command_is_logged_and_stops_its_chain(self):
        backend = self.backend(FakeNmcli(fail="modify"))
        self.assertFalse(backend.set_interface("eth0", {"mtu": 1400}))
        self.assertEqual(self.nm.changes(), [["connection", "modify", UUID,
                                              "802-3-ethernet.mtu", "1400"]])
        self.assertIn("failed (10)", "\n".join(self.lines.lines))

    def test_not_permitted_or_missing_nmcli_cannot_apply(self):
        for nm in (FakeNmcli(permissions=NOT_PERMITTED), FakeNmcli(permissions=None)):
            backend = self.backend(nm)
            self.assertFalse(backend.can_apply)
            for call, args in ((backend.set_interface, ("eth0", {"mtu": 1400})),
                               (backend.set_dns, (True, [], [])),
                               (backend.set_gateway, ([], [])),
                               (backend.set_hostname, ("door-2",)),
                               (backend.set_hostname_from_dhcp, (True,)),
                               (backend.set_zero_config, ("eth0", True))):
                with self.assertRaises(NetworkError) as caught:
                    call(*args)
                self.assertIsNone(caught.exception.subcode)
            backend.factory_reset(True)
            self.assertEqual(nm.changes(), [])

    def test_changes_wait_for_the_worker_not_the_caller(self):
        """A Set returns before nmcli runs: the loop never waits for a subprocess."""
        started = []
        backend = linux.LinuxNetwork({}, None, root=self.root, run=FakeNmcli(),
                                     ipv4_addresses=lambda: IPV4, start=started.append)
        backend.set_interface("eth0", {"mtu": 1400})
        self.assertEqual([c for c in backend.nm.run.calls if "modify" in c], [])
        started.pop()()  # the worker thread runs now
        self.assertEqual(len([c for c in backend.nm.run.calls if "modify" in c]), 1)


class SerialJobsTest(unittest.TestCase):
    def test_jobs_run_in_order_on_a_thread_and_close_waits_for_them(self):
        import threading
        release, ran = threading.Event(), []
        jobs = SerialJobs()
        jobs.submit(lambda: release.wait(5) and ran.append(threading.get_ident()))
        jobs.submit(lambda: ran.append("second"))
        self.assertFalse(jobs.wait(0.05))  # still held by the first job
        self.assertEqual(ran, [])
        release.set()
        self.assertTrue(jobs.wait(5))
        self.assertEqual(len(ran), 2)
        self.assertNotEqual(ran[0], threading.get_ident())
        self.assertEqual(ran[1], "second")

    def test_a_failing_job_is_logged_and_the_next_runs(self):
        lines, ran = Lines(), []
        log.set_stream(lines)
        self.addCleanup(log.set_stream, None)
        jobs = SerialJobs(lambda f: f())
        jobs.submit(lambda: 1 / 0)
        jobs.submit(lambda: ran.append(1))
        self.assertEqual(ran, [1])
        self.assertEqual(lines.lines, [])  # the worker never logs itself
        jobs.report()
        self.assertIn("ZeroDivisionError", "\n".join(lines.lines))


class RealMachineTest(unittest.TestCase):
    def test_reads_this_machine(self):
        """Read-only: whatever this machine has, in the contract's shape; every interface that
        ifaddr sees with an address (loopback aside) is reported."""
        import ifaddr
        backend = linux.LinuxNetwork({}, None)
        interfaces = check_backend(self, backend)
        seen = {a.name for a in ifaddr.get_adapters() if a.ips} - {"lo"}
        self.assertTrue(seen <= {i["token"] for i in interfaces}, seen)
        backend.close()


NAMESPACE_SCRIPT = r"""
set -e
mount -t sysfs sysfs /sys
ip link set lo up
ip link add v0 mtu 1400 type veth peer name v1
ip link set v0 up
ip link set v1 up
ip addr add 192.0.2.5/24 dev v0
ip route add default via 192.0.2.1
ip -6 addr add 2001:db8::5/64 dev v0 nodad
ip -6 route add default via 2001:db8::1 dev v0
exec "$PYTHON" -c '
import json, sys
from hal.net.linux import LinuxNetwork
backend = LinuxNetwork({}, None, run=lambda argv, timeout: (127, "no nmcli here"))
print(json.dumps({"interfaces": backend.interfaces(), "gateway": backend.gateway()}))
'
"""


@pytest.mark.skipif(not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs unshare and ip (util-linux, iproute2)")
def test_in_a_network_namespace():
    """A veth pair in a namespace of its own, with a known address, MTU and routes: the
    backend reports exactly those (IPv4 through ifaddr, the rest from sysfs and /proc)."""
    proc = subprocess.run(["unshare", "--map-root-user", "--net", "--mount", "sh", "-c",
                           NAMESPACE_SCRIPT], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHON=sys.executable),
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if proc.returncode and "Operation not permitted" in proc.stderr:
        pytest.skip("no user namespaces here: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    v0 = [i for i in found["interfaces"] if i["token"] == "v0"][0]
    check_interface(unittest.TestCase(), v0)
    assert (v0["mtu"], v0["type"], v0["up"], v0["enabled"]) == (1400, 6, True, True)
    assert v0["ipv4"]["manual"] == [["192.0.2.5", 24]] and not v0["ipv4"]["dhcp"]
    assert v0["ipv6"]["manual"] == [["2001:db8::5", 64]]
    assert v0["ipv6"]["link_local"][0][0].startswith("fe80::")
    assert found["gateway"] == {"ipv4": ["192.0.2.1"], "ipv6": ["2001:db8::1"]}
