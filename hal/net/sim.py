"""The simulated network of the desktop board (issue 8): an interface set kept in
STATE/network.json, validated and answered exactly like a device that owns its network, so
every network operation can be exercised without touching the host's.

Runtime-neutral (json and agent.compat only). A change to addressing is applied at once
(RebootNeeded false) and announced through `on_change` (discovery's Hello); switching the host
name's source to DHCP needs a reboot, as on devices whose DHCP client reads it at start.
The simulated DHCP server hands out 192.168.1.x/24 (x from the MAC), gateway and DNS server
192.168.1.1, no host name, no NTP server; there is no router advertising IPv6 prefixes.
"""

import json

from agent.compat import sha256
from agent.settings import StateFile

from .base import ETHERNET, NetworkBackend, NetworkError

FILENAME = "network.json"
DEFAULT_HOSTNAME = "onvif-agent"
DHCP_ROUTER = "192.168.1.1"


def _hex(value):
    return "%02x" % value


def default_mac(seed):
    """A stable locally administered unicast MAC (02:...) from `seed` text."""
    digest = sha256(seed.encode())
    return ":".join(_hex(b) for b in b"\x02" + digest[:5])


def default_interface(mac):
    """eth0 as a factory-new device has it (checklist 6: DHCP on and IPv4 link-local on)."""
    return {"token": "eth0", "enabled": True, "name": "eth0", "hw_address": mac, "mtu": 1500,
            "type": ETHERNET, "link": {"auto": True, "speed": 1000, "duplex": "Full"},
            "oper": None, "up": True,
            "ipv4": {"enabled": True, "dhcp": True, "manual": [], "zero_config": True,
                     "link_local": [], "from_dhcp": None},
            "ipv6": {"enabled": True, "dhcp": "Auto", "accept_router_advert": True,
                     "manual": [], "link_local": [], "from_dhcp": [], "from_ra": []}}


def _mac_bytes(mac):
    return [int(part, 16) for part in mac.split(":")]


def _derive(iface):
    """Fill in what the (simulated) network gives the interface: the DHCP lease, link-local
    addresses, the negotiated link."""
    up = iface["enabled"] and iface["up"]
    mac = _mac_bytes(iface["hw_address"])
    link = iface["link"]
    iface["oper"] = None if not up or link is None else (
        {"auto": True, "speed": 1000, "duplex": "Full"} if link["auto"] else dict(link))
    v4 = iface["ipv4"]
    on = up and v4["enabled"]
    v4["from_dhcp"] = ["192.168.1.%d" % (100 + mac[5] % 100), 24] if on and v4["dhcp"] else None
    v4["link_local"] = [["169.254.%d.%d" % (1 + mac[4] % 254, mac[5]), 16]] \
        if on and v4["zero_config"] else []
    v6 = iface["ipv6"]
    if v6 is not None:
        eui = [mac[0] ^ 2, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]]
        v6["link_local"] = [["fe80::%x:%x:%x:%x" % tuple(
            eui[i] << 8 | eui[i + 1] for i in range(0, 8, 2)), 64]] \
            if up and v6["enabled"] else []


class SimNetwork(NetworkBackend):
    kind = "sim"

    def __init__(self, board, state_dir=None, seed=None):
        self.board = board
        self.seed = seed or state_dir or board["name"]
        self.file = StateFile(state_dir and state_dir + "/" + FILENAME, "network state")
        self.state = self.file.values or self._defaults()

    def _defaults(self):
        return {"interfaces": [default_interface(default_mac(self.seed))],
                "hostname": {"from_dhcp": False,
                             "name": self.board.get("hostname") or DEFAULT_HOSTNAME},
                "dns": {"from_dhcp": True, "search": [], "manual": []},
                "gateway": {"ipv4": [], "ipv6": []}}

    def _save(self, changed=False):
        self.file.replace(self.state)
        if changed and self.on_change is not None:
            self.on_change()

    def _copy(self):
        return json.loads(json.dumps(self.state))

    # -- interfaces -------------------------------------------------------------------------

    def interfaces(self):
        found = self._copy()["interfaces"]
        for iface in found:
            _derive(iface)
        return found

    def set_interface(self, token, changes):
        current = self.interface(token)
        self.check_changes(current, changes)
        state = self._copy()
        for iface in state["interfaces"]:
            if iface["token"] == token:
                _apply(iface, changes)
                if not iface["ipv4"]["enabled"] and not (iface["ipv6"] or {}).get("enabled"):
                    raise NetworkError("InvalidIPv4Address",
                                       "an interface needs IPv4 or IPv6 enabled")
        self.state = state
        self._save(changed=True)
        return False

    # -- host name, DNS, gateway ------------------------------------------------------------

    def hostname(self):
        return dict(self.state["hostname"])

    def set_hostname(self, name):
        self.state["hostname"] = {"from_dhcp": False, "name": name}
        self._save()

    def set_hostname_from_dhcp(self, on):
        self.state["hostname"]["from_dhcp"] = on is True
        self._save()
        return True

    def dns(self):
        dns = dict(self.state["dns"])
        dns["dhcp_servers"] = [DHCP_ROUTER] if dns["from_dhcp"] and self._on_dhcp() else []
        return dns

    def _on_dhcp(self):
        return [i for i in self.interfaces() if i["ipv4"]["from_dhcp"]] != []

    def set_dns(self, from_dhcp, search, manual):
        self.state["dns"] = {"from_dhcp": from_dhcp, "search": list(search),
                             "manual": list(manual)}
        self._save()

    def gateway(self):
        return {"ipv4": list(self.state["gateway"]["ipv4"]),
                "ipv6": list(self.state["gateway"]["ipv6"])}

    def set_gateway(self, ipv4, ipv6):
        self.state["gateway"] = {"ipv4": list(ipv4), "ipv6": list(ipv6)}
        self._save(changed=True)

    # -- zero configuration -----------------------------------------------------------------

    def set_zero_config(self, token, enabled):
        self.interface(token)
        for iface in self.state["interfaces"]:
            if iface["token"] == token:
                iface["ipv4"]["zero_config"] = enabled is True
        self._save(changed=True)

    def factory_reset(self, hard):
        if hard:
            self.state = self._defaults()
            self._save(changed=True)


def _apply(iface, changes):
    for key in ("enabled", "mtu"):
        if key in changes:
            iface[key] = changes[key]
    if "link" in changes and iface["link"] is not None:
        iface["link"] = dict(changes["link"])
    for family in ("ipv4", "ipv6"):
        if family in changes:
            iface[family].update(changes[family])
