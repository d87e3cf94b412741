"""The network backend interface (issue 8, checklist 6 and 8.3): what the device service asks
of the network, whichever owns it (hal/net/sim.py: a simulated interface set; linux: the
operating system; machine: a MicroPython board's `network` module).

Runtime-neutral. agent.network parses and validates requests and turns a NetworkError into
its SOAP fault; a backend only reads and applies, and checks what depends on the hardware
(`check_changes`: tokens, MTU, link speeds). hal/net/sim.py's `default_interface` shows every
field of the interface dict; `changes` holds only what a SetNetworkInterfaces gave:
{"enabled"?, "mtu"?, "link"?: {"auto", "speed", "duplex"}, "ipv4"?: {"enabled"?, "dhcp"?,
"manual"?}, "ipv6"?: {"enabled"?, "accept_router_advert"?, "dhcp"?, "manual"?}}, addresses as
[text, prefix length].
"""

MIN_MTU_IPV4 = 68      # RFC 791
MIN_MTU_IPV6 = 1280    # RFC 8200 §5
MAX_MTU = 9000         # jumbo frames, the largest common Ethernet hardware takes
ETHERNET, WIFI, LOOPBACK = 6, 71, 24   # IANA ifType


class NetworkError(Exception):
    """A change the backend refuses: `subcode` is the ONVIF fault subcode (e.g.
    "InvalidNetworkInterface"), None when the backend cannot apply changes at all."""

    def __init__(self, subcode, reason):
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason


class NetworkBackend:
    """Defaults of every backend; subclasses override what they can do."""

    kind = "none"
    can_apply = True             # False: every Set* answers Receiver/ActionNotSupported
    ipv6 = True
    zero_configuration = True    # reports (and switches) IPv4 link-local, RFC 3927
    hostname_from_dhcp = True
    dynamic_dns = False
    dot11 = False
    dhcpv6 = False               # stateful DHCPv6 (capability DHCPv6)
    max_mtu = MAX_MTU
    speeds = (10, 100, 1000)     # Mb/s a fixed (not auto-negotiated) link may be set to
    # Called with no argument after a change that moved the device's addresses (the CLI sets
    # it: discovery then says Hello, checklist 8.3 #11).
    on_change = None

    def interfaces(self):
        raise NotImplementedError

    def interface(self, token):
        """The interface dict of `token`, else NetworkError InvalidNetworkInterface."""
        for iface in self.interfaces():
            if iface["token"] == token:
                return iface
        raise NetworkError("InvalidNetworkInterface", "no network interface %r" % token)

    def check_changes(self, iface, changes):
        """Refuse what this hardware cannot take (8.3 #11's faults), before anything changes."""
        link = changes.get("link")
        # 802.11: a Link in Set is ignored (8.3 IEEE 802.11 rules).
        if link is not None and iface.get("type") != WIFI:
            if iface.get("link") is None:
                raise NetworkError("InvalidInterfaceType",
                                   "%s has no link settings" % iface["token"])
            if not link["auto"] and link["speed"] not in self.speeds:
                raise NetworkError("InvalidInterfaceSpeed", "speed must be one of %s Mb/s" % (
                    ", ".join(str(s) for s in self.speeds)))
        if "ipv6" in changes and iface.get("ipv6") is None:
            raise NetworkError("InvalidIPv6Address", "%s has no IPv6" % iface["token"])
        ipv6 = _merged(iface.get("ipv6"), changes.get("ipv6")).get("enabled")
        low = MIN_MTU_IPV6 if ipv6 else MIN_MTU_IPV4
        mtu = changes.get("mtu", iface.get("mtu"))
        if mtu is not None and ("mtu" in changes or "ipv6" in changes) and \
                not low <= mtu <= self.max_mtu:
            raise NetworkError("InvalidMtuValue", "MTU must be %d..%d%s" % (
                low, self.max_mtu, " with IPv6 on" if ipv6 else ""))

    def set_interface(self, token, changes):
        raise NetworkError(None, "network configuration is not supported")

    def hostname(self):
        raise NotImplementedError

    def set_hostname(self, name):
        raise NetworkError(None, "host name configuration is not supported")

    def set_hostname_from_dhcp(self, on):
        raise NetworkError(None, "host name from DHCP is not supported")

    def dns(self):
        return {"from_dhcp": False, "search": [], "dhcp_servers": [], "manual": []}

    def set_dns(self, from_dhcp, search, manual):
        raise NetworkError(None, "DNS configuration is not supported")

    def gateway(self):
        return {"ipv4": [], "ipv6": []}

    def set_gateway(self, ipv4, ipv6):
        raise NetworkError(None, "gateway configuration is not supported")

    def zero_config(self):
        """Link-local IPv4 per interface, read from the interface dicts."""
        out = []
        for iface in self.interfaces():
            v4 = iface.get("ipv4") or {}
            addresses = [a for a, _ in v4.get("link_local") or []]
            out.append({"token": iface["token"], "enabled": bool(addresses) or
                        v4.get("zero_config") is True, "addresses": addresses})
        return out

    def set_zero_config(self, token, enabled):
        raise NetworkError(None, "zero configuration is not supported")

    def dhcp_ntp_servers(self):
        return []

    def factory_reset(self, hard):
        """Hard: the network back to its defaults; soft keeps it (8.4 #8). The OS-owned
        backends keep their network either way."""

    def close(self):
        pass


def _merged(current, changes):
    merged = dict(current or {})
    merged.update(changes or {})
    return merged
