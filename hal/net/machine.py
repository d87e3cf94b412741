"""The `machine` network backend: a MicroPython board's own interfaces, through the firmware's
`network` module (ESP32, Raspberry Pi Pico W, ...).

Runtime-neutral: it runs on the board. Interfaces: the Wi-Fi station `WLAN(STA_IF)` as "wlan0"
(type 71, no Link: 802.11 settings are not offered) where the port has one, and a wired `LAN()`
as "eth0" (type 6) where the port makes one without arguments (an ESP32's LAN needs its PHY's
pins, which no board file gives). IPv4 only: `ifconfig()` gives address, netmask, gateway and DNS
server, `config("mac")` the MAC address; the MTU is lwIP's fixed 1500. No IPv6, no link-local
addresses, no hostname from DHCP; the host name through `network.hostname()` where the port has it.

Changes (checklist 8.3) go through `ifconfig((address, netmask, gateway, dns))`; the firmware
starts on DHCP. What the agent set is kept in STATE/network.json and applied again by the
constructor, which runs at every boot when the board's main.py builds the agent, so a setting
survives a reset; hard factory default empties the file (DHCP again after the restart).
A change that keeps the interface's address (gateway, DNS, turning the DHCP address into a manual
one) is applied at once. A change of address, or DHCP back on, is stored and answered
RebootNeeded: lwIP aborts every TCP connection bound to the old address, which would drop the
response to the very request that asked for it; the client reboots the device (SystemReboot).
"""


from agent.settings import StateFile
from hal.net.base import NetworkBackend, NetworkError

FILENAME = "network.json"
MTU = 1500             # lwIP's Ethernet and Wi-Fi MTU; MicroPython offers no way to change it
WIFI, ETHERNET = 71, 6  # IANA ifType
NO_ADDRESS = "0.0.0.0"  # what ifconfig() shows for a field not set (no lease yet, no gateway)


def prefix_of(netmask):
    """24 for "255.255.255.0"."""
    return sum(bin(int(part)).count("1") for part in netmask.split("."))


def netmask_of(prefix):
    """"255.255.255.0" for 24."""
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((bits >> shift) & 255) for shift in (24, 16, 8, 0))


def find_interfaces(network):
    """(token, IANA type, interface object) of the interfaces the firmware has."""
    found = []
    wlan = getattr(network, "WLAN", None)
    if wlan is not None:
        station = getattr(network, "STA_IF", None)
        found.append(("wlan0", WIFI, wlan(wlan.IF_STA if station is None else station)))
    lan = getattr(network, "LAN", None)
    if lan is not None:
        try:
            found.append(("eth0", ETHERNET, lan()))
        except (TypeError, ValueError, OSError):
            pass  # this port's LAN needs its PHY described (ESP32)
    return found


def _unique(addresses):
    found = []
    for address in addresses:
        if address != NO_ADDRESS and address not in found:
            found.append(address)
    return found


class MachineNetwork(NetworkBackend):
    kind = "machine"
    ipv6 = False
    zero_configuration = False
    hostname_from_dhcp = False
    dynamic_dns = False
    dot11 = False

    def __init__(self, board, state_dir, network_module=None):
        if network_module is None:
            try:
                import network as network_module
            except ImportError:  # a port without networking: nothing to report or change
                network_module = None
        self.network = network_module
        self.saved = StateFile(state_dir and state_dir + "/" + FILENAME, "network state file")
        self.nics = find_interfaces(network_module) if network_module is not None else []
        self.can_apply = bool(self.nics)
        self._apply_saved()

    def _apply_saved(self):
        """At boot: what the agent set before the last reset."""
        name = self.saved.get("hostname")
        if name and hasattr(self.network, "hostname"):
            self.network.hostname(name)
        for token, _, nic in self.nics:
            config = self._static(token)
            if config:
                nic.ifconfig(tuple(config))

    def _static(self, token):
        """[address, netmask, gateway, dns] the agent set on `token`, or None (DHCP)."""
        return self.saved.get("static", {}).get(token)

    def _save_static(self, token, config):
        static = dict(self.saved.get("static", {}))
        if config is None:
            static.pop(token, None)
        else:
            static[token] = config
        self.saved.update(static=static)

    def _find(self, token):
        """(token, type, interface object) of interface `token`."""
        for found in self.nics:
            if found[0] == token:
                return found
        raise NetworkError("InvalidNetworkInterface", "no network interface %r" % (token,))

    # -- reading -------------------------------------------------------------------------------

    def interfaces(self):
        return [self._interface(token, kind, nic) for token, kind, nic in self.nics]

    def _interface(self, token, kind, nic):
        address, netmask = nic.ifconfig()[:2]
        static = self._static(token)
        learned = None if static or address == NO_ADDRESS else [address, prefix_of(netmask)]
        return {"token": token, "enabled": bool(nic.active()), "name": token,
                "hw_address": ":".join("%02x" % b for b in nic.config("mac")), "mtu": MTU,
                "type": kind, "link": None, "oper": None, "up": bool(nic.isconnected()),
                "ipv4": {"enabled": True, "dhcp": static is None,
                         "manual": [[static[0], prefix_of(static[1])]] if static else [],
                         "link_local": [], "from_dhcp": learned},
                "ipv6": None}

    def hostname(self):
        name = self.network.hostname() if hasattr(self.network, "hostname") else ""
        return {"from_dhcp": False, "name": name}

    def dns(self):
        static = list(self.saved.get("static", {}).values())
        if static:
            return {"from_dhcp": False, "search": [], "dhcp_servers": [],
                    "manual": _unique([config[3] for config in static])}
        return {"from_dhcp": True, "search": [], "manual": [],
                "dhcp_servers": _unique([nic.ifconfig()[3] for _, _, nic in self.nics])}

    def gateway(self):
        return {"ipv4": _unique([nic.ifconfig()[2] for _, _, nic in self.nics]), "ipv6": []}

    def zero_config(self):
        return []

    def dhcp_ntp_servers(self):
        return []  # MicroPython's DHCP client keeps no NTP option

    # -- changing ------------------------------------------------------------------------------

    def set_interface(self, token, changes):
        _, kind, nic = self._find(token)
        if changes.get("enabled") is False:
            raise NetworkError(None, "switching %s off would leave the board unreachable" % token)
        if changes.get("mtu", MTU) != MTU:
            raise NetworkError("InvalidMtuValue", "the MTU of %s is fixed at %d" % (token, MTU))
        if "link" in changes and kind != WIFI:  # 802.11: a Link in Set is ignored (8.3)
            raise NetworkError("InvalidInterfaceType", "%s has no link settings" % token)
        ipv6 = changes.get("ipv6")
        if ipv6 is not None and ipv6.get("enabled", True):
            raise NetworkError(None, "this board has no IPv6")
        ipv4 = changes.get("ipv4", {})
        if ipv4.get("enabled") is False:
            raise NetworkError(None, "IPv4 is this board's only protocol")
        static = self._static(token)
        current = list(nic.ifconfig())
        manual = ipv4.get("manual") or []
        if ipv4.get("dhcp", static is None):
            if manual:
                raise NetworkError(None, "%s has either DHCP or one manual address" % token)
            if static is None:
                return False
            self._save_static(token, None)
            return True  # the firmware starts on DHCP at the next boot
        base = static or current
        if not manual:  # DHCP off without an address: the one in use stays, as a manual one
            manual = [[base[0], prefix_of(base[1])]] if base[0] != NO_ADDRESS else []
        if len(manual) != 1:
            raise NetworkError("InvalidIPv4Address", "%s takes one manual IPv4 address" % token)
        config = [manual[0][0], netmask_of(manual[0][1]), base[2], base[3]]
        self._save_static(token, config)
        if config[:2] != current[:2]:
            return True
        nic.ifconfig(tuple(config))
        return False

    def _edit_static(self, index, value, what):
        """Set field `index` of every manual interface's ifconfig, at once (the addresses stay)."""
        tokens = [token for token, _, _ in self.nics if self._static(token)]
        if not tokens:
            raise NetworkError(None, "%s comes from DHCP: give an interface a manual address "
                                     "first" % what)
        for token in tokens:
            config = list(self._static(token))
            config[index] = value
            self._save_static(token, config)
            self._find(token)[2].ifconfig(tuple(config))

    def set_gateway(self, ipv4, ipv6):
        if ipv6:
            raise NetworkError(None, "this board has no IPv6")
        if len(ipv4) > 1:
            raise NetworkError("InvalidGatewayAddress", "this board has one IPv4 gateway")
        self._edit_static(2, ipv4[0] if ipv4 else NO_ADDRESS, "the gateway")

    def set_dns(self, from_dhcp, search, manual):
        if search:
            raise NetworkError(None, "this board has no DNS search domains")
        if from_dhcp:
            if self.saved.get("static"):
                raise NetworkError(None, "DNS from DHCP needs DHCP on the interface")
            return
        if len(manual) > 1 or [address for address in manual if ":" in address]:
            raise NetworkError(None, "this board has one IPv4 DNS server")
        self._edit_static(3, manual[0] if manual else NO_ADDRESS, "DNS")

    def set_hostname(self, name):
        if not hasattr(self.network, "hostname"):
            raise NetworkError(None, "this firmware cannot set the host name")
        self.network.hostname(name)
        self.saved.update(hostname=name)

    def set_hostname_from_dhcp(self, on):
        raise NetworkError(None, "MicroPython takes no host name from DHCP")

    def set_zero_config(self, token, enabled):
        raise NetworkError(None, "MicroPython has no IPv4 link-local addresses")

    def factory_reset(self, hard):
        """Hard: DHCP and the firmware's host name after the restart; soft keeps the network
        (checklist 8.4 #8)."""
        if hard:
            self.saved.replace({})

    def close(self):
        pass
