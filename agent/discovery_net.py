"""WS-Discovery over SOAP-over-UDP on the selector loop (checklist 7).

The protocol is agent.discovery (sans-IO); this module owns its sockets, one per IP version, both
on port 3702: the group 239.255.255.250 joined on every IPv4 interface address and FF02::C on
every interface with an IPv6 address (re-read every RECHECK_MS, with a Hello on each new one),
reply delays and SOAP-over-UDP repeats as loop timers, Hello on start and on metadata change, Bye
on stop and when the device becomes NonDiscoverable. Nothing here blocks or sleeps.

A *link* is where a group is joined and multicast: for IPv4 an interface address (the kernel
names the interface by one of its addresses), for IPv6 an interface index. Each link has the
hosts its XAddrs name; only addresses where the device serves HTTP are ever named.
"""

import errno
import socket
import struct

from . import compat, log
from .compat import WOULD_BLOCK
# SOAP-over-UDP Appendix I: repeats wait a random UDP_MIN..UDP_MAX delay, doubling each time,
# capped at UDP_UPPER.
from .discovery import (APP_MAX_DELAY, DISCOVERY_ADDR_V4, DISCOVERY_ADDR_V6, MAX_DATAGRAM, PORT,
                        UDP_MAX_DELAY, UDP_MIN_DELAY, UDP_UPPER_DELAY, scoped, xaddr_hosts)
from .loop import POLLIN

RECHECK_MS = 10000      # interface addresses change rarely; DHCP renewals are minutes apart
READS_PER_WAKEUP = 8    # a datagram flood must not starve the HTTP clients on the same loop

# Linux's IP_PKTINFO tells which local address a datagram reached and whether it was sent to the
# group; Python 3.11 names the option only on some builds. Asked only where recvmsg() exists.
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


class DiscoveryService:
    """Runs a `Discovery` on the loop while the device is Discoverable."""

    def __init__(self, loop, discovery, scopes, *, rand, addresses, port=PORT,
                 interfaces6=compat.interface_addresses6, sockets=socket):
        """`addresses()` lists the addresses the device serves HTTP on (the CLI passes the
        --bind address, or every interface's when binding to all), IPv6 link-local ones with
        their zone; `interfaces6()` lists the host's (IPv6 address, interface name) pairs;
        `sockets` is the socket module (tests pass a board's, tests/fake_usocket.py)."""
        self.loop = loop
        self.discovery = discovery
        self.scopes = scopes
        self.rand = rand
        self.port = port
        self.addresses = addresses
        self.families = [_IPv4(sockets)]
        if hasattr(sockets, "IPV6_RECVPKTINFO"):  # a runtime with IPv6 multicast (RFC 3542)
            self.families.append(_IPv6(interfaces6, sockets))
        self.running = False
        self._recheck = None
        self._off = []  # families that could not listen: not retried until the next start
        scopes.on_change.append(self._changed)

    # -- life cycle -------------------------------------------------------------------------

    def start(self):
        """Listen and announce, if the device is Discoverable (checklist 7 Modes), on each IP
        version the device serves; raises OSError if it serves some and can listen on none.
        A version served later (a board's Wi-Fi joining after the start) opens at a re-check."""
        if self.scopes.mode != "Discoverable" or self.running:
            return
        served = self.addresses()
        failures = []
        self._off = []
        for family in self.families:
            if family.find_links(served):
                exc = self._open(family)
                if exc is not None:
                    failures.append((family, exc))
        if failures and not self._open_families():
            raise failures[0][1]
        for family, exc in failures:  # e.g. a machine with IPv6 turned off: IPv4 only
            self._turn_off(family, exc)
        self.running = True
        self._refresh()

    def _open(self, family):
        """Listen on `family`'s socket; the OSError if it cannot, else None."""
        try:
            self.port = family.open(self.port)
        except OSError as exc:
            return exc
        self.loop.register(family.sock, POLLIN,
                           lambda events, family=family: self._readable(family))
        return None

    def _turn_off(self, family, exc):
        log.warning("WS-Discovery over %s off: %s", family.name, exc)
        self._off.append(family)

    def stop(self):
        """Say Bye (best effort, at once) on every link and stop listening."""
        if not self.running:
            return
        send = self.discovery.bye()
        for family in self._open_families():
            for link in family.joined:
                family.send_multicast(send.data, link, self.port)
            self.loop.unregister(family.sock)
            family.close()
        log.info("WS-Discovery stopped: %s", " ".join(
            "%s=%d" % item for item in sorted(self.discovery.stats.items())))
        self.running = False
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None

    def _changed(self, kind):
        if kind == "mode":
            if self.scopes.mode == "Discoverable":
                self.start()
            else:
                self.stop()
        else:  # scopes changed: Hello with the new MetadataVersion
            self.announce()

    def announce(self):
        """Hello on every joined link, if running: scopes, addresses or ports changed."""
        if self.running:
            for family in self._open_families():
                for link in family.joined:
                    self._schedule(self.discovery.hello(family.links[link]), family, link)

    def _open_families(self):
        return [family for family in self.families if family.sock is not None]

    # -- interfaces -----------------------------------------------------------------------------

    def _refresh(self):
        """Re-read the links; join the group on new ones and say Hello there, and again where
        a link's addresses changed (checklist 7: joining the network, address change)."""
        served = self.addresses()
        for family in self.families:
            if family.sock is None:
                if family in self._off or not family.find_links(served):
                    continue
                exc = self._open(family)  # its first address: a late link (issue 9 boards)
                if exc is not None:
                    self._turn_off(family, exc)
                    continue
            before = family.links
            family.links = family.find_links(served)
            family.joined = [link for link in family.joined if link in family.links]
            for link, hosts in family.links.items():
                if link not in family.joined:
                    if not family.join(link, hosts):
                        continue
                    family.joined.append(link)
                elif hosts == before.get(link):
                    continue
                self._schedule(self.discovery.hello(hosts), family, link,
                               self.rand(APP_MAX_DELAY + 1))
        self._recheck = self.loop.call_later(RECHECK_MS, self._refresh)

    # -- receiving ------------------------------------------------------------------------------

    def _readable(self, family):
        for _ in range(READS_PER_WAKEUP):
            try:
                data, source, link, multicast = family.receive()
            except OSError as exc:
                if exc.args[0] not in WOULD_BLOCK:
                    log.warning("WS-Discovery receive failed: %r", exc)
                return
            for send in self.discovery.receive(data, source, family.hosts(link), multicast):
                self._schedule(send, family, link)

    # -- sending --------------------------------------------------------------------------------

    def _schedule(self, send, family, link, delay=None):
        """Send `send` after its delay, then its SOAP-over-UDP repeats."""
        wait = send.delay_ms if delay is None else delay
        self.loop.call_later(wait, lambda: self._send(send, family, link, send.repeats,
                                                      UDP_MIN_DELAY + self.rand(
                                                          UDP_MAX_DELAY - UDP_MIN_DELAY + 1)))

    def _send(self, send, family, link, repeats_left, next_delay):
        if family.sock is None:
            return  # stopped meanwhile
        if send.destination is None:
            family.send_multicast(send.data, link, self.port)
        else:
            try:
                family.sock.sendto(send.data, send.destination)
            except OSError as exc:
                log.info("WS-Discovery reply to %s failed: %r", send.destination, exc)
        if repeats_left > 0:
            self.loop.call_later(next_delay, lambda: self._send(
                send, family, link, repeats_left - 1, min(next_delay * 2, UDP_UPPER_DELAY)))


class _Family:
    """One IP version's socket, its links and the group joined on them."""

    def __init__(self, sockets, af, wildcard, group, level, multicast_if, add_membership):
        self.sockets = sockets
        self.af = af
        self.wildcard = wildcard
        self.group = group
        self.level = level
        self.multicast_if = multicast_if
        self.add_membership = add_membership
        self.sock = None
        self.links = {}   # link -> the hosts its XAddrs name, as of the last re-check
        self.joined = []  # links whose group membership holds

    def open(self, port):
        """Bind the port (0: any) and return it."""
        sockets = self.sockets
        sock = sockets.socket(self.af, sockets.SOCK_DGRAM)
        try:
            sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)
            self.configure(sock)
            sock.bind((self.wildcard, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.links = {}
        self.joined = []
        return compat.local_address(sock, (self.wildcard, port))[1]

    def close(self):
        self.sock.close()
        self.sock = None

    def join(self, link, hosts):
        """Join the group on `link`; False (logged) where that failed."""
        try:
            self.sock.setsockopt(self.level, self.add_membership, self.membership(link))
        except OSError as exc:
            if exc.args[0] == errno.EADDRINUSE:
                return True  # still a member from before the link's address went away
            log.warning("WS-Discovery: cannot join %s on %s: %s", self.group, hosts[0], exc)
            return False
        except ValueError:  # MicroPython 1.24.0's rp2 wants 40 bytes (micropython#16100)
            log.warning("WS-Discovery: cannot join %s on %s: this firmware refuses the "
                        "membership; update MicroPython", self.group, hosts[0])
            return False
        return True

    def send_multicast(self, data, link, port):
        try:
            if self.multicast_if is not None:  # else the runtime's one interface (_IPv4)
                self.sock.setsockopt(self.level, self.multicast_if, self.interface(link))
            self.sock.sendto(data, (self.group, port))
        except OSError as exc:
            log.info("WS-Discovery multicast on %s failed: %r", link, exc)


class _IPv4(_Family):
    """MicroPython's lwIP ports (esp32: ports/esp32/modsocket.c, rp2: extmod/modlwip.c) name
    neither IP_MULTICAST_IF nor IP_MULTICAST_TTL and print a warning for any option they do not
    implement, so those are only set where named: a board has one Wi-Fi interface, which lwIP
    multicasts on, at its own default TTL. Their sockets have no recvmsg() nor getsockname()."""

    name = "IPv4"

    def __init__(self, sockets=socket):
        _Family.__init__(self, sockets, sockets.AF_INET, "0.0.0.0", DISCOVERY_ADDR_V4,
                         sockets.IPPROTO_IP, getattr(sockets, "IP_MULTICAST_IF", None),
                         sockets.IP_ADD_MEMBERSHIP)

    def configure(self, sock):
        sockets = self.sockets
        ttl = getattr(sockets, "IP_MULTICAST_TTL", None)
        if ttl is not None:
            sock.setsockopt(sockets.IPPROTO_IP, ttl, 1)
        self._pktinfo = hasattr(sock, "recvmsg")
        if self._pktinfo:
            try:
                sock.setsockopt(sockets.IPPROTO_IP, _IP_PKTINFO, 1)
            except OSError:
                self._pktinfo = False

    def find_links(self, served):
        return {address: [address] for address in served if ":" not in address}

    def hosts(self, local):
        """Replies name the address the datagram reached, whichever it was."""
        return [local]

    def membership(self, address):
        """struct ip_mreq: the group, then the interface's address (lwIP takes the same 8
        bytes, in this order, and swaps them itself)."""
        return _packed4(self.group) + _packed4(address)

    def interface(self, address):
        return _packed4(address)

    def receive(self):
        """(datagram, source, local address it reached, sent to the group?)."""
        if self._pktinfo:
            sockets = self.sockets
            data, ancillary, _, source = self.sock.recvmsg(MAX_DATAGRAM + 1,
                                                           sockets.CMSG_SPACE(12))
            for level, kind, info in ancillary:
                if level == sockets.IPPROTO_IP and kind == _IP_PKTINFO and len(info) >= 12:
                    local = sockets.inet_ntoa(info[4:8])
                    destination = sockets.inet_ntoa(info[8:12])
                    return data, source, local, destination == self.group
        else:
            data, source = self.sock.recvfrom(MAX_DATAGRAM + 1)
        # Without packet info, treat it as multicast (the cautious choice: delayed replies,
        # silence on unsupported rules) and find our address the way the runtime allows.
        return data, source, self._local_to(source[0]), True

    def _local_to(self, ip):
        """The local address that reaches `ip`: the routing table's answer, or on a runtime
        whose sockets cannot tell (no getsockname: esp32, rp2) the board's one address."""
        if hasattr(self.sock, "getsockname"):
            return _route_to(self.sockets, ip)
        for address in self.links:
            return address
        return "0.0.0.0"


class _IPv6(_Family):
    """IPv6 needs IPV6_RECVPKTINFO (RFC 3542): a multicast datagram's destination says nothing
    of the interface it came in on, and the XAddrs are that interface's addresses."""

    name = "IPv6"

    def __init__(self, interfaces, sockets=socket):
        _Family.__init__(self, sockets, sockets.AF_INET6, "::", DISCOVERY_ADDR_V6,
                         sockets.IPPROTO_IPV6, sockets.IPV6_MULTICAST_IF, sockets.IPV6_JOIN_GROUP)
        self.interfaces = interfaces

    def configure(self, sock):
        if not hasattr(sock, "recvmsg"):
            raise OSError(errno.EOPNOTSUPP, "no recvmsg() for packet info")
        sockets = self.sockets
        sock.setsockopt(self.level, sockets.IPV6_V6ONLY, 1)  # IPv4 has its own socket
        sock.setsockopt(self.level, sockets.IPV6_MULTICAST_HOPS, 1)
        sock.setsockopt(self.level, sockets.IPV6_RECVPKTINFO, 1)

    def find_links(self, served):
        """{interface index: XAddr hosts} of the interfaces holding a served IPv6 address."""
        wanted = [_packed(self.sockets, host) for host in served if ":" in host]
        found = {}
        for address, interface in self.interfaces():
            host = scoped(address, interface)
            if _packed(self.sockets, host) not in wanted:
                continue
            try:
                index = self.sockets.if_nametoindex(interface)
            except OSError:
                continue  # gone since it was listed
            found.setdefault(index, []).append(host)
        return {index: xaddr_hosts(hosts) for index, hosts in found.items()}

    def hosts(self, index):
        """The XAddr hosts of the interface a datagram came in on: none (so no answer) where
        the device serves no address on it."""
        return self.links.get(index, [])

    def join(self, link, hosts):
        if "::1" in hosts:
            return False  # Linux's loopback has no multicast route: unicast only
        return _Family.join(self, link, hosts)

    def membership(self, index):
        return self.sockets.inet_pton(self.af, self.group) + struct.pack("@I", index)

    def interface(self, index):
        return index

    def receive(self):
        """(datagram, source (with its scope id), interface index, sent to a group?)."""
        data, ancillary, _, source = self.sock.recvmsg(MAX_DATAGRAM + 1,
                                                       self.sockets.CMSG_SPACE(20))
        for level, kind, info in ancillary:
            if level == self.level and kind == self.sockets.IPV6_PKTINFO and len(info) >= 20:
                # struct in6_pktinfo: the destination address, then the interface index
                return data, source, struct.unpack("@I", info[16:20])[0], info[0] == 0xff
        return data, source, None, True


def _packed(sockets, host):
    """An IPv6 host ("addr" or "addr%zone") in a form that compares equal however written."""
    address, _, zone = host.partition("%")
    return sockets.inet_pton(sockets.AF_INET6, address), zone


def _packed4(address):
    """A dotted IPv4 address as 4 bytes in network order: inet_aton, which MicroPython's socket
    module lacks on every port."""
    return bytes(int(part) for part in address.split("."))


def _route_to(sockets, ip):
    """The local address the routing table would use to reach `ip` (no packet is sent)."""
    probe = sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM)
    try:
        probe.connect((ip, 9))
        return compat.local_address(probe, ("0.0.0.0", 0))[0]
    except OSError:
        return "0.0.0.0"
    finally:
        probe.close()
