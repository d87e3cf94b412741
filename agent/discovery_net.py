"""WS-Discovery over SOAP-over-UDP on the selector loop (checklist 7).

The protocol is agent.discovery (sans-IO); this module owns its socket: port 3702, the group
239.255.255.250 joined on every IPv4 interface (re-read every RECHECK_MS, with a Hello on each new
address), reply delays and SOAP-over-UDP repeats as loop timers, Hello on start and on metadata
change, Bye on stop and when the device becomes NonDiscoverable. Nothing here blocks or sleeps.
"""

import socket
import struct

from . import log
from .compat import WOULD_BLOCK
# SOAP-over-UDP Appendix I: repeats wait a random UDP_MIN..UDP_MAX delay, doubling each time,
# capped at UDP_UPPER.
from .discovery import (DISCOVERY_ADDR_V4, MAX_DATAGRAM, PORT, UDP_MAX_DELAY, UDP_MIN_DELAY,
                        UDP_UPPER_DELAY)
from .loop import POLLIN

RECHECK_MS = 10000      # interface addresses change rarely; DHCP renewals are minutes apart
READS_PER_WAKEUP = 8    # a datagram flood must not starve the HTTP clients on the same loop

# Linux's IP_PKTINFO tells which local address a datagram reached and whether it was sent to the
# group; Python 3.11 names the option only on some builds.
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


class DiscoveryService:
    """Runs a `Discovery` on the loop while the device is Discoverable."""

    def __init__(self, loop, discovery, scopes, *, rand, addresses, port=PORT):
        """`addresses()` lists the IPv4 addresses whose interfaces discovery runs on (the CLI
        passes the --bind address, or every interface's when binding to all)."""
        self.loop = loop
        self.discovery = discovery
        self.scopes = scopes
        self.rand = rand
        self.port = port
        self.addresses = addresses
        self.sock = None
        self.joined = []
        self._recheck = None
        self._pktinfo = False
        scopes.on_change.append(self._changed)

    # -- life cycle -------------------------------------------------------------------------

    def start(self):
        """Listen and announce, if the device is Discoverable (checklist 7 Modes)."""
        if self.scopes.mode != "Discoverable" or self.sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", self.port))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            try:
                sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
                self._pktinfo = hasattr(sock, "recvmsg")
            except (OSError, AttributeError):
                self._pktinfo = False
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.joined = []
        self.port = sock.getsockname()[1]
        self.loop.register(sock, POLLIN, self._readable)
        self._join_new()
        self._recheck = self.loop.call_later(RECHECK_MS, self._recheck_addresses)

    def stop(self):
        """Say Bye (best effort, at once) and stop listening."""
        if self.sock is None:
            return
        send = self.discovery.bye()
        for address in self.joined:
            self._send_multicast(send.data, address)
        log.info("WS-Discovery stopped: %s", " ".join(
            "%s=%d" % item for item in sorted(self.discovery.stats.items())))
        self.loop.unregister(self.sock)
        self.sock.close()
        self.sock = None
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None

    def _changed(self, kind):
        if kind == "mode":
            if self.scopes.mode == "Discoverable":
                self.start()
            else:
                self.stop()
        elif self.sock is not None:  # scopes changed: Hello with the new MetadataVersion
            for address in self.joined:
                self._schedule(self.discovery.hello(address), address)

    # -- interfaces -----------------------------------------------------------------------------

    def _join_new(self):
        for address in self.addresses():
            if address in self.joined:
                continue
            try:
                membership = socket.inet_aton(DISCOVERY_ADDR_V4) + socket.inet_aton(address)
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            except OSError as exc:
                log.warning("WS-Discovery: cannot join %s on %s: %s", DISCOVERY_ADDR_V4,
                            address, exc)
                continue
            self.joined.append(address)
            # Hello when the device joins a network (checklist 7), after 0-500 ms.
            self._schedule(self.discovery.hello(address), address, self.rand(501))

    def _recheck_addresses(self):
        current = self.addresses()
        self.joined = [address for address in self.joined if address in current]
        self._join_new()
        self._recheck = self.loop.call_later(RECHECK_MS, self._recheck_addresses)

    # -- receiving ------------------------------------------------------------------------------

    def _readable(self, events):
        for _ in range(READS_PER_WAKEUP):
            try:
                data, source, local, multicast = self._receive()
            except OSError as exc:
                if exc.args[0] not in WOULD_BLOCK:
                    log.warning("WS-Discovery receive failed: %r", exc)
                return
            for send in self.discovery.receive(data, source, local, multicast):
                self._schedule(send, local)

    def _receive(self):
        """(datagram, source, local address it reached, sent to the group?)."""
        if self._pktinfo:
            data, ancillary, _, source = self.sock.recvmsg(MAX_DATAGRAM + 1,
                                                           socket.CMSG_SPACE(12))
            for level, kind, info in ancillary:
                if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(info) >= 12:
                    local = socket.inet_ntoa(info[4:8])
                    destination = socket.inet_ntoa(info[8:12])
                    return data, source, local, destination == DISCOVERY_ADDR_V4
        else:
            data, source = self.sock.recvfrom(MAX_DATAGRAM + 1)
        # Without packet info, treat it as multicast (the cautious choice: delayed replies,
        # silence on unsupported rules) and find our address by asking the routing table.
        return data, source, _route_to(source[0]), True

    # -- sending --------------------------------------------------------------------------------

    def _schedule(self, send, local, delay=None):
        """Send `send` after its delay, then its SOAP-over-UDP repeats."""
        wait = send.delay_ms if delay is None else delay
        self.loop.call_later(wait, lambda: self._send(send, local, send.repeats,
                                                      UDP_MIN_DELAY + self.rand(
                                                          UDP_MAX_DELAY - UDP_MIN_DELAY + 1)))

    def _send(self, send, local, repeats_left, next_delay):
        if self.sock is None:
            return  # stopped meanwhile
        if send.destination is None:
            self._send_multicast(send.data, local)
        else:
            try:
                self.sock.sendto(send.data, send.destination)
            except OSError as exc:
                log.info("WS-Discovery reply to %s failed: %r", send.destination, exc)
        if repeats_left > 0:
            self.loop.call_later(next_delay, lambda: self._send(
                send, local, repeats_left - 1, min(next_delay * 2, UDP_UPPER_DELAY)))

    def _send_multicast(self, data, local):
        try:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                 socket.inet_aton(local))
            self.sock.sendto(data, (DISCOVERY_ADDR_V4, self.port))
        except OSError as exc:
            log.info("WS-Discovery multicast on %s failed: %r", local, exc)


def _route_to(ip):
    """The local address the routing table would use to reach `ip` (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((ip, 9))
        return probe.getsockname()[0]
    except OSError:
        return "0.0.0.0"
    finally:
        probe.close()
