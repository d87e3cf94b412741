"""The shape every network backend's answers have (the contract in hal/net/base.py).

`check_backend(test, backend)` asks a backend every Get-side question and checks each answer's
keys and value types with `test`'s asserts, so the network service can rely on them whatever the
board. Portable: the `machine` backend is checked inside MicroPython with it.
"""

from hal.net.base import NetworkBackend

INTERFACE_KEYS = ("token", "enabled", "name", "hw_address", "mtu", "type", "link", "oper", "up",
                  "ipv4", "ipv6")
IPV4_KEYS = ("enabled", "dhcp", "manual", "link_local", "from_dhcp")
IPV6_KEYS = ("enabled", "dhcp", "accept_router_advert", "manual", "link_local", "from_dhcp",
             "from_ra")
IPV6_DHCP = ("Off", "Auto", "Stateful", "Stateless")
LINK_KEYS = ("auto", "speed", "duplex")
FLAGS = ("can_apply", "ipv6", "zero_configuration", "hostname_from_dhcp", "dynamic_dns", "dot11")


def _keys(test, record, keys, what):
    """Every key of the contract is there (a backend may keep more of its own)."""
    test.assertIsInstance(record, dict)
    for key in keys:
        test.assertIn(key, record, what)


def _strings(test, values, what):
    test.assertIsInstance(values, list)
    for value in values:
        test.assertIsInstance(value, str)
        test.assertTrue(value, what)


def _prefixed(test, address, family, what):
    """[address, prefix] of one family: IPv4 has dots, IPv6 colons."""
    test.assertIsInstance(address, list)
    test.assertEqual(len(address), 2, what)
    test.assertIsInstance(address[0], str)
    test.assertIsInstance(address[1], int)
    test.assertTrue(("." if family == 4 else ":") in address[0], what)
    test.assertTrue(0 <= address[1] <= (32 if family == 4 else 128), what)


def _prefixed_list(test, addresses, family, what):
    test.assertIsInstance(addresses, list)
    for address in addresses:
        _prefixed(test, address, family, what)


def _link(test, link, what):
    if link is None:
        return
    _keys(test, link, LINK_KEYS, what)
    test.assertIsInstance(link["auto"], bool)
    test.assertIsInstance(link["speed"], int)
    test.assertIn(link["duplex"], ("Full", "Half"))


def check_interface(test, interface):
    """One interface dict of `interfaces()`."""
    what = "interface %r" % interface.get("token")
    _keys(test, interface, INTERFACE_KEYS, what)
    for key in ("token", "name", "hw_address"):
        test.assertIsInstance(interface[key], str)
    test.assertTrue(interface["token"], what)
    for key in ("enabled", "up"):
        test.assertIsInstance(interface[key], bool)
    for key in ("mtu", "type"):
        test.assertIsInstance(interface[key], int)
    _link(test, interface["link"], what + " link")
    _link(test, interface["oper"], what + " oper")
    ipv4 = interface["ipv4"]
    _keys(test, ipv4, IPV4_KEYS, what + " ipv4")
    test.assertIsInstance(ipv4["enabled"], bool)
    test.assertIsInstance(ipv4["dhcp"], bool)
    _prefixed_list(test, ipv4["manual"], 4, what)
    _prefixed_list(test, ipv4["link_local"], 4, what)
    if ipv4["from_dhcp"] is not None:
        _prefixed(test, ipv4["from_dhcp"], 4, what)
    ipv6 = interface["ipv6"]
    if ipv6 is not None:
        _keys(test, ipv6, IPV6_KEYS, what + " ipv6")
        test.assertIsInstance(ipv6["enabled"], bool)
        test.assertIsInstance(ipv6["accept_router_advert"], bool)
        test.assertIn(ipv6["dhcp"], IPV6_DHCP)
        for key in ("manual", "link_local", "from_dhcp", "from_ra"):
            _prefixed_list(test, ipv6[key], 6, what)


def check_backend(test, backend):
    """Every Get-side answer of `backend`; returns its interfaces for further checks."""
    test.assertIsInstance(backend, NetworkBackend)
    test.assertIn(backend.kind, ("sim", "linux", "machine"))
    for flag in FLAGS:
        test.assertIsInstance(getattr(backend, flag), bool)
    interfaces = backend.interfaces()
    test.assertIsInstance(interfaces, list)
    tokens = []
    for interface in interfaces:
        check_interface(test, interface)
        test.assertTrue(interface["token"] not in tokens, "token used twice")
        tokens.append(interface["token"])
        if not backend.ipv6:
            test.assertIsNone(interface["ipv6"])
    hostname = backend.hostname()
    _keys(test, hostname, ("from_dhcp", "name"), "hostname")
    test.assertIsInstance(hostname["from_dhcp"], bool)
    test.assertIsInstance(hostname["name"], str)
    dns = backend.dns()
    _keys(test, dns, ("from_dhcp", "search", "dhcp_servers", "manual"), "dns")
    test.assertIsInstance(dns["from_dhcp"], bool)
    for key in ("search", "dhcp_servers", "manual"):
        _strings(test, dns[key], "dns " + key)
    gateway = backend.gateway()
    _keys(test, gateway, ("ipv4", "ipv6"), "gateway")
    _strings(test, gateway["ipv4"], "gateway ipv4")
    _strings(test, gateway["ipv6"], "gateway ipv6")
    for entry in backend.zero_config():
        _keys(test, entry, ("token", "enabled", "addresses"), "zero_config")
        test.assertIn(entry["token"], tokens)
        test.assertIsInstance(entry["enabled"], bool)
        _strings(test, entry["addresses"], "zero_config addresses")
    _strings(test, backend.dhcp_ntp_servers(), "dhcp_ntp_servers")
    return interfaces
