"""The IP address filter operations of the device service (checklist 8.3 #18-#21, issue 8).

A cold group (agent.services.ColdGroup) of agent.services.device.DeviceService; the rules and
faults live in agent.ipfilter. The filter lives in the device's settings, which the HTTP
servers' own IPFilter reads on every accepted connection, so a change here applies to the next
connection.
"""

from ..ipfilter import IPFilter
from . import TT, ColdGroup, required
from .deviceio import TDS, empty_response


def _entries(request_filter, name):
    """(Address, PrefixLength) texts of the tt:PrefixedIPv4/6Address children `name`; a missing
    PrefixLength is left for agent.ipfilter to refuse as an invalid address."""
    return [(e.findtext(TT, "Address"), e.findtext(TT, "PrefixLength"))
            for e in request_filter.findall(TT, name)]


def _parse(request):
    """(Type text, IPv4 entries, IPv6 entries) of the request's tds:IPAddressFilter."""
    request_filter = required(request, TDS, "IPAddressFilter")
    kind = required(request_filter, TT, "Type").text or ""
    return (kind.strip(), _entries(request_filter, "IPv4Address"),
            _entries(request_filter, "IPv6Address"))


class IPFilterOperations(ColdGroup):
    """GetIPAddressFilter, SetIPAddressFilter, AddIPAddressFilter, RemoveIPAddressFilter."""

    def GetIPAddressFilter(self, request, ctx):
        kind, ipv4, ipv6 = IPFilter(self.device.settings).entries()

        def write(w):
            w.start(TDS, "GetIPAddressFilterResponse")
            w.start(TDS, "IPAddressFilter")
            w.leaf(TT, "Type", kind)
            for name, entries in (("IPv4Address", ipv4), ("IPv6Address", ipv6)):
                for address, length in entries:
                    w.start(TT, name)
                    w.leaf(TT, "Address", address)
                    w.leaf(TT, "PrefixLength", length)
                    w.end()
            w.end()
            w.end()
        return write

    def SetIPAddressFilter(self, request, ctx):
        IPFilter(self.device.settings).set(*_parse(request))
        return empty_response(TDS, "SetIPAddressFilterResponse")

    def AddIPAddressFilter(self, request, ctx):
        _, ipv4, ipv6 = _parse(request)  # Type is ignored (checklist 8.3 #20)
        IPFilter(self.device.settings).add(ipv4, ipv6)
        return empty_response(TDS, "AddIPAddressFilterResponse")

    def RemoveIPAddressFilter(self, request, ctx):
        _, ipv4, ipv6 = _parse(request)  # Type is ignored (checklist 8.3 #21)
        IPFilter(self.device.settings).remove(ipv4, ipv6)
        return empty_response(TDS, "RemoveIPAddressFilterResponse")
