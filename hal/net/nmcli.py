"""NetworkManager through its command-line client `nmcli` (CPython, Linux).

The kernel tells hal.net.linux which addresses, links and routes exist; only NetworkManager knows
what is *configured* (DHCP or manual addresses, manual DNS servers, what DHCP offered) and only it
can change the configuration so that the change survives a reboot (checklist 8.3).

Commands are argument lists, never a shell: `run(argv, timeout)` returns (exit status, text) and
raises OSError when nmcli cannot start. The permission probe and the first read of the active
connections run once, in the constructor, before the loop serves anyone, each bounded by
PROBE_TIMEOUT. Everything later (re-reading the connections, every change) is queued on
hal.net.jobs.SerialJobs and never runs on the loop: a change is answered at once, applied a
moment later, and a failure is logged.
"""

import os
import subprocess

from agent import compat, log
from hal.net.base import NetworkError
from hal.net.jobs import SerialJobs

NMCLI = "nmcli"
# nmcli's permission names (`nmcli general permissions`); "auth" (a polkit prompt) counts as no.
MODIFY_SYSTEM = "org.freedesktop.NetworkManager.settings.modify.system"
MODIFY_HOSTNAME = "org.freedesktop.NetworkManager.settings.modify.hostname"
PROBE_TIMEOUT = 2      # seconds, for the commands the constructor runs
COMMAND_TIMEOUT = 15   # seconds, for a modify, a reapply or a read in the worker
ACTIVATION_WAIT = 30   # seconds `connection up` may wait for the link and DHCP (`nmcli --wait`)
REFRESH_MS = 30000     # what the backend reports about configuration is at most this old
ETHERNET = "802-3-ethernet"
WIFI = "802-11-wireless"
SHORT_TYPES = {"ethernet": ETHERNET, "wifi": WIFI}  # as some nmcli versions print them
MTU_KEYS = {ETHERNET: ETHERNET + ".mtu", WIFI: WIFI + ".mtu"}


def run_command(argv, timeout):
    """Run `argv` with a timeout: (exit status, stdout, or stderr when it failed)."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ, LC_ALL="C"))
    except subprocess.TimeoutExpired:
        return 124, "no answer within %d s" % timeout
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr or proc.stdout


def terse_fields(line, most=None):
    """The fields of one `nmcli --terse` line: ':' separates them, and '\\:' and '\\\\' in a
    value stand for ':' and '\\'. With `most`, at most that many separators split."""
    fields, current, i = [], "", 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            current += line[i + 1]
            i += 1
        elif c == ":" and (most is None or len(fields) < most):
            fields.append(current)
            current = ""
        else:
            current += c
        i += 1
    fields.append(current)
    return fields


def properties(text):
    """{key: value} of `nmcli --terse ... show` output ("ipv4.method:auto"); unset is ""."""
    found = {}
    for line in text.splitlines():
        fields = terse_fields(line, 1)
        if len(fields) == 2:
            found[fields[0]] = "" if fields[1] == "--" else fields[1]
    return found


def dhcp_options(shown):
    """{option: value} of `device show`'s "DHCP4.OPTION[n]": "ntp_servers = 192.0.2.1"."""
    found = {}
    for key, value in shown.items():
        if key.startswith("DHCP4.OPTION") and " = " in value:
            name, option = value.split(" = ", 1)
            found[name.strip()] = option.strip()
    return found


def split_list(value):
    """nmcli's comma-separated list value as a list."""
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_addresses(value):
    """[[address, prefix]] of an "ipv4.addresses" or "ipv6.addresses" value."""
    found = []
    for item in split_list(value):
        address, _, prefix = item.partition("/")
        found.append([address, int(prefix) if prefix else (32 if "." in address else 128)])
    return found


def _joined(addresses):
    return ",".join("%s/%d" % (address, prefix) for address, prefix in addresses)


def _yes(flag):
    return "yes" if flag else "no"


class NetworkManager:
    """What NetworkManager says and does. `permissions` is None where nmcli is missing or the
    daemon is not running; `connections` maps a device name to its active connection:
    {"uuid", "type", "settings": {nmcli property: value}, "dhcp4": {option: value}}."""

    def __init__(self, run=None, start=None, clock=None):
        self.run = run or run_command
        self.jobs = SerialJobs(start)
        self.clock = clock or compat.monotonic_ms
        self.permissions = self._probe()
        self.connections = self._read(PROBE_TIMEOUT) if self.running else {}
        self._read_at = self.clock()
        self.jobs.report()

    @property
    def running(self):
        return self.permissions is not None

    def may(self, permission):
        return self.running and self.permissions.get(permission) == "yes"

    def _nmcli(self, args, timeout):
        try:
            return self.run([NMCLI] + args, timeout)
        except OSError as exc:
            return 127, str(exc)

    def _probe(self):
        status, text = self._nmcli(["-t", "-f", "PERMISSION,VALUE", "general", "permissions"],
                                   PROBE_TIMEOUT)
        if status:
            log.info("network: NetworkManager is not available (%s): the operating system's "
                     "network settings are reported, never changed", text.strip())
            return None
        return dict(f for f in (terse_fields(line) for line in text.splitlines()) if len(f) == 2)

    def _show(self, args, timeout):
        status, text = self._nmcli(["-t"] + args, timeout)
        if status:
            self.jobs.note(log.warning, "network: nmcli %s failed (%d): %s", " ".join(args),
                           status, text.strip())
            return {}
        return properties(text)

    def _read(self, timeout):
        status, text = self._nmcli(["-t", "-f", "UUID,TYPE,DEVICE", "connection", "show",
                                    "--active"], timeout)
        if status:
            self.jobs.note(log.warning, "network: nmcli cannot list connections (%d): %s",
                           status, text.strip())
            return {}
        found = {}
        for fields in (terse_fields(line) for line in text.splitlines()):
            if len(fields) != 3 or fields[2] in ("", "lo"):
                continue
            uuid, kind, device = fields
            kind = SHORT_TYPES.get(kind, kind)
            settings = "ipv4,ipv6" + ("," + ETHERNET if kind == ETHERNET else "")
            found[device] = {
                "uuid": uuid, "type": kind,
                "settings": self._show(["-f", settings, "connection", "show", uuid], timeout),
                "dhcp4": dhcp_options(self._show(["-f", "DHCP4", "device", "show", device],
                                                 timeout))}
        return found

    def refresh_if_stale(self):
        """Queue a new read of the connections when the last one is REFRESH_MS old (and log
        what the worker noted since the last call)."""
        self.jobs.report()
        if self.running and self.clock() - self._read_at >= REFRESH_MS:
            self._read_at = self.clock()
            self.jobs.submit(self._refresh)

    def _refresh(self):
        self.connections = self._read(COMMAND_TIMEOUT)

    def setting(self, device, key, default=""):
        connection = self.connections.get(device)
        return connection["settings"].get(key, default) if connection else default

    def submit(self, commands):
        """Queue nmcli commands ((arguments, timeout) pairs) to run in order; the first failure
        stops the rest and is logged. The connections are read again afterwards."""
        def job():
            for args, timeout in commands:
                status, text = self._nmcli(args, timeout)
                if status:
                    self.jobs.note(log.error, "network: nmcli %s failed (%d): %s",
                                   " ".join(args), status, text.strip())
                    break
            self._refresh()
        self.jobs.submit(job)
        self.jobs.report()

    def modify(self, uuid, changes, then):
        """Queue `nmcli connection modify UUID key value ...` followed by the `then` commands."""
        args = ["connection", "modify", uuid]
        for key, value in changes:
            args += [key, value]
        self.submit([(args, COMMAND_TIMEOUT)] + then)


def up(uuid):
    """The command that (re)activates a connection with its new settings."""
    return (["--wait", str(ACTIVATION_WAIT), "connection", "up", uuid], ACTIVATION_WAIT + 5)


def down(uuid):
    return (["connection", "down", uuid], COMMAND_TIMEOUT)


def reapply(device):
    """Applies DNS and gateway changes without taking the link down."""
    return (["device", "reapply", device], COMMAND_TIMEOUT)


def hostname(name):
    """Sets the static host name; "" clears it, so NetworkManager takes the one DHCP gives."""
    return (["general", "hostname", name], COMMAND_TIMEOUT)


def interface_changes(changes, connection):
    """(property, value) pairs for SetNetworkInterfaces `changes` (validated by agent.network) on
    an active connection; NetworkError for what the connection cannot hold."""
    kind, settings = connection["type"], connection["settings"]
    found = []
    if "enabled" in changes:
        found.append(("connection.autoconnect", _yes(changes["enabled"])))
    if "mtu" in changes:
        if kind not in MTU_KEYS:
            raise NetworkError(None, "a %s connection has no MTU setting" % kind)
        found.append((MTU_KEYS[kind], str(changes["mtu"])))
    if "link" in changes and kind != WIFI:  # 802.11: a Link in Set is ignored (checklist 8.3)
        if kind != ETHERNET:
            raise NetworkError("InvalidInterfaceType", "a %s connection has no link settings"
                               % kind)
        found += link_changes(changes["link"])
    if "ipv4" in changes:
        found += _ipv4_changes(changes["ipv4"], settings)
    if "ipv6" in changes:
        found += _ipv6_changes(changes["ipv6"], settings)
    return found


def link_changes(link):
    if link["auto"]:  # speed 0 and no duplex: advertise every mode
        return [(ETHERNET + ".auto-negotiate", "yes"), (ETHERNET + ".speed", "0"),
                (ETHERNET + ".duplex", "")]
    return [(ETHERNET + ".auto-negotiate", "no"), (ETHERNET + ".speed", str(link["speed"])),
            (ETHERNET + ".duplex", link["duplex"].lower())]


def _addresses_changes(family, given, settings, method):
    """The address list (when given) and a gateway cleared when no address is left for it:
    NetworkManager refuses a gateway without a manual address."""
    addresses = given if given is not None else parse_addresses(
        settings.get(family + ".addresses", ""))
    found = [] if given is None else [(family + ".addresses", _joined(given))]
    if method == "disabled":
        found = [(family + ".addresses", "")]
        addresses = []
    if not addresses and settings.get(family + ".gateway"):
        found.append((family + ".gateway", ""))
    return found, addresses


def _ipv4_changes(ipv4, settings):
    current = settings.get("ipv4.method", "auto")
    if not ipv4.get("enabled", current != "disabled"):
        method = "disabled"
    else:
        method = "auto" if ipv4.get("dhcp", current == "auto") else "manual"
    found, addresses = _addresses_changes("ipv4", ipv4.get("manual"), settings, method)
    if method == "manual" and not addresses:
        raise NetworkError("InvalidIPv4Address", "DHCP off needs a manual IPv4 address")
    return [("ipv4.method", method)] + found


# tt:IPv6DHCPConfiguration -> ipv6.method: NetworkManager's "auto" follows the router
# advertisement's M and O flags (SLAAC, then DHCPv6 as told), "dhcp" is DHCPv6 alone.
IPV6_DHCP = {"Auto": "auto", "Stateless": "auto", "Stateful": "dhcp"}
IPV6_METHOD_DHCP = {"auto": "Auto", "dhcp": "Stateful"}


def _ipv6_changes(ipv6, settings):
    current = settings.get("ipv6.method", "auto")
    given = ipv6.get("manual")
    if not ipv6.get("enabled", current not in ("disabled", "ignore")):
        method = "disabled"
    else:
        dhcp = ipv6.get("dhcp", IPV6_METHOD_DHCP.get(current, "Off"))
        method = IPV6_DHCP.get(dhcp)
        if method is None:  # DHCPv6 off: router advertisements alone, or no autoconfiguration
            if ipv6.get("accept_router_advert", current == "auto"):
                method = "auto"
            else:
                manual = given if given is not None else parse_addresses(
                    settings.get("ipv6.addresses", ""))
                method = "manual" if manual else "link-local"
    found, _ = _addresses_changes("ipv6", given, settings, method)
    return [("ipv6.method", method)] + found


def dns_changes(from_dhcp, search, manual):
    """Get/SetDNS: manual servers of both families on the connection, DHCP's used or ignored."""
    ipv4 = [address for address in manual if ":" not in address]
    ipv6 = [address for address in manual if ":" in address]
    return [("ipv4.ignore-auto-dns", _yes(not from_dhcp)),
            ("ipv6.ignore-auto-dns", _yes(not from_dhcp)),
            ("ipv4.dns", ",".join(ipv4)), ("ipv6.dns", ",".join(ipv6)),
            ("ipv4.dns-search", ",".join(search))]


# Hard factory default (checklist 8.4 SetSystemFactoryDefault): DHCP, link-local, no manual
# address, gateway or DNS server, automatic MTU and link.
FACTORY = (("ipv4.method", "auto"), ("ipv4.addresses", ""), ("ipv4.gateway", ""),
           ("ipv4.dns", ""), ("ipv4.dns-search", ""), ("ipv4.ignore-auto-dns", "no"),
           ("ipv4.link-local", "enabled"), ("ipv6.method", "auto"), ("ipv6.addresses", ""),
           ("ipv6.gateway", ""), ("ipv6.dns", ""), ("ipv6.ignore-auto-dns", "no"),
           ("connection.autoconnect", "yes"), (ETHERNET + ".mtu", "0"),
           (ETHERNET + ".auto-negotiate", "yes"), (ETHERNET + ".speed", "0"),
           (ETHERNET + ".duplex", ""))
