"""A fake of MicroPython's `network` module (WLAN, LAN, hostname) for hal.net.machine's tests.

Portable: passed to MachineNetwork as its `network_module` on CPython and inside MicroPython's
WebAssembly build alike (neither has a real one). It keeps what the backend relies on:
`ifconfig()` returns the (address, netmask, gateway, dns) 4-tuple and `ifconfig(tuple)` sets it,
`config("mac")` is bytes, `hostname()` reads and `hostname(name)` sets, and the station's
`connect(ssid, key)` (agent.boot) joins when `reachable`. Each `Network()` is a fresh module;
tests see what was applied (`Nic.applied`, `Nic.joined`).
"""

STA_IF = 0
DHCP_LEASE = ("192.168.4.20", "255.255.255.0", "192.168.4.1", "192.168.4.1")


class Nic:
    """One interface: what WLAN(STA_IF) or LAN() returns."""

    def __init__(self, mac, ifconfig=DHCP_LEASE):
        self.mac = mac
        self.settings = ifconfig
        self.on = True
        self.connected = True
        self.applied = []  # every ifconfig(tuple) call, in order
        self.joined = []   # every connect(ssid, key) call, in order
        self.reachable = True  # whether connect() reaches the access point

    def active(self, on=None):
        if on is None:
            return self.on
        self.on = bool(on)
        return None

    def isconnected(self):
        return self.connected

    def connect(self, ssid, key):
        self.joined.append((ssid, key))
        self.connected = self.reachable

    def status(self):
        return 1010 if self.connected else 201  # CYW43's STAT_GOT_IP, ESP32's NO_AP_FOUND

    def config(self, name):
        if name != "mac":
            raise ValueError("unknown config param")
        return self.mac

    def ifconfig(self, settings=None):
        if settings is None:
            return self.settings
        if not isinstance(settings, tuple) or len(settings) != 4:
            raise TypeError("ifconfig takes a 4-tuple")
        self.settings = settings
        self.applied.append(settings)
        return None


class Network:
    """A fresh fake module. `lan`: None (no LAN class), "plain" (LAN() works: a wired port),
    "needs-phy" (LAN() raises TypeError, as on an ESP32). `hostname`: None for a firmware
    without network.hostname()."""

    STA_IF = STA_IF

    def __init__(self, lan=None, hostname="mpy-door"):
        self.wlan = Nic(b"\x24\x0a\xc4\x00\x00\x01")
        self.lan = Nic(b"\x02\x00\x00\x00\x00\x02", ("10.0.0.5", "255.0.0.0", "10.0.0.1",
                                                      "10.0.0.53"))
        self.name = hostname
        if lan == "plain":
            self.LAN = lambda: self.lan
        elif lan == "needs-phy":
            self.LAN = self._lan_needs_phy
        if hostname is not None:
            self.hostname = self._hostname

    def WLAN(self, interface):
        if interface != STA_IF:
            raise ValueError("only the station interface is faked")
        return self.wlan

    def _lan_needs_phy(self, **pins):
        raise TypeError("function missing required keyword arguments")

    def _hostname(self, name=None):
        if name is None:
            return self.name
        self.name = name
        return None
