"""The `onvif-agent` command: parse options, build the device, serve until told to stop.

Contract (issue 3, relied on by tests and later issues): `--board NAME|PATH`, `--state-dir DIR`,
`--bind ADDR`, `--http-port N`, `--log-level LEVEL`; HTTPS (issue 4): `--https-port N|off`,
`--tls-cert FILE --tls-key FILE`. A bad option, an unreadable board file, an unusable certificate
or a busy port is one clear line on stderr and exit status 2, never a traceback.
"""

import sys

from . import __version__, compat, log
from .app import build_app
from .board import DEFAULT_BOARD, load_board
from .device import Device
from .deviceio import DeviceIO
from .errors import AgentError, ConfigError
from .eventstore import open_event_store
from .ipfilter import IPFilter
from .loop import Loop
from .maintenance import EVENT_RING, recover
from .monitoring import Monitor
from .discovery import PORT, Discovery, scoped, url_host
from .discovery_net import DiscoveryService
from .notify import NotifySender
from .ntp_client import NtpClient, device_dhcp_servers, threaded_resolver
from .protocols import Listeners, stored
from .services.device import DeviceService
from .services.events import enable_push
from .settings import Settings
from .users import Users, write_initial_password

USAGE = """usage: onvif-agent [--board NAME|PATH] [--state-dir DIR] [--bind ADDR]
                   [--http-port N] [--https-port N|off] [--tls-cert FILE --tls-key FILE]
                   [--discovery-port N|off] [--log-level debug|info|warning|error]
       onvif-agent sim input TOKEN closed|open [--state-dir DIR]
       onvif-agent sim state [--state-dir DIR]

IEC 60839-11-31 / ONVIF device agent. `sim` drives the desktop simulator's inputs while the
agent runs, and shows every contact.

  --board NAME|PATH   board definition: a name from boards/ or a file (default: desktop)
  --state-dir DIR     where settings persist (default: $XDG_STATE_HOME/onvif-agent,
                      /var/lib/onvif-agent as root)
  --bind ADDR         address to listen on (default: every interface, IPv4 and IPv6)
  --http-port N       HTTP port (default: 80 as root, else 8080; 0 = any free port)
  --https-port N|off  HTTPS port (default: 443 as root, else 8443; 0 = any free port)
                      A port given here wins; without it the port (and on/off) a client
                      last set with SetNetworkProtocols is used, else the default.
  --tls-cert FILE     HTTPS certificate chain (PEM) to use instead of the self-signed device
  --tls-key FILE        certificate made in STATE-DIR/tls/; give both or neither
  --discovery-port N|off  WS-Discovery UDP port (default: 3702; 0 = any free port, for tests)
  --log-level LEVEL   debug, info, warning or error (default: info)
  --version           print the version and exit
"""

_OPTIONS = ("--board", "--state-dir", "--bind", "--http-port", "--https-port", "--tls-cert",
            "--tls-key", "--discovery-port", "--log-level")


def parse_args(argv):
    """Options as a dict; raises ConfigError with a one-line reason."""
    options = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help", "--version"):
            options[arg.strip("-")[0]] = True
            continue
        name, eq, value = arg.partition("=")
        if name not in _OPTIONS:
            raise ConfigError("unknown option %r" % arg)
        if not eq:
            if not args:
                raise ConfigError("%s needs a value" % name)
            value = args.pop(0)
        options[name[2:]] = value
    for name in ("http-port", "https-port", "discovery-port"):
        port = options.get(name)
        if port is None or (name != "http-port" and port == "off"):
            continue
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError("--%s must be a port number, not %r" % (name, port))
        options[name] = int(port)
    if ("tls-cert" in options) != ("tls-key" in options):
        raise ConfigError("--tls-cert and --tls-key go together")
    level = options.get("log-level", "info")
    if level not in log.LEVELS:
        raise ConfigError("--log-level must be one of %s" % ", ".join(log.LEVELS))
    return options


def default_state_dir():
    if compat.is_root():
        return "/var/lib/onvif-agent"
    base = compat.getenv("XDG_STATE_HOME") or (compat.getenv("HOME", ".") + "/.local/state")
    return base + "/onvif-agent"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        from hal.sim import control_main  # the desktop simulator's client (CPython)
        return control_main(argv[1:])
    try:
        options = parse_args(argv)
        if "h" in options:
            print(USAGE)
            return 0
        if "v" in options:
            print("onvif-agent", __version__)
            return 0
        log.set_level(options.get("log-level", "info"))
        board = load_board(options.get("board", DEFAULT_BOARD))
        state_dir = options.get("state-dir") or default_state_dir()
        try:
            compat.makedirs(state_dir)
            # The board's network backend (issue 8, checklist 8.3): simulated, the OS's or the
            # board's. A factory default or restore staged before the restart that brought us
            # here is completed before any state file is read (agent.maintenance), a Hard one
            # resetting the network too.
            from hal.net import open_network
            network = open_network(board, state_dir)
            recover(state_dir, network)
            settings = Settings(state_dir)
            users = Users(state_dir)
            # First start: never open to anonymous callers (issue 4); the administrator comes
            # from ONVIF_AGENT_ADMIN=user:password, or gets a random password shown once.
            initial_password = users.ensure_admin(compat.getenv("ONVIF_AGENT_ADMIN"))
            if initial_password:
                path = write_initial_password(state_dir, initial_password)
                print("administrator 'admin' created with password %s (also in %s)"
                      % (initial_password, path))
        except OSError as exc:
            raise ConfigError("cannot use state directory %s: %s" % (state_dir, exc))
        https_port = options.get("https-port", 443 if compat.is_root() else 8443)
        tls_context, cert = None, None
        if https_port != "off":
            tls_context, cert = https_context(options, state_dir)
        loop = Loop()
        # Persistent notification storage (checklist 10.2) for Seek, sized by the board file.
        store = open_event_store(state_dir + "/" + EVENT_RING, board["event_storage_bytes"])
        device = Device(board, settings, hostname=compat.hostname, users=users, loop=loop,
                        store=store, rtc=compat.rtc_setter())
        device.network = network
        # Push subscriptions (checklist 10.3); Notify consumers on loopback, link-local or
        # multicast addresses only where the board file allows them (the SSRF guard).
        enable_push(device, NotifySender(loop, allow_local=board.get(
            "allow_local_consumers") is True))
    except ConfigError as exc:
        sys.stderr.write("onvif-agent: error: %s\n" % exc)
        return 2
    port, https_port = listening_ports(options, settings, https_port, tls_context)
    restarts = []
    device.restart = restarter(loop, restarts)
    status = serve(loop, device, options.get("bind"), port, https_port, tls_context, cert,
                   options.get("discovery-port", PORT), state_dir)
    if restarts and status == 0:
        log.info("restarting (%s)", restarts[0])
        compat.restart_process(argv)
    return status


def restarter(loop, requested):
    """device.restart (SystemReboot, factory default, restore: agent.maintenance): stop the
    loop; serve() then says Bye and closes everything, and main() starts the agent afresh."""
    def restart(kind):
        requested.append(kind)
        loop.stop()
    return restart


def listening_ports(options, settings, https_port, tls_context):
    """(HTTP port, HTTPS port), None = off: the command line's when given, else what
    SetNetworkProtocols persisted (agent.protocols), else the defaults. HTTP is forced on
    when HTTPS cannot serve, so a persisted "HTTP off" never locks every client out."""
    saved = stored(settings)
    http = options.get("http-port")
    if http is None:
        enabled, http = saved.get("HTTP", (True, 80 if compat.is_root() else 8080))
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


def https_context(options, state_dir):
    """(SSLContext, certificate file) for HTTPS, or (None, None) where TLS is unavailable.

    A user's --tls-cert/--tls-key are used as given; otherwise the device's self-signed
    certificate, made on first start in STATE-DIR/tls/. Unusable files raise ConfigError; a
    missing ssl or cryptography module turns HTTPS off with one log line saying so.
    """
    from . import tls  # CPython's ssl (megabytes of resident memory) only when HTTPS is on
    try:
        if "tls-cert" in options:
            cert, key = options["tls-cert"], options["tls-key"]
        else:
            addresses = compat.interface_addresses() + [
                address for address, _ in compat.interface_addresses6()]
            cert, key = tls.device_certificate(state_dir + "/tls", compat.hostname(), addresses)
        return tls.server_context(cert, key), cert
    except tls.TlsUnavailable as exc:
        log.warning("HTTPS off: %s", exc)
        return None, None


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
    """The device service URL at host:port (IPv6 literals bracketed, zones as %25 RFC 6874)."""
    return "%s://%s:%d%s" % (scheme, url_host(host), port, path)


def start_discovery(loop, device, addresses, port):
    """WS-Discovery on the interfaces of `addresses()`, or None if off."""
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
    return service


def announce(discovery):
    """Hello on every link, if discovery runs: the device's addresses or ports changed."""
    if discovery is not None:
        discovery.announce()


def open_io(loop, device, state_dir):
    """The board's hardware behind DeviceIO, started: relays inactive, inputs watched."""
    from hal import open_hal
    hal = open_hal(device.board, loop, state_dir)
    device.io = DeviceIO(hal, device.settings, loop, device.bus)
    try:
        device.io.start()
    except Exception:
        device.io.close()
        raise


def print_io(device):
    """What a user attaches to: the serial ports' devices, the simulator's control command."""
    hal = device.io.hal
    for port in device.io.serial_ports:
        print("serial port %s: %s" % (port.token, getattr(port, "path", port.spec["device"])))
    control = getattr(hal, "control_path", None)
    if control:
        print("sim control: %s (onvif-agent sim input TOKEN closed|open, onvif-agent sim state;"
              " --state-dir as given here)" % control)
    for line in hal.unsupported:
        print("board cannot: " + line)


def serve(loop, device, bind, port, https_port=None, tls_context=None, cert=None,
          discovery_port=PORT, state_dir=None):
    try:
        open_io(loop, device, state_dir)
    except AgentError as exc:
        sys.stderr.write("onvif-agent: error: board %s: %s\n" % (device.board["name"], exc))
        loop.close()
        return 2
    # WS-Security freshness and nonce ages on the device's clock (agent.clock): clients stamp
    # tokens from GetSystemDateAndTime, which reports that clock.
    app = build_app(device, device.clock)
    # Every accepted connection passes the IP address filter first (issue 8, agent.ipfilter).
    # The listeners also answer SetNetworkProtocols (device.protocols, agent.protocols).
    listeners = Listeners(loop, device, app, bind=bind, tls_context=tls_context,
                          admit=IPFilter(device.settings).admits,
                          on_change=lambda: announce(discovery))
    try:
        listeners.start({"HTTP": port, "HTTPS": https_port})
    except ConfigError as exc:
        sys.stderr.write("onvif-agent: error: %s\n" % exc)
        device.network.close()
        device.io.close()
        loop.close()
        return 2
    device.protocols = listeners
    addresses = addresses_of(bind, ipv6=bind == "::" or listeners.ipv6 is True)
    discovery = None
    if discovery_port != "off":
        discovery = start_discovery(loop, device, addresses, discovery_port)
    # Checklist 8.7's monitoring events; LinkStatus where the device has a network backend.
    device.monitor = Monitor(loop, device.bus, device.clock, device.settings,
                             network=device.network, cpu_times=compat.cpu_times,
                             sensors=device.board["sensors"])
    device.monitor.start()
    if device.network is not None:  # an address change: Hello (checklist 8.3 #11)
        device.network.on_change = lambda: announce(discovery)
    loop.enable_wakeup()
    # In NTP mode the device clock follows its servers (checklist 8.4 #6, #7; agent.ntp_client).
    device.ntp = NtpClient(loop, device.time, device.settings, device.bus,
                           dhcp_servers=lambda: device_dhcp_servers(device),
                           resolve=threaded_resolver(loop))
    device.ntp.start()
    compat.on_terminate(lambda: loop.call_soon_threadsafe(loop.stop))
    hosts = addresses()
    print("onvif-agent %s on board %s" % (__version__, device.board["name"]))
    if tls_context is not None:
        print("https certificate: %s" % cert)  # for clients to trust or pin
    if discovery is not None:
        print("ws-discovery: udp port %d" % discovery.port)
    print_io(device)
    # HTTPS first: the URL a client should prefer (tests/agentproc.py reads up to the http one).
    servers = list(filter(None, (listeners.primary("HTTPS"), listeners.primary("HTTP"))))
    for server in servers[:1] if hosts else ():  # the installer status page (issue 9)
        print("status page (Administrator or Operator): " +
              device_url(server.scheme, hosts[0], server.port, "/"))
    for server in servers:
        for host in hosts:
            print("device service: " + device_url(server.scheme, host, server.port))
    sys.stdout.flush()
    try:
        loop.run()
    finally:
        if discovery is not None:
            discovery.stop()  # Bye before leaving (checklist 7)
        device.monitor.close()
        listeners.close()
        device.ntp.close()
        device.network.close()
        device.io.close()
        loop.close()
        log.info("stopped")
    return 0
