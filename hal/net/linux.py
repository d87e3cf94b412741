"""The `linux` network backend: the machine's real interfaces (CPython on Linux).

Reading (checklist 8.3 Get* operations) never blocks the loop: IPv4 addresses come from ifaddr
(getifaddrs), everything else from small kernel files read on each call:
/sys/class/net/IF/{flags,carrier,mtu,address,speed,duplex,type,wireless}, /proc/net/if_inet6,
/proc/net/route, /proc/net/ipv6_route, /proc/sys/net/ipv6/conf/IF/{disable_ipv6,accept_ra},
/proc/sys/kernel/hostname, /etc/hostname and /etc/resolv.conf (systemd-resolved's upstream list
when resolv.conf names only its stub). `root` prefixes every one of these paths, for tests.
What is *configured* (DHCP or manual, manual DNS servers, the NTP servers DHCP offered) only
NetworkManager knows: hal.net.nmcli reads it at start and again in the background at most every
30 s; without NetworkManager every address is reported as manual (unknown is not DHCP).

Changing (Set* operations) needs NetworkManager and its permission to modify system connections
(`nmcli general permissions`); then `can_apply` is True and each change becomes `nmcli connection
modify` on the interface's active connection, followed by `connection up` (or `device reapply`
for DNS and the gateway). The commands run on a worker thread (hal.net.jobs): a Set answers at
once with RebootNeeded false, the change lands a moment later, a failure is logged. Without
NetworkManager, or without the permission, `can_apply` is False and every Set is answered
ActionNotSupported: the operating system owns the network.

Interfaces reported: every one in /sys/class/net but loopback, except virtual ones (no `device`
link) that carry no address, such as an idle bridge or an ifb. Wi-Fi interfaces are reported with
type 71 and no Link; their 802.11 settings are not offered (`dot11` False).
"""

import os
import socket
import struct

from agent import log
from hal.net import nmcli
from hal.net.base import NetworkBackend, NetworkError

# ARPHRD_* (linux/if_arp.h) -> IANA ifType; anything else is 1, "other".
IANA_TYPES = {1: 6, 512: 23, 768: 131, 772: 24, 776: 131}
ETHERNET, WIFI, LOOPBACK = 6, 71, 24
IFF_UP = 0x1
RTF_GATEWAY = 0x2
IFA_F_DADFAILED = 0x08   # /proc/net/if_inet6 flags (linux/if_addr.h)
IFA_F_PERMANENT = 0x80   # configured, not learned (SLAAC and DHCPv6 addresses expire)
SYSTEMD_STUB = "127.0.0.53"
WAIT_AT_CLOSE = 10       # seconds close() waits for queued changes


def parse_resolv_conf(text):
    """(nameservers, search domains) of a resolv.conf (resolv.conf(5): the last search or
    domain line wins)."""
    servers, search = [], []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1].split("%")[0])
        elif words and words[0] in ("search", "domain"):
            search = words[1:]
    return servers, search


def ipv4_default_gateways(text):
    """Gateways of /proc/net/route's default routes: addresses are the kernel's raw 32-bit
    words printed in host byte order."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if (len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000"
                and int(fields[3], 16) & RTF_GATEWAY):
            gateway = socket.inet_ntoa(struct.pack("=I", int(fields[2], 16)))
            if gateway not in found:
                found.append(gateway)
    return found


def ipv6_default_gateways(text):
    """Next hops of /proc/net/ipv6_route's default routes (::/0 through a gateway)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if (len(fields) == 10 and fields[0] == "0" * 32 and fields[1] == "00"
                and int(fields[8], 16) & RTF_GATEWAY):
            gateway = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[4]))
            if gateway not in found:
                found.append(gateway)
    return found


def default_route_devices(text):
    """Interfaces holding an IPv4 default route, in /proc/net/route order."""
    return [line.split()[0] for line in text.splitlines()[1:]
            if len(line.split()) >= 8 and line.split()[1] == "00000000"]


def parse_if_inet6(text):
    """{interface: [(address, prefix, flags)]} of /proc/net/if_inet6, DAD failures left out."""
    found = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or int(fields[4], 16) & IFA_F_DADFAILED:
            continue
        address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0]))
        found.setdefault(fields[5], []).append((address, int(fields[2], 16), int(fields[4], 16)))
    return found


def ifaddr_ipv4():
    """{interface: [[address, prefix]]} of the IPv4 addresses getifaddrs knows."""
    import ifaddr
    found = {}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                name = adapter.name.split(":")[0]  # an address label "eth0:1" is eth0's
                found.setdefault(name, []).append([ip.ip, ip.network_prefix])
    return found


def _is_link_local4(address):
    return address.startswith("169.254.")


def _is_link_local6(address):
    return address[:3].lower() in ("fe8", "fe9", "fea", "feb")  # fe80::/10


class LinuxNetwork(NetworkBackend):
    kind = "linux"
    dynamic_dns = False
    dot11 = False
    zero_configuration = True

    def __init__(self, board, state_dir, root="/", run=None, ipv4_addresses=None, start=None):
        """`run` runs nmcli (hal.net.nmcli.run_command), `ipv4_addresses()` lists IPv4
        addresses per interface (ifaddr), `start` starts the worker thread: tests fake all
        three."""
        self.root = root.rstrip("/")
        self.ipv4_addresses = ipv4_addresses or ifaddr_ipv4
        self.nm = nmcli.NetworkManager(run, start)
        self.can_apply = self.nm.may(nmcli.MODIFY_SYSTEM)
        self.dhcpv6 = self.can_apply  # stateful DHCPv6 is ipv6.method "dhcp"
        self.hostname_from_dhcp = self.can_apply and self.nm.may(nmcli.MODIFY_HOSTNAME)
        self.ipv6 = self._read("/proc/net/if_inet6") is not None

    # -- files under root ----------------------------------------------------------------------

    def _read(self, path):
        try:
            with open(self.root + path) as f:
                return f.read().strip()
        except OSError:  # absent, or a sysfs attribute the driver refuses (EINVAL)
            return None

    def _sys(self, name, attribute):
        return self._read("/sys/class/net/%s/%s" % (name, attribute))

    def _sys_int(self, name, attribute, default=None):
        value = self._sys(name, attribute)
        try:
            return int(value, 0)
        except (TypeError, ValueError):
            return default

    def _exists(self, path):
        return os.path.exists(self.root + path)

    # -- reading -------------------------------------------------------------------------------

    def _names(self, ipv4, ipv6):
        try:
            names = sorted(os.listdir(self.root + "/sys/class/net"))
        except OSError:
            return []
        return [name for name in names
                if self._iftype(name) != LOOPBACK
                and (self._exists("/sys/class/net/%s/device" % name)
                     or ipv4.get(name) or ipv6.get(name))]

    def _iftype(self, name):
        if self._exists("/sys/class/net/%s/wireless" % name) or self._exists(
                "/sys/class/net/%s/phy80211" % name):
            return WIFI
        return IANA_TYPES.get(self._sys_int(name, "type"), 1)

    def interfaces(self):
        self.nm.refresh_if_stale()
        ipv4 = self.ipv4_addresses()
        ipv6 = parse_if_inet6(self._read("/proc/net/if_inet6") or "") if self.ipv6 else {}
        return [self._interface(name, ipv4.get(name, []), ipv6.get(name, []))
                for name in self._names(ipv4, ipv6)]

    def _interface(self, name, ipv4, ipv6):
        iftype = self._iftype(name)
        oper, link = self._link(name) if iftype == ETHERNET else (None, None)
        return {"token": name, "enabled": bool(self._sys_int(name, "flags", 0) & IFF_UP),
                "name": name, "hw_address": self._sys(name, "address") or "",
                "mtu": self._sys_int(name, "mtu", 0), "type": iftype, "link": link,
                "oper": oper, "up": self._sys_int(name, "carrier", 0) == 1,
                "ipv4": self._ipv4(name, ipv4),
                "ipv6": self._ipv6(name, ipv6) if self.ipv6 else None}

    def _link(self, name):
        """(oper, admin) link settings: the kernel's speed and duplex, NetworkManager's
        auto-negotiation; an unknown speed (-1, a virtual link) is no link at all."""
        admin = [self.nm.setting(name, nmcli.ETHERNET + "." + key)
                 for key in ("auto-negotiate", "speed", "duplex")]
        speed = self._sys_int(name, "speed", -1)
        duplex = (self._sys(name, "duplex") or "").capitalize()
        auto = admin[0] != "no"
        oper = ({"auto": auto, "speed": speed, "duplex": duplex}
                if speed > 0 and duplex in ("Full", "Half") else None)
        if not auto and admin[1] and admin[2]:
            return oper, {"auto": False, "speed": int(admin[1]), "duplex": admin[2].capitalize()}
        return oper, oper and dict(oper)

    def _ipv4(self, name, addresses):
        link_local = [a for a in addresses if _is_link_local4(a[0])]
        others = [a for a in addresses if not _is_link_local4(a[0])]
        method = self.nm.setting(name, "ipv4.method", None)
        if method is None:  # not NetworkManager's: whatever is there counts as manual
            return {"enabled": True, "dhcp": False, "manual": others,
                    "link_local": link_local, "from_dhcp": None}
        manual = nmcli.parse_addresses(self.nm.setting(name, "ipv4.addresses"))
        learned = [a for a in others if a not in manual] if method == "auto" else []
        return {"enabled": method != "disabled", "dhcp": method == "auto", "manual": manual,
                "link_local": link_local, "from_dhcp": learned[0] if learned else None}

    def _ipv6(self, name, entries):
        conf = "/proc/sys/net/ipv6/conf/%s/" % name
        method = self.nm.setting(name, "ipv6.method", None)
        link_local = [[a, p] for a, p, _ in entries if _is_link_local6(a)]
        permanent = [[a, p] for a, p, f in entries
                     if not _is_link_local6(a) and f & IFA_F_PERMANENT]
        learned = [[a, p] for a, p, f in entries
                   if not _is_link_local6(a) and not f & IFA_F_PERMANENT]
        manual = (permanent if method is None
                  else nmcli.parse_addresses(self.nm.setting(name, "ipv6.addresses")))
        stateful = method == "dhcp"
        return {"enabled": self._read(conf + "disable_ipv6") != "1",
                "dhcp": nmcli.IPV6_METHOD_DHCP.get(method, "Off"),
                "accept_router_advert": self._read(conf + "accept_ra") not in ("0", None),
                "manual": manual, "link_local": link_local,
                "from_dhcp": learned if stateful else [], "from_ra": [] if stateful else learned}

    def hostname(self):
        static = self._read("/etc/hostname")
        return {"from_dhcp": self.nm.running and not static,
                "name": self._read("/proc/sys/kernel/hostname") or ""}

    def dns(self):
        servers, search = parse_resolv_conf(self._read("/etc/resolv.conf") or "")
        if servers == [SYSTEMD_STUB]:  # systemd-resolved: its upstream servers are listed here
            servers = parse_resolv_conf(
                self._read("/run/systemd/resolve/resolv.conf") or "")[0] or servers
        device = self._primary_device()
        if device is None:
            return {"from_dhcp": False, "search": search, "dhcp_servers": [], "manual": servers}
        settings = self.nm.connections[device]["settings"]
        manual = (nmcli.split_list(settings.get("ipv4.dns", ""))
                  + nmcli.split_list(settings.get("ipv6.dns", "")))
        from_dhcp = (settings.get("ipv4.method") == "auto"
                     and settings.get("ipv4.ignore-auto-dns") != "yes")
        learned = [s for s in servers if s not in manual] if from_dhcp else []
        return {"from_dhcp": from_dhcp, "search": search, "dhcp_servers": learned,
                "manual": manual}

    def gateway(self):
        """The kernel's default routes, whoever set them (DHCP, a router advertisement or a
        manual setting): the gateways the device really uses."""
        return {"ipv4": ipv4_default_gateways(self._read("/proc/net/route") or ""),
                "ipv6": ipv6_default_gateways(self._read("/proc/net/ipv6_route") or "")}

    def zero_config(self):
        found = []
        for interface in self.interfaces():
            addresses = [a for a, _ in interface["ipv4"]["link_local"]]
            setting = self.nm.setting(interface["token"], "ipv4.link-local")
            enabled = setting == "enabled" if setting in ("enabled", "disabled") else bool(
                addresses)
            found.append({"token": interface["token"], "enabled": enabled,
                          "addresses": addresses})
        return found

    def dhcp_ntp_servers(self):
        found = []
        for connection in self.nm.connections.values():
            for server in connection["dhcp4"].get("ntp_servers", "").split():
                if server not in found:
                    found.append(server)
        return found

    def _primary_device(self):
        """The NetworkManager device that holds DNS and the gateway: the one with the IPv4
        default route, else the first active connection's; None without NetworkManager."""
        routes = default_route_devices(self._read("/proc/net/route") or "")
        for device in routes + sorted(self.nm.connections):
            if device in self.nm.connections:
                return device
        return None

    # -- changing ------------------------------------------------------------------------------

    def _connection(self, token):
        """The active connection of interface `token`, which must be one of interfaces()."""
        if token not in [interface["token"] for interface in self.interfaces()]:
            raise NetworkError("InvalidNetworkInterface", "no network interface %r" % token)
        self._require(self.can_apply)
        connection = self.nm.connections.get(token)
        if connection is None:
            raise NetworkError(None, "%s has no active NetworkManager connection" % token)
        return connection

    def _require(self, permitted):
        if not permitted:
            raise NetworkError(None, "the operating system owns the network settings "
                                     "(NetworkManager's nmcli is missing or not permitted)")

    def set_interface(self, token, changes):
        connection = self._connection(token)
        uuid = connection["uuid"]
        found = nmcli.interface_changes(changes, connection)
        self.nm.modify(uuid, found, [nmcli.up(uuid) if changes.get("enabled", True)
                                     else nmcli.down(uuid)])
        return False

    def set_hostname(self, name):
        self._require(self.hostname_from_dhcp)
        self.nm.submit([nmcli.hostname(name)])

    def set_hostname_from_dhcp(self, on):
        self._require(self.hostname_from_dhcp)
        self.nm.submit([nmcli.hostname("" if on else self.hostname()["name"])])
        return False

    def _primary(self):
        self._require(self.can_apply)
        device = self._primary_device()
        if device is None:
            raise NetworkError(None, "no active NetworkManager connection")
        return device, self.nm.connections[device]

    def set_dns(self, from_dhcp, search, manual):
        device, connection = self._primary()
        self.nm.modify(connection["uuid"], nmcli.dns_changes(from_dhcp, search, manual),
                       [nmcli.reapply(device)])

    def set_gateway(self, ipv4, ipv6):
        device, connection = self._primary()
        found = []
        for family, gateways in (("ipv4", ipv4), ("ipv6", ipv6)):
            if len(gateways) > 1:
                raise NetworkError("InvalidGatewayAddress", "NetworkManager keeps one %s "
                                   "gateway per connection" % family.upper())
            if gateways and not self.nm.setting(device, family + ".addresses"):
                raise NetworkError("InvalidGatewayAddress", "a manual %s gateway needs a manual "
                                   "%s address on %s" % (family, family, device))
            found.append((family + ".gateway", gateways[0] if gateways else ""))
        self.nm.modify(connection["uuid"], found, [nmcli.reapply(device)])

    def set_zero_config(self, token, enabled):
        uuid = self._connection(token)["uuid"]
        self.nm.modify(uuid, [("ipv4.link-local", "enabled" if enabled else "disabled")],
                       [nmcli.up(uuid)])

    def factory_reset(self, hard):
        """Hard: every active wired connection back to DHCP and link-local. Soft keeps the
        network (checklist 8.4 #8); without NetworkManager the OS keeps it either way."""
        if not hard:
            return
        if not self.can_apply:
            log.info("network: factory default leaves the operating system's network settings")
            return
        for connection in self.nm.connections.values():
            if connection["type"] == nmcli.ETHERNET:
                self.nm.modify(connection["uuid"], nmcli.FACTORY, [nmcli.up(connection["uuid"])])

    def close(self):
        if not self.nm.jobs.wait(WAIT_AT_CLOSE):
            log.warning("network: a change was still being applied at shutdown")
        self.nm.jobs.report()
