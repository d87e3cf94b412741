"""HTTP transport on the selector loop: non-blocking sockets around agent.session.Session.

Every connection has deadlines (a request must arrive whole within `request_timeout_ms` of its
first byte, an idle keep-alive connection lives `idle_timeout_ms`, queued output must drain
within `send_timeout_ms`), its send queue is bounded (a client that does not read stops being
read from), and the number of connections is capped: at the cap, the least recently active
connection that owes nothing is dropped to make room, so idle sockets cannot lock out a client.
With `tls_context` the same server speaks HTTPS: each connection's Session is wrapped in an
agent.tls.TlsSession, and the TLS handshake must finish within the request deadline.
With `admit(peer)` (the IP address filter, agent.ipfilter, issue 8) a connection it refuses is
closed at once, before any byte is read or sent: no response tells a scanner what it found.
"""

import socket

from . import log
from .compat import IN_PROGRESS, WOULD_BLOCK, local_address
from .loop import POLLERR, POLLHUP, POLLIN, POLLOUT
from .session import Session

# Defaults sized for a small access controller on a LAN; each is a keyword of HttpServer.
MAX_CONNECTIONS = 64         # a handful of head ends and tools; fds stay far below ulimit
REQUEST_TIMEOUT_MS = 10000   # a SOAP request is a few KiB: 10 s is generous, and ends slowloris
IDLE_TIMEOUT_MS = 30000      # keep-alive reuse window; clients reconnect transparently
SEND_TIMEOUT_MS = 30000      # a peer that stops reading is dropped
MAX_PENDING_OUTPUT = 65536   # bytes queued for one peer before we stop reading its requests
RECV_SIZE = 4096             # one read's bound
ACCEPTS_PER_WAKEUP = 16      # so a connection flood cannot starve established clients
SWEEP_MS = 500               # how often deadlines are checked
REFUSED_LOG_MS = 10000       # one log line per 10 s about filtered peers: a scan cannot flood it

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class HttpServer:
    """Serves `app` over HTTP on `loop`; `start()` binds, `close()` releases everything."""

    def __init__(self, loop, app, *, bind="0.0.0.0", port=8080, tls_context=None, v6only=False,
                 max_connections=MAX_CONNECTIONS, request_timeout_ms=REQUEST_TIMEOUT_MS,
                 idle_timeout_ms=IDLE_TIMEOUT_MS, send_timeout_ms=SEND_TIMEOUT_MS,
                 max_pending_output=MAX_PENDING_OUTPUT, http_limits=None, admit=None):
        self.loop = loop
        self.app = app
        self.bind = bind
        self.port = port
        self.tls_context = tls_context
        self.v6only = v6only  # an IPv6 wildcard beside an IPv4 one on the same port
        self.scheme = "http" if tls_context is None else "https"
        self.max_connections = max_connections
        self.request_timeout_ms = request_timeout_ms
        self.idle_timeout_ms = idle_timeout_ms
        self.send_timeout_ms = send_timeout_ms
        self.max_pending_output = max_pending_output
        self.http_limits = http_limits or {}
        self.admit = admit
        self._refused = 0  # filtered connections not yet logged
        self._refused_logged = None  # clock() of the last such log line
        self.connections = []
        self.sock = None
        self._sweeper = None

    def start(self):
        """Bind and listen; raises OSError (e.g. EADDRINUSE) for the caller to report."""
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        addr = socket.getaddrinfo(self.bind, self.port, family, socket.SOCK_STREAM)[0][-1]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.v6only:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.port = local_address(sock, (self.bind, self.port))[1]  # the port 0 chose
        self.loop.register(sock, POLLIN, self._on_accept)
        self._sweeper = self.loop.call_later(SWEEP_MS, self._sweep)

    def stop_listening(self):
        """Close the listening socket only: connections already accepted finish (a
        SetNetworkProtocols response leaves on the old port after it moved, agent.protocols);
        the sweeper ends once they are gone."""
        if self.sock is not None:
            self.loop.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def close(self):
        for conn in list(self.connections):
            conn.close()
        if self.sock is not None:
            self.loop.unregister(self.sock)
            self.sock.close()
            self.sock = None
        if self._sweeper is not None:
            self._sweeper.cancel()

    def _on_accept(self, events):
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, peer = self.sock.accept()
            except OSError as exc:
                if exc.args[0] not in WOULD_BLOCK:
                    log.warning("accept failed: %r", exc)
                return
            if self.admit is not None and not self.admit(peer):
                sock.close()
                self._log_refused(peer)
                continue
            sock.setblocking(False)
            if len(self.connections) >= self.max_connections and not self._evict():
                # A TLS client could not read a plaintext 503.
                _send_and_close(sock, _BUSY if self.tls_context is None else b"")
                log.warning("refused %s: %d connections all busy", peer, len(self.connections))
                continue
            self.connections.append(_Connection(self, sock, peer))

    def _log_refused(self, peer):
        self._refused += 1
        now = self.loop.clock()
        if self._refused_logged is None or now - self._refused_logged >= REFUSED_LOG_MS:
            log.info("IP address filter: refused %s (%d refused connections since the last "
                     "such line)", peer, self._refused)
            self._refused = 0
            self._refused_logged = now

    def _evict(self):
        """Drop the least recently active connection that owes no response; False if none."""
        idle = [c for c in self.connections
                if not c.session.busy and not c.session.waiting and not c.pending]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c.last_active)
        log.info("connection limit: dropping idle %s", victim.peer)
        victim.close()
        return True

    def _sweep(self):
        now = self.loop.clock()
        for conn in list(self.connections):
            conn.check_deadline(now)
        if self.sock is None and not self.connections:
            self._sweeper = None  # stopped listening and every connection is done
            return
        self._sweeper = self.loop.call_later(SWEEP_MS, self._sweep)


class _Connection:
    """One accepted socket: reads into its Session, queues and flushes its output."""

    def __init__(self, server, sock, peer):
        self.server = server
        self.loop = server.loop
        self.sock = sock
        self.peer = peer
        self.out = []
        self.pending = 0
        self.last_active = self.loop.clock()
        # Clause 11: a TLS handshake counts as part of the first request, deadline from accept.
        self.request_started = None if server.tls_context is None else self.last_active
        self.send_started = None
        # Where the client reached us (the Host fallback for XAddrs); a board that cannot tell
        # names the address the server bound.
        local = local_address(sock, (server.bind, server.port))
        host = "[%s]" % local[0] if ":" in local[0] else local[0]

        def make_session(send):
            return Session(server.app, send, local_host="%s:%d" % (host, local[1]),
                           scheme=server.scheme, peer=peer, on_resume=self.resume,
                           **server.http_limits)
        if server.tls_context is None:
            self.session = make_session(self.queue)
        else:
            from .tls import TlsSession
            self.session = TlsSession(server.tls_context, make_session, self.queue, peer)
        self.throttled = False  # too much output queued: stop answering until it drains
        self.held = 0  # bytes received while a deferred answer is pending
        self.events = POLLIN
        self.loop.register(sock, POLLIN, self.on_ready)

    def queue(self, data):
        if data:
            self.out.append(data)
            self.pending += len(data)

    def on_ready(self, events):
        try:
            if events & (POLLERR | POLLHUP) and not events & POLLIN:
                self.close()
                return
            if events & POLLOUT:
                self.flush()
            if events & POLLIN and self.sock is not None:
                self.read()
        except Exception as exc:
            log.error("connection %s failed: %r", self.peer, exc)
            self.close()

    def read(self):
        try:
            data = self.sock.recv(RECV_SIZE)
        except OSError as exc:
            if exc.args[0] in WOULD_BLOCK:
                return
            self.close()
            return
        now = self.loop.clock()
        self.last_active = now
        if self.session.waiting:
            if not data:
                self.close()  # the client gave up on its answer: nobody is left to send it to
                return
            # Pipelined while an answer is pending: keep it, but no more than one queue's worth.
            self.held += len(data)
        elif data and not self.session.busy:
            self.request_started = now
        self.session.receive(data)
        self.process()

    def process(self):
        """Answer complete requests while the peer keeps up with reading our answers."""
        while not self.throttled and self.session.step():
            # A pipelined request already partly here starts its own deadline now.
            self.request_started = self.loop.clock()
            self.throttled = self.pending >= self.server.max_pending_output
        if not self.session.busy:
            self.request_started = None  # nothing part-way in (e.g. a TLS handshake just done)
        self.flush()

    def resume(self):
        """A deferred answer went out: send it and answer what was pipelined meanwhile."""
        self.last_active = self.loop.clock()
        self.held = 0
        self.process()

    def flush(self):
        while self.out:
            try:
                sent = self.sock.send(self.out[0])
            except OSError as exc:
                if exc.args[0] in WOULD_BLOCK or exc.args[0] in IN_PROGRESS:
                    break
                self.close()
                return
            self.pending -= sent
            if sent < len(self.out[0]):
                self.out[0] = self.out[0][sent:]
                break
            self.out.pop(0)
        if self.out:
            if self.send_started is None:
                self.send_started = self.loop.clock()
        else:
            self.send_started = None
            if self.session.closed:
                self.close()
                return
        if self.throttled and self.pending < self.server.max_pending_output:
            # The peer caught up: requests it pipelined while we held back can be answered.
            self.throttled = False
            self.process()
            return
        reading = not self.throttled and self.held < self.server.max_pending_output
        self._watch((POLLIN if reading else 0) | (POLLOUT if self.out else 0))

    def _watch(self, events):
        if events != self.events and self.sock is not None:
            self.events = events
            self.loop.modify(self.sock, events)

    def check_deadline(self, now):
        server = self.server
        if self.send_started is not None and now - self.send_started > server.send_timeout_ms:
            reason = "not reading its responses"
        elif self.session.waiting:
            return  # the operation bounds its own wait (a long-poll's Timeout, a serial TimeOut)
        elif self.request_started is not None and \
                now - self.request_started > server.request_timeout_ms:
            reason = "TLS handshake not complete in time" if getattr(
                self.session, "handshaking", False) else "request not complete in time"
        elif not self.session.busy and not self.out and \
                now - self.last_active > server.idle_timeout_ms:
            reason = None  # an ordinary keep-alive expiry
        else:
            return
        if reason:
            log.info("dropping %s: %s", self.peer, reason)
        self.close()

    def close(self):
        if self.sock is None:
            return
        self.loop.unregister(self.sock)
        self.sock.close()
        self.sock = None
        self.session.abandon()
        if self in self.server.connections:
            self.server.connections.remove(self)


def _send_and_close(sock, data):
    try:
        sock.send(data)
    except OSError:
        pass
    sock.close()
