"""The network operations of the device service (checklist 8.3 #1-#17 and #22, issue 8).

A cold group (agent.services.ColdGroup) of agent.services.device.DeviceService, loaded
when one of its operations is called, over `device.network`, the board's network
backend (hal.net); the rules every backend shares (validation, faults) live in agent.network.
Without a backend (a Device built bare, as older tests do) the Get* operations report what the
agent itself knows (the host name, no interfaces) and every Set* is ActionNotSupported.
NTP servers are the agent's own settings (`ntp_servers`, `ntp_from_dhcp`), read by the clock
and the NTP client; the listening ports are the CLI's `device.protocols` (agent.protocols).
"""

from .. import network
from ..clock import MAX_NTP_SERVERS, NTP_FROM_DHCP, NTP_SERVERS
from ..soap import SoapFault, sender
from . import TT, ColdGroup, parse_boolean, required
from .deviceio import TDS, empty_response


def _boolean_response(name, value):
    def write(w):
        w.start(TDS, name)
        w.leaf(TDS, "RebootNeeded", value is True)
        w.end()
    return write


def _write_prefixed(w, name, entries):
    for address, length in entries:
        w.start(TT, name)
        w.leaf(TT, "Address", address)
        w.leaf(TT, "PrefixLength", length)
        w.end()


def _write_link_setting(w, name, link):
    w.start(TT, name)
    w.leaf(TT, "AutoNegotiation", link["auto"])
    w.leaf(TT, "Speed", link["speed"])
    w.leaf(TT, "Duplex", link["duplex"])
    w.end()


def write_interface(w, iface):
    """tt:NetworkInterface, children in schema order: Enabled, Info, Link, IPv4, IPv6."""
    w.start(TDS, "NetworkInterfaces", attrs=[("token", iface["token"])])
    w.leaf(TT, "Enabled", iface["enabled"])
    w.start(TT, "Info")
    if iface.get("name"):
        w.leaf(TT, "Name", iface["name"])
    w.leaf(TT, "HwAddress", iface["hw_address"])
    if iface.get("mtu") is not None:
        w.leaf(TT, "MTU", iface["mtu"])
    w.end()
    link = iface.get("link")
    if link is not None:  # both settings are required once Link is present
        w.start(TT, "Link")
        _write_link_setting(w, "AdminSettings", link)
        # OperSettings is required: while the link is down it repeats the admin settings.
        _write_link_setting(w, "OperSettings", iface.get("oper") or link)
        w.leaf(TT, "InterfaceType", iface["type"])
        w.end()
    v4 = iface.get("ipv4")
    if v4 is not None:
        w.start(TT, "IPv4")
        w.leaf(TT, "Enabled", v4["enabled"])
        w.start(TT, "Config")
        _write_prefixed(w, "Manual", v4["manual"])
        _write_prefixed(w, "LinkLocal", v4["link_local"][:1])  # the schema allows one
        if v4.get("from_dhcp"):
            _write_prefixed(w, "FromDHCP", [v4["from_dhcp"]])
        w.leaf(TT, "DHCP", v4["dhcp"])
        w.end()
        w.end()
    v6 = iface.get("ipv6")
    if v6 is not None:
        w.start(TT, "IPv6")
        w.leaf(TT, "Enabled", v6["enabled"])
        w.start(TT, "Config")
        w.leaf(TT, "AcceptRouterAdvert", v6["accept_router_advert"])
        w.leaf(TT, "DHCP", v6["dhcp"])
        for name, key in (("Manual", "manual"), ("LinkLocal", "link_local"),
                          ("FromDHCP", "from_dhcp"), ("FromRA", "from_ra")):
            _write_prefixed(w, name, v6[key])
        w.end()
        w.end()
    if link is None:  # no Link: the interface type goes in the extension (tt:InterfaceType)
        w.start(TT, "Extension")
        w.leaf(TT, "InterfaceType", iface["type"])
        w.end()
    w.end()


def _write_address(w, name, address):
    """tt:IPAddress (DNS servers)."""
    kind = "IPv6" if ":" in address else "IPv4"
    w.start(TT, name)
    w.leaf(TT, "Type", kind)
    w.leaf(TT, kind + "Address", address)
    w.end()


def _write_host(w, name, server):
    """tt:NetworkHost (NTP servers)."""
    kind = network.host_kind(server)
    w.start(TT, name)
    w.leaf(TT, "Type", kind)
    w.leaf(TT, "DNSname" if kind == "DNS" else kind + "Address", server)
    w.end()


def _token(request):
    return (required(request, TDS, "InterfaceToken").text or "").strip()


class NetworkOperations(ColdGroup):
    """Host name, DNS, NTP, interfaces, protocols, gateway, zero configuration, 802.11."""

    def _applying(self):
        return network.applying(self.backend)

    # -- 8.3 #1-#3 host name ---------------------------------------------------------------

    def GetHostname(self, request, ctx):
        b = self.backend
        info = b.hostname() if b is not None else {"from_dhcp": False,
                                                   "name": self.device.hostname()}

        def write(w):
            w.start(TDS, "GetHostnameResponse")
            w.start(TDS, "HostnameInformation")
            w.leaf(TT, "FromDHCP", info["from_dhcp"])
            if info["name"]:  # empty Name when none is assigned (8.3 #1)
                w.leaf(TT, "Name", info["name"])
            w.end()
            w.end()
        return write

    def SetHostname(self, request, ctx):
        name = (required(request, TDS, "Name").text or "").strip()
        backend = self._applying()
        # 8.3 #2: an empty name keeps the one DHCP gives, when it gives one.
        if not (name == "" and backend.hostname_from_dhcp and backend.hostname()["from_dhcp"]):
            network.apply(backend.set_hostname, network.check_hostname(name))
        return empty_response(TDS, "SetHostnameResponse")

    def SetHostnameFromDHCP(self, request, ctx):
        on = parse_boolean(required(request, TDS, "FromDHCP").text, "FromDHCP")
        backend = self._applying()
        if not backend.hostname_from_dhcp:
            raise SoapFault("Receiver", "ActionNotSupported",
                            reason="the host name cannot come from DHCP on this device")
        reboot = network.apply(backend.set_hostname_from_dhcp, on)
        return _boolean_response("SetHostnameFromDHCPResponse", reboot)

    # -- 8.3 #4, #5 DNS -----------------------------------------------------------------------

    def GetDNS(self, request, ctx):
        b = self.backend
        dns = b.dns() if b is not None else {"from_dhcp": False, "search": [],
                                             "dhcp_servers": [], "manual": []}

        def write(w):
            w.start(TDS, "GetDNSResponse")
            w.start(TDS, "DNSInformation")
            w.leaf(TT, "FromDHCP", dns["from_dhcp"])
            for domain in dns["search"]:
                w.leaf(TT, "SearchDomain", domain)
            for address in dns["dhcp_servers"]:
                _write_address(w, "DNSFromDHCP", address)
            for address in dns["manual"]:
                _write_address(w, "DNSManual", address)
            w.end()
            w.end()
        return write

    def SetDNS(self, request, ctx):
        # 8.3 #5: FromDHCP may be true even while no interface uses DHCP.
        from_dhcp = parse_boolean(required(request, TDS, "FromDHCP").text, "FromDHCP")
        search = []
        for element in request.findall(TDS, "SearchDomain"):
            domain = (element.text or "").strip()
            if not network.is_dns_name(domain):
                raise sender("InvalidArgVal", reason="SearchDomain is not a DNS name")
            search.append(domain)
        manual = [network.parse_ip_address(e) for e in request.findall(TDS, "DNSManual")]
        network.bounded(search, network.MAX_SEARCH_DOMAINS, "search domains")
        network.bounded(manual, network.MAX_DNS_SERVERS, "DNS servers")
        backend = self._applying()
        network.apply(backend.set_dns, from_dhcp, search, manual)
        return empty_response(TDS, "SetDNSResponse")

    # -- 8.3 #6, #7 NTP (agent settings; the NTP client reads them) -----------------------

    def GetNTP(self, request, ctx):
        settings = self.device.settings
        from_dhcp = settings.get(NTP_FROM_DHCP, False) is True
        b = self.backend
        from_server = b.dhcp_ntp_servers() if from_dhcp and b is not None else []
        manual = settings.get(NTP_SERVERS) or []

        def write(w):
            w.start(TDS, "GetNTPResponse")
            w.start(TDS, "NTPInformation")
            w.leaf(TT, "FromDHCP", from_dhcp)
            for server in from_server:
                _write_host(w, "NTPFromDHCP", server)
            for server in manual:
                _write_host(w, "NTPManual", server)
            w.end()
            w.end()
        return write

    def SetNTP(self, request, ctx):
        from_dhcp = parse_boolean(required(request, TDS, "FromDHCP").text, "FromDHCP")
        servers = []
        for element in request.findall(TDS, "NTPManual"):
            server = network.parse_network_host(element)
            if server not in servers:
                servers.append(server)
        network.bounded(servers, MAX_NTP_SERVERS, "NTP servers")
        b = self.backend
        dhcp_servers = b.dhcp_ntp_servers() if from_dhcp and b is not None else []
        # 8.3 #7: the clock runs on NTP, so it must keep a server (SetSystemDateAndTime
        # switches it to Manual first).
        if self.device.time.mode == "NTP" and not servers and not dhcp_servers:
            raise sender("InvalidArgVal", "TimeSyncedToNtp",
                         reason="the clock is synchronised by NTP: it needs a server")
        self.device.settings.update(**{NTP_SERVERS: servers, NTP_FROM_DHCP: from_dhcp})
        ntp = getattr(self.device, "ntp", None)
        if ntp is not None:
            ntp.sync_now()
        return empty_response(TDS, "SetNTPResponse")

    # -- 8.3 #10, #11 interfaces -----------------------------------------------------------

    def GetNetworkInterfaces(self, request, ctx):
        b = self.backend
        if b is None:  # the response needs one interface at least (schema minOccurs 1)
            raise SoapFault("Receiver", "ActionNotSupported",
                            reason="this device reports no network interfaces")
        interfaces = b.interfaces()

        def write(w):
            w.start(TDS, "GetNetworkInterfacesResponse")
            for iface in interfaces:
                write_interface(w, iface)
            w.end()
        return write

    def SetNetworkInterfaces(self, request, ctx):
        token = _token(request)
        backend = self._applying()
        changes = network.parse_interface_changes(required(request, TDS, "NetworkInterface"),
                                                  backend)
        network.check_dhcpv6(changes, backend.dhcpv6)
        network.apply(backend.interface, token)
        reboot = network.apply(backend.set_interface, token, changes)
        return _boolean_response("SetNetworkInterfacesResponse", reboot)

    # -- 8.3 #12, #13 protocols (agent.protocols) ------------------------------------------

    def GetNetworkProtocols(self, request, ctx):
        # Checklist 8.3 #12: only the protocols that exist; HTTPS where TLS is available.
        protocols = self.protocol_list()

        def write(w):
            w.start(TDS, "GetNetworkProtocolsResponse")
            for name, enabled, port in protocols:
                w.start(TDS, "NetworkProtocols")
                w.leaf(TT, "Name", name)
                w.leaf(TT, "Enabled", enabled)
                w.leaf(TT, "Port", port)
                w.end()
            w.end()
        return write

    def protocol_list(self):
        """(name, enabled, port) of HTTP and, where TLS is available, HTTPS."""
        hook = getattr(self.device, "protocols", None)
        if hook is not None:
            return hook.current()
        found = [("HTTP", True, self.device.http_port)]
        if self.device.https_port is not None:
            found.append(("HTTPS", True, self.device.https_port))
        return found

    def SetNetworkProtocols(self, request, ctx):
        hook = getattr(self.device, "protocols", None)
        if hook is None:
            raise SoapFault("Receiver", "ActionNotSupported",
                            reason="the listening ports are fixed on this device")
        wanted = {}
        for element in request.findall(TDS, "NetworkProtocols"):
            name = (required(element, TT, "Name").text or "").strip()
            enabled = parse_boolean(required(element, TT, "Enabled").text, "Enabled")
            ports = [(p.text or "").strip() for p in element.findall(TT, "Port")]
            wanted[name] = (enabled, ports)
        if not wanted:
            raise sender("InvalidArgs", reason="missing NetworkProtocols")
        hook.apply(wanted)
        return empty_response(TDS, "SetNetworkProtocolsResponse")

    # -- 8.3 #14, #15 default gateway ------------------------------------------------------

    def GetNetworkDefaultGateway(self, request, ctx):
        b = self.backend
        gateway = b.gateway() if b is not None else {"ipv4": [], "ipv6": []}

        def write(w):
            w.start(TDS, "GetNetworkDefaultGatewayResponse")
            w.start(TDS, "NetworkGateway")
            for address in gateway["ipv4"]:
                w.leaf(TT, "IPv4Address", address)
            for address in gateway["ipv6"]:
                w.leaf(TT, "IPv6Address", address)
            w.end()
            w.end()
        return write

    def SetNetworkDefaultGateway(self, request, ctx):
        found = []
        for name, version in (("IPv4Address", 4), ("IPv6Address", 6)):
            found.append(network.bounded(
                [network.parse_gateway(e.text, version) for e in request.findall(TDS, name)],
                network.MAX_GATEWAYS, "IPv%d gateways" % version))
        backend = self._applying()
        if found[1] and not backend.ipv6:
            raise sender("InvalidArgVal", "InvalidIPv6Address", reason="this device has no IPv6")
        network.apply(backend.set_gateway, found[0], found[1])
        return empty_response(TDS, "SetNetworkDefaultGatewayResponse")

    # -- 8.3 #16, #17 zero configuration ---------------------------------------------------

    def GetZeroConfiguration(self, request, ctx):
        b = self.backend
        if b is None or not b.zero_configuration:
            raise SoapFault("Receiver", "ActionNotSupported",
                            reason="no IPv4 link-local configuration on this device")
        entries = b.zero_config()
        if not entries:
            raise SoapFault("Receiver", "ActionNotSupported", reason="no network interface")

        def write_entry(w, entry):
            w.leaf(TT, "InterfaceToken", entry["token"])
            w.leaf(TT, "Enabled", entry["enabled"])
            for address in entry["addresses"]:
                w.leaf(TT, "Addresses", address)

        def write(w):
            # The first interface, the others in Extension/Additional (tt schema).
            w.start(TDS, "GetZeroConfigurationResponse")
            w.start(TDS, "ZeroConfiguration")
            write_entry(w, entries[0])
            if len(entries) > 1:
                w.start(TT, "Extension")
                for entry in entries[1:]:
                    w.start(TT, "Additional")
                    write_entry(w, entry)
                    w.end()
                w.end()
            w.end()
            w.end()
        return write

    def SetZeroConfiguration(self, request, ctx):
        token = _token(request)
        enabled = parse_boolean(required(request, TDS, "Enabled").text, "Enabled")
        backend = self._applying()
        if not backend.zero_configuration:
            raise SoapFault("Receiver", "ActionNotSupported",
                            reason="no IPv4 link-local configuration on this device")
        network.apply(backend.interface, token)
        network.apply(backend.set_zero_config, token, enabled)
        return empty_response(TDS, "SetZeroConfigurationResponse")

    # -- 8.3 #22 IEEE 802.11: no backend has Wi-Fi configuration yet -----------------------

    def _no_dot11(self, request, ctx):
        raise SoapFault("Receiver", "ActionNotSupported", "InvalidDot11",
                        reason="this device has no IEEE 802.11 configuration")

    GetDot11Capabilities = GetDot11Status = ScanAvailableDot11Networks = _no_dot11
