"""The network backend contract (checklist 8.3): what every board's network backend offers.

Runtime-neutral. This is the shared contract only; the network service codes against it.
"""


class NetworkError(Exception):
    """A network change the backend refuses: `subcode` an ONVIF fault subcode such as
    "InvalidNetworkInterface", or None for "cannot apply" (answered ActionNotSupported)."""

    def __init__(self, subcode, reason):
        super().__init__(subcode, reason)
        self.subcode = subcode
        self.reason = reason


class NetworkBackend:
    kind = "sim"
    can_apply = True
    ipv6 = True
    zero_configuration = True
    hostname_from_dhcp = True
    dynamic_dns = False
    dot11 = False
