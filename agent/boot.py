"""A MicroPython board's entry (issue 9): the bundle's main.py calls `main()`.

It reads the board's settings file (JSON, from the template tools/build-bundle writes):
  wifi_ssid, wifi_password  the Wi-Fi network to join ("": leave the network as the firmware has it)
  board                     the board file (default "board.json")
  state_dir                 where the agent's state lives on flash (default "/state")
  http_port                 optional; given, it wins over SetNetworkProtocols (default port 80;
                            0 picks a free one, for tests)
  discovery_port            WS-Discovery's UDP port, or "off" (default 3702)
  log_level                 debug, info, warning or error (default info)
joins the Wi-Fi network with a bounded wait, then starts the agent through agent.startup, the
wiring `onvif-agent` uses, with HTTPS off: no TLS server runs on a microcontroller's loop.
`prepare` is everything up to the first socket, so tests/test_boot.py can stop there.
"""

import time

from . import compat, log
from .compat import load_cold
from .discovery import PORT
from .errors import ConfigError
from .settings import read_json_file
from .startup import Agent, listening_ports

SETTINGS_FILE = "settings.json"
DEFAULTS = {"wifi_ssid": "", "wifi_password": "", "board": "board.json", "state_dir": "/state",
            "http_port": None, "discovery_port": PORT, "log_level": "info"}
HTTP_PORT = 80            # a board runs nothing else: the ONVIF default port
# The heap the agent needs, loaded from .mpy files: what it holds after serving (about 265 KB,
# tests/test_boot.py checks this covers it with 48 KB to spare for a request and a cold
# operation group), README "Memory". Frozen modules need far less: their code stays in flash.
HEAP_NEEDED = 320 * 1024
WIFI_WAIT_MS = 20000      # joining takes 2-5 s on a healthy network
WIFI_POLL_MS = 250


def read_settings(path=SETTINGS_FILE):
    """The settings file with its defaults filled in; ConfigError names the file and the field."""
    given = read_json_file(path, "settings file")
    if not isinstance(given, dict):
        raise ConfigError("settings file %s: not a JSON object" % path)
    settings = dict(DEFAULTS)
    for key, value in given.items():
        if key not in DEFAULTS:
            raise ConfigError("settings file %s: unknown field %r (fields: %s)"
                              % (path, key, ", ".join(sorted(DEFAULTS))))
        settings[key] = value
    for key in ("wifi_ssid", "wifi_password", "board", "state_dir"):
        if not isinstance(settings[key], str):
            raise ConfigError("settings file %s: %s must be a string" % (path, key))
    for key in ("http_port", "discovery_port"):
        port = settings[key]
        if not (port is None or port == "off" and key == "discovery_port"
                or isinstance(port, int) and 0 <= port < 65536):
            raise ConfigError("settings file %s: %s must be a port number" % (path, key))
    if settings["log_level"] not in log.LEVELS:
        raise ConfigError("settings file %s: log_level must be one of %s"
                          % (path, ", ".join(log.LEVELS)))
    return settings


def join_wifi(network, ssid, password, wait_ms=WIFI_WAIT_MS, sleep=time.sleep):
    """Join `ssid` as a station and wait for the link at most `wait_ms`; True once connected.
    A network that does not answer is one warning, and the agent starts anyway: the firmware
    keeps trying, and the agent answers as soon as the link comes up."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(ssid, password)
        polls = wait_ms // WIFI_POLL_MS
        while not wlan.isconnected():
            if not polls:
                log.warning("Wi-Fi: not connected to %r after %d s (status %r): check wifi_ssid "
                            "and wifi_password in %s; starting anyway", ssid, wait_ms // 1000,
                            wlan.status() if hasattr(wlan, "status") else None, SETTINGS_FILE)
                return False
            polls -= 1
            sleep(WIFI_POLL_MS / 1000)
    log.info("Wi-Fi: connected to %r as %s", ssid, wlan.ifconfig()[0])
    return True


def station_addresses(backend):
    """A callable listing the board's IPv4 addresses now (discovery's XAddrs, the URLs shown):
    each interface's ifconfig() address once it has one (hal.net.machine)."""
    def addresses():
        found = []
        for _, _, nic in backend.nics:
            address = nic.ifconfig()[0]
            if address != "0.0.0.0" and address not in found:
                found.append(address)
        return found
    return addresses


def prepare(path=SETTINGS_FILE):
    """Settings, Wi-Fi, then the agent built (agent.startup: state, device, hardware, app), no
    socket opened; returns (agent, settings). Raises ConfigError."""
    settings = read_settings(path)
    log.set_level(settings["log_level"])
    if settings["wifi_ssid"]:
        network = compat.firmware_network()
        if network is None:
            raise ConfigError("wifi_ssid is set but this firmware has no network module")
        join_wifi(network, settings["wifi_ssid"], settings["wifi_password"])
    else:
        log.warning("Wi-Fi: no wifi_ssid in %s: the network stays as the firmware has it", path)
    # The board file's reader and checks are needed only to start: a board lets them go.
    agent = Agent(load_cold("agent.board").load_board(settings["board"]), settings["state_dir"])
    agent.open_state()
    agent.build()
    return agent, settings


def check_heap(heap, from_mpy):
    """Log the board's heap (`heap` bytes, None: unknown), with a warning where the agent,
    loaded `from_mpy` files (not frozen into the firmware: those are named .py), may run out
    of it."""
    if heap is None:
        return
    if heap < HEAP_NEEDED and from_mpy:
        log.warning("this board's heap is %d KB; the agent loaded from .mpy files needs about "
                    "%d KB and may run out of memory: see Memory in the README", heap // 1024,
                    HEAP_NEEDED // 1024)
    else:
        log.info("heap %d KB", heap // 1024)


def main(path=SETTINGS_FILE, heap=None):
    """Start the agent and serve until stopped (Ctrl-C at the REPL); a restart the device asked
    for (SystemReboot, factory default, restore) resets the board. `heap` is the heap's size
    before the agent was loaded (main.py measures it). Returns 2 after one error line when it
    cannot start."""
    check_heap(heap, __file__.endswith(".mpy"))
    try:
        agent, settings = prepare(path)
        options = {} if settings["http_port"] is None else {"http-port": settings["http_port"]}
        http_port, _ = listening_ports(options, agent.settings, None, None, HTTP_PORT)
        discovery_port = settings["discovery_port"]
        agent.listen("0.0.0.0", http_port, discovery_port=None if discovery_port == "off"
                     else discovery_port, addresses=station_addresses(agent.network))
    except ConfigError as exc:
        print("onvif-agent: error: %s" % exc)
        return 2
    print("onvif-agent on board %s" % agent.board["name"])
    for url in agent.urls():
        print("device service: " + url)
    if agent.run():
        compat.restart_process([])
    return 0
