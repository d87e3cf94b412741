"""The `onvif-agent` command: parse options, build the device, serve until told to stop.

Contract (issue 3, relied on by tests and later issues): `--board NAME|PATH`, `--state-dir DIR`,
`--bind ADDR`, `--http-port N`, `--log-level LEVEL`. A bad option, an unreadable board file or a
busy port is one clear line on stderr and exit status 2, never a traceback.
"""

import sys

from . import __version__, compat, log
from .app import build_app
from .board import DEFAULT_BOARD, load_board
from .device import Device
from .errors import ConfigError
from .loop import Loop
from .server import HttpServer
from .settings import Settings

USAGE = """usage: onvif-agent [--board NAME|PATH] [--state-dir DIR] [--bind ADDR]
                   [--http-port N] [--log-level debug|info|warning|error]

IEC 60839-11-31 / ONVIF device agent.

  --board NAME|PATH   board definition: a name from boards/ or a file (default: desktop)
  --state-dir DIR     where settings persist (default: $XDG_STATE_HOME/onvif-agent,
                      /var/lib/onvif-agent as root)
  --bind ADDR         address to listen on (default: all IPv4 interfaces)
  --http-port N       HTTP port (default: 80 as root, else 8080; 0 = any free port)
  --log-level LEVEL   debug, info, warning or error (default: info)
  --version           print the version and exit
"""

_OPTIONS = ("--board", "--state-dir", "--bind", "--http-port", "--log-level")


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
    if "http-port" in options:
        port = options["http-port"]
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError("--http-port must be a port number, not %r" % port)
        options["http-port"] = int(port)
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
            settings = Settings(state_dir)
        except OSError as exc:
            raise ConfigError("cannot use state directory %s: %s" % (state_dir, exc))
    except ConfigError as exc:
        sys.stderr.write("onvif-agent: error: %s\n" % exc)
        return 2
    device = Device(board, settings, hostname=compat.hostname)
    port = options.get("http-port", 80 if compat.is_root() else 8080)
    return serve(device, options.get("bind", "0.0.0.0"), port)


def serve(device, bind, port):
    loop = Loop()
    server = HttpServer(loop, build_app(device), bind=bind, port=port)
    try:
        server.start()
    except OSError as exc:
        sys.stderr.write("onvif-agent: error: cannot listen on %s port %d: %s\n"
                         % (bind, port, exc.args[-1] if exc.args else exc))
        return 2
    loop.enable_wakeup()
    compat.on_terminate(lambda: loop.call_soon_threadsafe(loop.stop))
    hosts = compat.interface_addresses() if bind in ("0.0.0.0", "::", "") else [bind]
    print("onvif-agent %s on board %s" % (__version__, device.board["name"]))
    for host in hosts:
        host = "[%s]" % host if ":" in host else host
        print("device service: http://%s:%d/onvif/device_service" % (host, server.port))
    sys.stdout.flush()
    try:
        loop.run()
    finally:
        server.close()
        loop.close()
        log.info("stopped")
    return 0
