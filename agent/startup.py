"""Building and starting the agent: one wiring shared by `onvif-agent` (agent.cli, CPython) and
a MicroPython board's main.py (agent.boot), issue 9.

The start is split so a test can stop between the parts: `Agent.open_state` (state directory,
network backend, start-up recovery, settings, users), `Agent.build` (event store, device, push
sender, the hardware behind DeviceIO, the app, the monitor and the NTP client on one loop) open
no socket; `Agent.listen` opens the listening sockets, WS-Discovery and the loop's wake-up pair;
`Agent.run` serves until stopped and closes everything. Nothing here imports `socket` at module
level (agent.protocols and agent.discovery_net are imported by `listen`), so a built agent
loads on a runtime without sockets: the WebAssembly MicroPython of tests/test_boot.py.
"""

from . import compat, log
from .app import build_app
from .deviceio import DeviceIO
from .device import Device
from .discovery import Discovery, scoped, url_host
from .errors import AgentError, ConfigError
from .eventstore import open_event_store
from .ipfilter import IPFilter
from .loop import Loop
from .maintenance import EVENT_RING, recover
from .monitoring import Monitor
from .lazy import OnFirstUse
from .services.device import DeviceService
from .services.events import enable_push
from .settings import Settings
from .users import Users, write_initial_password


class Agent:
    """One device on one loop, from its board (agent.board.load_board) and state directory."""

    def __init__(self, board, state_dir):
        self.board = board
        self.state_dir = state_dir
        self.loop = Loop()
        self.network = self.settings = self.users = None
        self.device = self.app = self.listeners = self.discovery = None
        self.addresses = None  # listen(): a callable listing the addresses served
        self.restarts = []  # what device.restart asked for (SystemReboot, factory default, ...)

    def open_state(self, admin=None):
        """The state directory and what lives in it. A factory default or restore staged before
        the restart that brought us here is completed before any state file is read
        (agent.maintenance), a Hard one resetting the network backend (issue 8, checklist 8.3)
        too. First start: never open to anonymous callers (issue 4): the administrator is
        `admin` ("user:password") or gets a random password shown once. Raises ConfigError."""
        state_dir = self.state_dir
        try:
            compat.makedirs(state_dir)
            from hal.net import open_network
            self.network = open_network(self.board, state_dir)
            recover(state_dir, self.network)
            self.settings = Settings(state_dir)
            self.users = Users(state_dir)
            initial_password = self.users.ensure_admin(admin)
            if initial_password:
                path = write_initial_password(state_dir, initial_password)
                print("administrator 'admin' created with password %s (also in %s)"
                      % (initial_password, path))
        except OSError as exc:
            raise ConfigError("cannot use state directory %s: %s" % (self.state_dir, exc))

    def build(self):
        """The device and everything it runs on the loop, no socket opened. Raises ConfigError
        (a board the hardware refuses is "board NAME: why")."""
        board, loop = self.board, self.loop
        # Persistent notification storage (checklist 10.2) for Seek, sized by the board file.
        store = open_event_store(self.state_dir + "/" + EVENT_RING, board["event_storage_bytes"])
        device = self.device = Device(board, self.settings, hostname=compat.hostname,
                                      users=self.users, loop=loop, store=store,
                                      rtc=compat.rtc_setter())
        device.network = self.network
        device.restart = self._restart
        # Push subscriptions (checklist 10.3), their sender made at the first one.
        enable_push(device, OnFirstUse(lambda: notify_sender(loop, board)))
        try:
            self._open_io()
        except AgentError as exc:
            self.network.close()
            self.loop.close()
            raise ConfigError("board %s: %s" % (board["name"], exc))
        # WS-Security freshness and nonce ages on the device's clock (agent.clock): clients
        # stamp tokens from GetSystemDateAndTime, which reports that clock.
        self.app = build_app(device, device.clock)
        # Checklist 8.7's monitoring events; LinkStatus where the device has a network backend.
        device.monitor = Monitor(loop, device.bus, device.clock, device.settings,
                                 network=device.network, cpu_times=compat.cpu_times,
                                 sensors=board["sensors"])
        device.monitor.start()
        # In NTP mode the device clock follows its servers (checklist 8.4 #6, #7).
        device.ntp = NtpWhenNeeded(device.time, lambda: ntp_client(loop, device))
        device.ntp.start()
        return self

    def _open_io(self):
        """The board's hardware behind DeviceIO, started: relays inactive, inputs watched."""
        from hal import open_hal
        device = self.device
        hal = open_hal(self.board, self.loop, self.state_dir)
        device.io = DeviceIO(hal, device.settings, self.loop, device.bus)
        try:
            device.io.start()
        except Exception:
            device.io.close()
            raise

    def _restart(self, kind):
        """device.restart (agent.maintenance): stop the loop; run() then says Bye and closes
        everything, and its caller starts the agent afresh (compat.restart_process)."""
        self.restarts.append(kind)
        self.loop.stop()

    def listen(self, bind, http_port, https_port=None, tls_context=None, discovery_port=None,
               addresses=None):
        """Open the sockets: HTTP and HTTPS (None: off) on `bind`, WS-Discovery on UDP
        `discovery_port` (None: off) for the addresses `addresses()` lists (default: those
        `bind` covers). Raises ConfigError naming a busy port, with everything closed."""
        from .protocols import Listeners
        device = self.device
        # Every accepted connection passes the IP address filter first (issue 8). The listeners
        # also answer SetNetworkProtocols (device.protocols, agent.protocols).
        listeners = Listeners(self.loop, device, self.app, bind=bind,
                              tls_context=tls_context, admit=IPFilter(device.settings).admits,
                              on_change=self.announce)
        try:
            listeners.start({"HTTP": http_port, "HTTPS": https_port})
        except ConfigError:
            self.close()
            raise
        self.listeners = device.protocols = listeners
        if addresses is None:
            addresses = addresses_of(bind, ipv6=bind == "::" or listeners.ipv6 is True)
        self.addresses = addresses
        if discovery_port is not None:
            self.discovery = start_discovery(self.loop, device, addresses, discovery_port)
        device.network.on_change = self.announce  # an address change: Hello (8.3 #11)
        self.loop.enable_wakeup()
        compat.on_terminate(lambda: self.loop.call_soon_threadsafe(self.loop.stop))

    def announce(self):
        """Hello on every link, if discovery runs: the device's addresses or ports changed."""
        if self.discovery is not None:
            self.discovery.announce()

    def urls(self, path=DeviceService.path):
        """The device service's URLs (or another `path`'s), HTTPS first: the one a client
        should prefer."""
        found = []
        for name in ("HTTPS", "HTTP"):
            server = self.listeners.primary(name)
            if server is not None:
                found += [device_url(server.scheme, host, server.port, path)
                          for host in self.addresses()]
        return found

    def run(self):
        """Serve until the loop stops, then close everything; returns the restart asked for
        (None: a plain stop)."""
        try:
            self.loop.run()
        finally:
            self.close()
            log.info("stopped")
        return self.restarts[0] if self.restarts else None

    def close(self):
        """Bye (checklist 7), then every socket, timer and device closed; safe on a partly
        started agent."""
        if self.discovery is not None:
            self.discovery.stop()
            self.discovery = None
        device = self.device
        if device is not None:
            for part in (device.monitor, self.listeners, device.ntp, device.network, device.io):
                if part is not None:
                    part.close()
        self.listeners = None
        self.loop.close()


class NtpWhenNeeded(OnFirstUse):
    """The NTP client (agent.ntp_client), made when the device clock is first in NTP mode: at
    start, or when SetSystemDateAndTime or SetNTP asks for it. A clock kept Manual never loads
    it."""

    def __init__(self, clock, make):
        OnFirstUse.__init__(self, make)
        self.clock = clock

    def sync_now(self):
        if self.made is not None or self.clock.mode == "NTP":
            self.get().sync_now()

    start = sync_now

    def close(self):
        if self.made is not None:
            self.made.close()


def ntp_client(loop, device):
    from .ntp_client import NtpClient, device_dhcp_servers, threaded_resolver
    return NtpClient(loop, device.time, device.settings, device.bus,
                     dhcp_servers=lambda: device_dhcp_servers(device),
                     resolve=threaded_resolver(loop))


def notify_sender(loop, board):
    """The sender of push subscriptions' Notify messages (checklist 10.3), made at the first
    one; consumers on loopback, link-local or multicast addresses only where the board file
    allows them (the SSRF guard)."""
    from .notify import NotifySender
    return NotifySender(loop, allow_local=board.get("allow_local_consumers") is True)


def listening_ports(options, settings, https_port, tls_context, http_default=None):
    """(HTTP port, HTTPS port), None = off: the command line's when given, else what
    SetNetworkProtocols persisted (agent.protocols), else the defaults (HTTP: `http_default`,
    or 80 as root and 8080 otherwise). HTTP is forced on when HTTPS cannot serve, so a persisted
    "HTTP off" never locks every client out."""
    from .protocols import stored
    saved = stored(settings)
    http = options.get("http-port")
    if http is None:
        if http_default is None:
            http_default = 80 if compat.is_root() else 8080
        enabled, http = saved.get("HTTP", (True, http_default))
        http = http if enabled else None
    if tls_context is None:
        https_port = None
    elif "https-port" not in options and "HTTPS" in saved:
        enabled, https_port = saved["HTTPS"]
        https_port = https_port if enabled else None
    if http is None and https_port is None:
        log.warning("HTTP turned on again: HTTPS cannot serve")
        http = saved["HTTP"][1]
    return http, https_port


def addresses_of(bind, ipv6=False):
    """A callable listing the addresses `bind` covers: every interface's for a wildcard (None
    is the default, both families), with the IPv6 ones (link-local with their zone) when `ipv6`
    says an IPv6 socket listens."""
    if bind not in (None, "0.0.0.0", "::", ""):
        return lambda: [bind]
    if not ipv6:
        return compat.interface_addresses
    return lambda: compat.interface_addresses() + [
        scoped(address, interface) for address, interface in compat.interface_addresses6()]


def device_url(scheme, host, port, path=DeviceService.path):
    """The device service URL (or another `path`'s) at host:port (IPv6 literals bracketed,
    zones as %25 RFC 6874)."""
    return "%s://%s:%d%s" % (scheme, url_host(host), port, path)


def start_discovery(loop, device, addresses, port):
    """WS-Discovery on the interfaces of `addresses()`, or None if it cannot listen."""
    from .discovery_net import DiscoveryService
    settings = device.settings
    # AppSequence InstanceId must grow with every restart (checklist 7): a persisted counter.
    instance = settings.get("discovery_instance", 0) + 1
    settings.update(discovery_instance=instance)

    def xaddrs(hosts):
        urls = []
        for host in hosts:
            if device.https_port is not None:
                urls.append(device_url("https", host, device.https_port))
            if device.http_port is not None:  # HTTP may be off (SetNetworkProtocols)
                urls.append(device_url("http", host, device.http_port))
        return urls
    discovery = Discovery(endpoint=device.endpoint_reference, scopes=device.scopes.uris,
                          xaddrs=xaddrs, instance_id=instance,
                          metadata_version=lambda: device.scopes.metadata_version,
                          rand=compat.random_below, clock=compat.monotonic_ms)
    service = DiscoveryService(loop, discovery, device.scopes, rand=compat.random_below,
                               addresses=addresses, port=port)
    try:
        service.start()
    except OSError as exc:
        log.warning("WS-Discovery off: cannot listen on UDP port %d: %s", port, exc)
        return None
    except AttributeError as exc:  # a board's socket module without multicast (issue 9)
        log.warning("WS-Discovery off: this runtime's socket module lacks %s", exc)
        return None
    return service
