"""The NTP client on the agent's loop: while the device clock is in NTP mode it asks the
configured servers for the time and sets the device clock's offset from it (checklist 8.4 #6,
#7; 8.3 #6, #7 name the servers; 8.7 LastClockSynchronization on each synchronisation).

The packets are agent.ntp; this module owns the socket and the timers. Servers are asked one at
a time, in order, each on its own connected non-blocking UDP socket registered on the loop with a
QUERY_TIMEOUT_MS deadline; the first usable reply synchronises the clock and the next round comes
POLL_MS later, a round where no server answered is retried after RETRY_MS, doubling up to POLL_MS.
Kiss-o'-Death codes are honoured: RATE rests that server, DENY and RSTR drop it until restart.

Host names: resolving one blocks (getaddrinfo), so `threaded_resolver` runs it in a thread and
hands the addresses back with loop.call_soon_threadsafe. A runtime without threads has no
resolver: there only IP literals are asked and each name is skipped with one log line.
"""

from . import log, ntp
from .clock import NTP_FROM_DHCP, NTP_SERVERS
from .compat import WOULD_BLOCK, start_thread, urandom
from .loop import POLLIN

QUERY_TIMEOUT_MS = 2000       # per server, name resolution included
POLL_MS = 1024 * 1000         # RFC 5905's default longest poll interval, 2^10 s
RETRY_MS = 64 * 1000          # after a round with no answer; doubled up to POLL_MS
RATE_REST_MS = 2 * POLL_MS    # a RATE kiss rests the server this long, doubled on each kiss
MAX_REST_MS = 131072 * 1000   # RFC 5905 MAXPOLL, 2^17 s (36 h)
READS_PER_WAKEUP = 4          # a datagram flood must not hold the loop


def parse_server(text):
    """(host, port) of a server string: "host", "host:port", an IPv4 literal, an IPv6 literal
    ("2001:db8::1") or one in brackets with a port ("[::1]:1123"). Raises ValueError."""
    text = text.strip()
    port = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError("NTP server %r" % text)
            port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host = text
    if not host or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError("NTP server %r" % text)
    return host, ntp.PORT if port is None else int(port)


def is_literal(host):
    """True for an IPv4 or IPv6 address literal: those need no (blocking) name resolution."""
    if ":" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def numeric_addresses(host, port):
    """[(family, sockaddr)] of an address literal (getaddrinfo does not block on those)."""
    import socket
    flags = getattr(socket, "AI_NUMERICHOST", 0)
    return [(info[0], info[4]) for info in socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM,
                                                               0, flags)]


def threaded_resolver(loop):
    """A `resolve(host, port, done)` that runs getaddrinfo in a thread and calls
    `done(addresses, error)` in the loop's thread; None on a runtime without threads."""
    if start_thread is None:
        return None

    def resolve(host, port, done):
        def work():
            import socket
            try:
                found = [(info[0], info[4]) for info in
                         socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)]
                error = None
            except (OSError, UnicodeError, ValueError) as exc:  # gaierror is an OSError
                found, error = [], exc
            loop.call_soon_threadsafe(lambda: done(found, error))
        start_thread(work)
    return resolve


def open_udp(family, sockaddr):
    """A non-blocking UDP socket connected to `sockaddr`: only that address's datagrams reach
    it, and an ICMP port-unreachable comes back as ECONNREFUSED."""
    import socket
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def device_dhcp_servers(device):
    """The NTP servers DHCP named, from the device's network backend (none without one)."""
    network = getattr(device, "network", None)
    return network.dhcp_ntp_servers() if network is not None else []


class NtpClient:
    """Keeps `clock` (agent.clock.DeviceClock) on the servers' time while its mode is NTP.

    `dhcp_servers()` lists the servers DHCP named (used when `ntp_from_dhcp` is on); `resolve`
    is a resolver like threaded_resolver's (None: names are skipped); `udp(family, sockaddr)`
    opens the query socket (open_udp)."""

    def __init__(self, loop, clock, settings, bus, dhcp_servers=None, resolve=None,
                 udp=open_udp):
        self.loop = loop
        self.clock = clock
        self.settings = settings
        self.bus = bus
        self.dhcp_servers = dhcp_servers or (lambda: [])
        self.resolve = resolve
        self.udp = udp
        self.synchronized = 0        # successful synchronisations, for logs and tests
        self._round = []             # servers still to ask in this round
        self._failures = 0           # rounds in a row without an answer
        self._timer = None           # the next round
        self._query = None           # the _Query in flight
        self._denied = []            # servers that sent DENY or RSTR
        self._resting = {}           # server -> (loop time it may be asked again, rest ms)
        self._unresolved = []        # names already logged as skipped (no resolver)

    def servers(self):
        """The servers NTP mode uses: the manual ones, then DHCP's when NTPFromDHCP (8.3 #6)."""
        servers = list(self.settings.get(NTP_SERVERS) or [])
        if self.settings.get(NTP_FROM_DHCP) is True:
            servers += [s for s in self.dhcp_servers() if s not in servers]
        return servers

    def start(self):
        self.sync_now()

    def sync_now(self):
        """Synchronise now if the clock is in NTP mode (start, SetSystemDateAndTime, SetNTP),
        else stop querying (the mode went back to Manual)."""
        self._failures = 0
        self._new_round()

    def close(self):
        self._stop()

    # -- rounds ----------------------------------------------------------------------------

    def _stop(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._end_query()
        self._round = []

    def _new_round(self):
        self._stop()
        if self.clock.mode != "NTP":
            return
        now = self.loop.clock()
        self._round = [s for s in self.servers() if s not in self._denied
                       and self._resting.get(s, (now, 0))[0] <= now]
        self._next()

    def _schedule(self, delay_ms):
        self._timer = self.loop.call_later(delay_ms, self._new_round)

    def _next(self):
        """Ask the round's next server, or end the round without an answer."""
        self._end_query()
        if self.clock.mode != "NTP":
            self._stop()
            return
        if not self._round:
            self._round_failed()
            return
        query = self._query = _Query(self._round.pop(0))
        try:
            host, port = parse_server(query.server)
        except ValueError as exc:
            self._failed(query, exc)
            return
        # The deadline covers name resolution too; a late answer finds its query outdated.
        query.deadline = self.loop.call_later(
            QUERY_TIMEOUT_MS, lambda: self._failed(query, "no answer"))
        if is_literal(host):
            try:
                found, error = numeric_addresses(host, port), None
            except OSError as exc:  # e.g. an IPv6 literal on a runtime without IPv6
                found, error = [], exc
            self._resolved(query, found, error)
        elif self.resolve is None:
            if query.server not in self._unresolved:
                self._unresolved.append(query.server)
                log.warning("NTP: %s skipped: this runtime cannot resolve names without "
                            "blocking, give an address", query.server)
            self._failed(query, "a name")
        else:
            self.resolve(host, port, lambda found, error: self._resolved(query, found, error))

    def _resolved(self, query, found, error):
        if query is not self._query:
            return
        if not found:
            self._failed(query, "cannot resolve: %s" % error)
            return
        family, sockaddr = found[0]
        cookie = bytearray(urandom(8))
        cookie[7] |= 1  # never all zero: servers treat a zero transmit timestamp as invalid
        query.cookie = bytes(cookie)
        try:
            query.sock = self.udp(family, sockaddr)
            self.loop.register(query.sock, POLLIN, lambda events: self._readable(query))
            query.sent_ms = self.clock.host_ms()
            query.sock.send(ntp.request(query.cookie))
        except OSError as exc:
            self._failed(query, exc)

    def _readable(self, query):
        if query is not self._query:
            return
        for _ in range(READS_PER_WAKEUP):
            try:
                reply = query.sock.recv(512)
            except OSError as exc:
                if exc.args[0] not in WOULD_BLOCK:  # ECONNREFUSED: nothing listens there
                    self._failed(query, exc)
                return
            try:
                sample = ntp.measure(reply, query.cookie, query.sent_ms, self.clock.host_ms())
            except ntp.NotOurReply:
                continue  # not the answer: keep waiting for it until the deadline
            except ntp.KissOfDeath as kiss:
                self._kissed(query.server, kiss.code)
                self._failed(query, kiss)
                return
            except ntp.NtpError as exc:
                self._failed(query, exc)
                return
            self._synchronized(query.server, sample)
            return

    def _failed(self, query, why):
        """`query` gave nothing: on to the round's next server."""
        if query is not self._query:
            return
        log.debug("NTP: %s: %s", query.server, why)
        self._next()

    def _kissed(self, server, code):
        if code in ntp.STOP_CODES:
            self._denied.append(server)
            log.warning("NTP: %s refuses us (kiss-o'-death %s): not asked again until restart",
                        server, code)
        elif code == ntp.RATE_CODE:
            rest = min(MAX_REST_MS, self._resting.get(server, (0, RATE_REST_MS // 2))[1] * 2)
            self._resting[server] = (self.loop.clock() + rest, rest)
            log.warning("NTP: %s asks us to slow down (kiss-o'-death RATE): resting it %d s",
                        server, rest // 1000)

    def _synchronized(self, server, sample):
        self._end_query()
        self._round = []
        # The mode may have gone back to Manual while the query ran: keep the device's time.
        if self.clock.mode == "NTP":
            step = sample.offset_ms - self.clock.offset_ms()
            self.clock.synchronize(sample.offset_ms)
            self.clock.announce_synchronization(self.bus)
            self.synchronized += 1
            self._resting.pop(server, None)
            self._failures = 0
            (log.info if self.synchronized == 1 or abs(step) > 1000 else log.debug)(
                "NTP: clock synchronised with %s: stepped %+d ms (round trip %d ms, stratum %d)",
                server, step, sample.delay_ms, sample.stratum)
            self._schedule(POLL_MS)

    def _round_failed(self):
        delay = min(POLL_MS, RETRY_MS << min(self._failures, 8))
        self._failures += 1
        if self._failures == 1:
            log.warning("NTP: no server answered (%s); retrying every %d s or more",
                        ", ".join(self.servers()) or "none configured", delay // 1000)
        self._schedule(delay)

    def _end_query(self):
        """Forget the query in flight: its deadline and its socket; callbacks of it still to
        come find it is no longer `_query` and do nothing."""
        query, self._query = self._query, None
        if query is None:
            return
        if query.deadline is not None:
            query.deadline.cancel()
        if query.sock is not None:
            self.loop.unregister(query.sock)
            query.sock.close()


class _Query:
    """One server asked once: its socket, the cookie the reply must echo, the send time."""

    def __init__(self, server):
        self.server = server
        self.sock = None
        self.cookie = None
        self.sent_ms = 0
        self.deadline = None
