"""The `onvif-agent` command: parse options, build the device, serve until told to stop.

Contract (issue 3, relied on by tests and later issues): `--board NAME|PATH`, `--state-dir DIR`,
`--bind ADDR`, `--http-port N`, `--log-level LEVEL`; HTTPS (issue 4): `--https-port N|off`,
`--tls-cert FILE --tls-key FILE`. A bad option, an unreadable board file, an unusable certificate
or a busy port is one clear line on stderr and exit status 2, never a traceback.
"""

import sys

from . import __version__, compat, log
from .board import DEFAULT_BOARD, load_board
from .discovery import PORT
from .errors import ConfigError
from .startup import Agent, listening_ports

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
        agent = Agent(board, options.get("state-dir") or default_state_dir())
        agent.open_state(compat.getenv("ONVIF_AGENT_ADMIN"))
        https_port = options.get("https-port", 443 if compat.is_root() else 8443)
        tls_context, cert = None, None
        if https_port != "off":
            tls_context, cert = https_context(options, agent.state_dir)
        agent.build()
        port, https_port = listening_ports(options, agent.settings, https_port, tls_context)
        discovery_port = options.get("discovery-port", PORT)
        agent.listen(options.get("bind"), port, https_port, tls_context,
                     None if discovery_port == "off" else discovery_port)
    except ConfigError as exc:
        sys.stderr.write("onvif-agent: error: %s\n" % exc)
        return 2
    print_banner(agent, cert)
    restart = agent.run()
    if restart:
        log.info("restarting (%s)", restart)
        compat.restart_process(argv)
    return 0


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


def print_banner(agent, cert):
    """What a user needs to reach the device (tests/agentproc.py reads up to the http URL)."""
    print("onvif-agent %s on board %s" % (__version__, agent.board["name"]))
    if cert is not None:
        print("https certificate: %s" % cert)  # for clients to trust or pin
    if agent.discovery is not None:
        print("ws-discovery: udp port %d" % agent.discovery.port)
    print_io(agent.device)
    for url in agent.urls("/")[:1]:  # the installer status page (issue 9)
        print("status page (Administrator or Operator): " + url)
    for url in agent.urls():
        print("device service: " + url)
    sys.stdout.flush()
