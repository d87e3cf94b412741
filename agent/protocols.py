"""The device's listening HTTP and HTTPS sockets, which SetNetworkProtocols moves and turns on
or off (checklist 8.3 #12, #13; issue 8).

Rules:
- HTTP and HTTPS only: RTSP (no media here) or any other name is Sender/InvalidArgVal/
  ServiceNotSupported; HTTPS only where TLS is available (a certificate and the ssl module),
  else enabling it is Receiver/ActionNotSupported/EnablingTlsFailed.
- One port per protocol (1..65535); HTTP and HTTPS on one port is PortAlreadyInUse.
- HTTP off while HTTPS is off would lock every client out: refused (InvalidArgVal).
- The new sockets are bound first, IPv6 twins included; a bind failure is
  Sender/InvalidArgVal/PortAlreadyInUse and nothing changes. Only then is the configuration
  persisted (settings key `net_protocols`) and the old listening sockets closed, from a loop
  timer after the response has been queued; connections the old sockets accepted finish.
  Then `on_change()` (the CLI: discovery Hello with the new XAddrs).
- Swapping the two ports in one request is refused as PortAlreadyInUse (each new port is still
  held by the other protocol when it is bound).
- At start the CLI takes each port from its command line when given there, else from
  `net_protocols`, else the default (the precedence USAGE documents).
"""

from . import log
from .errors import ConfigError
from .server import HttpServer
from .soap import SoapFault, sender

SETTINGS_KEY = "net_protocols"
NAMES = ("HTTP", "HTTPS")
RETIRE_DELAY_MS = 0   # the old sockets close on the loop's next turn, after the response


def stored(settings):
    """{name: (enabled, port)} persisted by an earlier SetNetworkProtocols ({} if none)."""
    found = {}
    for name, entry in (settings.get(SETTINGS_KEY) or {}).items():
        if name in NAMES and isinstance(entry, dict) and isinstance(entry.get("port"), int):
            found[name] = (entry.get("enabled") is not False, entry["port"])
    return found


class Listeners:
    """The HTTP(S) servers of one device on `bind` (None: every interface, 0.0.0.0), each with
    an IPv6 twin on [::] when `twins` and the machine has IPv6 (IPV6_V6ONLY: one socket per
    family); `tls_context` None means HTTPS is unavailable."""

    def __init__(self, loop, device, app, *, bind=None, twins=None, tls_context=None,
                 admit=None, on_change=None):
        self.loop = loop
        self.device = device
        self.app = app
        self.bind = bind
        self.tls_context = tls_context
        self.admit = admit
        self.on_change = on_change
        # Whether twins listen: None until the first one is tried, then True or False.
        self.ipv6 = None if (bind is None if twins is None else twins) else False
        self.servers = {name: [] for name in NAMES}
        self.ports = {name: None for name in NAMES}   # the port (also while off)
        self.enabled = {name: False for name in NAMES}
        self.retired = []

    # -- life cycle -------------------------------------------------------------------------

    def start(self, ports):
        """Listen on {name: port or None (off)}; raises ConfigError naming the busy port."""
        for name in NAMES:
            port = ports.get(name)
            self.ports[name] = port
            if port is None:
                continue
            try:
                self.servers[name] = self._open(name, port)
            except OSError as exc:
                self.close()
                raise ConfigError("cannot listen on %s port %d: %s" % (
                    self.bind or "0.0.0.0", port, exc.args[-1] if exc.args else exc))
            self.enabled[name] = True
            self.ports[name] = self.servers[name][0].port
        self._publish()

    def close(self):
        for server in self.retired + self.all_servers():
            server.close()
        self.retired = []

    def all_servers(self):
        return [s for name in NAMES for s in self.servers[name]]

    def primary(self, name):
        """The IPv4 (or --bind) server of `name`, None while it is off."""
        servers = self.servers[name]
        return servers[0] if servers else None

    def _open(self, name, port):
        """Bind `name`'s sockets on `port`: every one or none (OSError)."""
        tls = self.tls_context if name == "HTTPS" else None
        primary = HttpServer(self.loop, self.app, bind=self.bind or "0.0.0.0", port=port,
                             tls_context=tls, admit=self.admit)
        primary.start()
        if self.ipv6 is False:
            return [primary]
        twin = HttpServer(self.loop, self.app, bind="::", port=primary.port, tls_context=tls,
                          v6only=True, admit=self.admit)
        try:
            twin.start()
        except (OSError, AttributeError) as exc:  # AttributeError: a runtime without IPv6
            if self.ipv6 is True:  # IPv6 works here: this port is busy on it
                primary.close()
                raise
            log.warning("IPv6 off: cannot listen on [::]:%d: %s", primary.port, exc)
            self.ipv6 = False
            for server in self.all_servers():
                if server.v6only:
                    server.close()
            for key in NAMES:
                self.servers[key] = [s for s in self.servers[key] if not s.v6only]
            return [primary]
        self.ipv6 = True
        return [primary, twin]

    def _publish(self):
        """What GetNetworkProtocols, the capabilities and discovery's XAddrs read."""
        self.device.http_port = self.ports["HTTP"] if self.enabled["HTTP"] else None
        self.device.https_port = self.ports["HTTPS"] if self.enabled["HTTPS"] else None

    # -- GetNetworkProtocols / SetNetworkProtocols ------------------------------------------

    def current(self):
        """(name, enabled, port) of HTTP and, where TLS is available, HTTPS (8.3 #12)."""
        names = NAMES if self.tls_context is not None else NAMES[:1]
        return [(name, self.enabled[name], self.ports[name] or 0) for name in names]

    def apply(self, wanted):
        """SetNetworkProtocols: `wanted` is {name: (enabled, [port texts])}."""
        target = {name: (self.enabled[name], self.ports[name]) for name in NAMES}
        for name, (enabled, ports) in wanted.items():
            if name not in NAMES:
                raise sender("InvalidArgVal", "ServiceNotSupported",
                             reason="%s is not served by this device" % name[:16])
            if name == "HTTPS" and enabled and self.tls_context is None:
                raise SoapFault("Receiver", "ActionNotSupported", "EnablingTlsFailed",
                                reason="HTTPS needs TLS, which is not available here")
            target[name] = (enabled, _port(ports) if enabled else target[name][1])
        if not target["HTTP"][0] and not target["HTTPS"][0]:
            raise sender("InvalidArgVal",
                         reason="HTTP and HTTPS both off would lock every client out")
        if target["HTTP"][0] and target["HTTPS"][0] and target["HTTP"][1] == target["HTTPS"][1]:
            raise sender("InvalidArgVal", "PortAlreadyInUse",
                         reason="HTTP and HTTPS cannot share port %d" % target["HTTP"][1])
        changed = [name for name in NAMES
                   if target[name] != (self.enabled[name], self.ports[name]) and (
                       target[name][0] or self.enabled[name])]
        opened = {}
        try:
            for name in changed:
                if target[name][0]:
                    opened[name] = self._open(name, target[name][1])
        except OSError as exc:
            for servers in opened.values():
                for server in servers:
                    server.close()
            raise sender("InvalidArgVal", "PortAlreadyInUse",
                         reason="cannot listen on port %d: %s" % (
                             target[name][1], exc.args[-1] if exc.args else exc))
        self._persist(target, opened)
        old = []
        for name in changed:
            old.extend(self.servers[name])
            self.servers[name] = opened.get(name, [])
        for name in NAMES:
            self.enabled[name], self.ports[name] = target[name]
        self._publish()
        if changed:
            log.info("network protocols: %s", ", ".join(
                "%s %s" % (name, self.ports[name] if self.enabled[name] else "off")
                for name in NAMES))
            self.retired.extend(old)
            self.loop.call_later(RETIRE_DELAY_MS, lambda: self._retire(old))

    def _persist(self, target, opened):
        """Write `net_protocols`; a failed write closes what was opened and changes nothing."""
        value = {name: {"enabled": target[name][0], "port": target[name][1]} for name in NAMES}
        try:
            self.device.settings.update(**{SETTINGS_KEY: value})
        except OSError:
            for servers in opened.values():
                for server in servers:
                    server.close()
            raise

    def _retire(self, old):
        for server in old:
            server.stop_listening()
        self.retired = [s for s in self.retired if s.sock is not None or s.connections]
        if self.on_change is not None:
            self.on_change()


def _port(ports):
    if len(ports) != 1 or not ports[0].isdigit() or len(ports[0]) > 5 or \
            not 0 < int(ports[0]) < 65536:
        raise sender("InvalidArgVal", reason="give one Port, 1..65535, per enabled protocol")
    return int(ports[0])
