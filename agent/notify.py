"""WS-BaseNotification push: POSTs Notify envelopes to subscribers' consumers (checklist 10.3).

The sender lives on the agent's one loop: a non-blocking connect with a deadline, a deadline on
the whole response, a bounded number of retries, then the notification is dropped and logged.
Each consumer has its own queue and at most one connection, so a slow or dead consumer only ever
delays its own notifications. Consumer addresses are untrusted input from any client allowed to
Subscribe, so loopback, link-local, multicast and unspecified addresses are refused unless the
board allows them (an SSRF guard), host names again once resolved.

Decisions:
- http:// only. An https:// consumer is refused at Subscribe with a clear reason: a TLS client
  on the loop needs a non-blocking handshake, a trust store and name checks, and MicroPython
  boards have no ssl at all (checklist 11 reports TLS off there).
- A full queue refuses the new notification (post() returns False): the ones already queued
  keep their order, and the caller learns at once.
- Keep-alive: a connection the consumer keeps open carries the next Notify, else it is closed
  and the next one reconnects. An idle one is closed after IDLE_MS or when the consumer closes
  it; a reused connection found closed before any answer is reconnected once, uncounted.
- Retries follow transport failures, deadlines and 5xx/408/429 answers; any other status is
  final (the consumer refused this request; the same bytes would be refused again).
- Logs name a consumer by host and port only: a webhook's path is often its secret.
- Names are resolved off the loop (getaddrinfo blocks): in a short-lived thread through
  `compat.start_thread`, handed back with `loop.call_soon_threadsafe`. Where the runtime has no
  threads, host names are refused unless a `resolve` callable is given.
"""

import errno
import re

from . import compat, log
from .compat import IN_PROGRESS, WOULD_BLOCK
from .errors import ConsumerRefused  # noqa: F401 (raised here; importers catch it from here too)
from .loop import POLLERR, POLLHUP, POLLIN, POLLOUT

try:
    import socket
except ImportError:  # the WebAssembly test runtime has no sockets: only the sans-IO part runs there
    socket = None

NOTIFY_ACTION = "http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify"
CONTENT_TYPE = 'application/soap+xml; charset=utf-8; action="%s"' % NOTIFY_ACTION

MAX_URL = 2048       # a consumer address longer than this is not an address
MAX_HEAD = 8192      # status line and headers of a consumer's answer
MAX_LINE = 1024      # one chunk-size or trailer line
MAX_BODY = 65536     # answer body bytes read (and discarded) before the connection is given up
IDLE_MS = 15000      # an idle keep-alive connection is closed after this
RECV_SIZE = 4096

_NOT_NAME_CHAR = re.compile("[^-A-Za-z0-9_.]")  # a DNS name's letters (underscore: seen in LANs)
_NOT_ZONE_CHAR = re.compile("[^-A-Za-z0-9_.~]")  # RFC 6874 ZoneID: unreserved characters
_NOT_DIGIT = re.compile("[^0-9]")
_NOT_HEX = re.compile("[^0-9A-Fa-f]")
_NOT_HEX_BYTES = re.compile(b"[^0-9A-Fa-f]")
_NOT_VISIBLE = re.compile("[^!-~]")  # a URI is visible ASCII (RFC 3986); no CR/LF into the request


class Consumer:
    """A parsed consumer address. One per subscription: the sender keys queues by identity."""

    __slots__ = ("url", "host", "port", "path", "authority", "is_name")

    def __init__(self, url, host, port, path, authority, is_name):
        self.url = url
        self.host = host            # an IP literal (IPv6 unbracketed, zone after "%") or a name
        self.port = port
        self.path = path            # request-target: path and query
        self.authority = authority  # the Host header
        self.is_name = is_name      # resolved (and checked again) before every new connection

    def __repr__(self):
        return "Consumer(%r)" % self.url


# -- addresses -------------------------------------------------------------------------------------

def _ipv4_value(text):
    """The 32-bit value of a dotted-quad IPv4 address, or None (no octal or short forms)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not 1 <= len(part) <= 3 or _NOT_DIGIT.search(part) or (part[0] == "0" and part != "0"):
            return None
        if int(part) > 255:
            return None
        value = value << 8 | int(part)
    return value


def _ipv6_words(text, last):
    """16-bit words of one side of "::", or None; `last`: may end in a dotted quad."""
    if not text:
        return []
    words = []
    pieces = text.split(":")
    for i, piece in enumerate(pieces):
        if last and i == len(pieces) - 1 and "." in piece:
            v4 = _ipv4_value(piece)
            if v4 is None:
                return None
            words += [v4 >> 16, v4 & 0xFFFF]
        elif 1 <= len(piece) <= 4 and _NOT_HEX.search(piece) is None:
            words.append(int(piece, 16))
        else:
            return None
    return words


def _ipv6_value(text):
    """The 128-bit value of an IPv6 address text (RFC 4291 2.2, no zone), or None."""
    head, gap, tail = text.partition("::")
    left = _ipv6_words(head, not gap)
    right = _ipv6_words(tail, True)
    if left is None or right is None or "::" in tail:
        return None
    missing = 8 - len(left) - len(right)
    if missing < (1 if gap else 0) or (missing and not gap):
        return None
    value = 0
    for word in left + [0] * missing + right:
        value = value << 16 | word
    return value


def _ipv4_refusal(v4):
    first = v4 >> 24
    if first == 127:
        return "loopback"
    if first == 0:
        return "unspecified"
    if v4 >> 16 == 0xA9FE:  # 169.254/16
        return "link-local"
    if first >> 4 == 0xE:  # 224/4
        return "multicast"
    if v4 == 0xFFFFFFFF:
        return "broadcast"
    return None


def address_refusal(address):
    """Why an IP address may not be a consumer unless local ones are allowed ("loopback",
    "link-local", "multicast", "unspecified", "broadcast"), "not an IP address", or None."""
    address = address.split("%")[0]
    v4 = _ipv4_value(address)
    if v4 is not None:
        return _ipv4_refusal(v4)
    v6 = _ipv6_value(address) if ":" in address else None
    if v6 is None:
        return "not an IP address"
    if v6 == 1:
        return "loopback"
    if v6 == 0:
        return "unspecified"
    if v6 >> 118 == 0x3FA:  # fe80::/10
        return "link-local"
    if v6 >> 120 == 0xFF:
        return "multicast"
    if v6 >> 32 == 0xFFFF or v6 >> 32 == 0:  # IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d
        return _ipv4_refusal(v6 & 0xFFFFFFFF)
    return None


# -- consumer addresses ----------------------------------------------------------------------------

def can_resolve_names():
    """Whether this runtime can resolve host names without blocking the loop: it has sockets
    and `compat.start_thread` (None where the runtime has no threads)."""
    return socket is not None and compat.start_thread is not None


def parse_consumer(url, allow_local=False, names=None):
    """The Consumer of an http:// address, or ConsumerRefused with the reason.

    `names`: whether host names are accepted (None: where `can_resolve_names()`); an IP literal
    is checked here, a name after every resolution (see NotifySender).
    """
    if not isinstance(url, str) or not url:
        raise ConsumerRefused("the consumer address is empty")
    if len(url) > MAX_URL:
        raise ConsumerRefused("the consumer address is longer than %d characters" % MAX_URL)
    if _NOT_VISIBLE.search(url):
        raise ConsumerRefused("the consumer address has spaces or characters outside ASCII")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "https":
        raise ConsumerRefused("https consumers are not supported: give an http:// address")
    if not sep or scheme != "http":
        raise ConsumerRefused("the consumer address must start with http://")
    authority, path = _split_authority(rest)
    if "@" in authority:
        raise ConsumerRefused("the consumer address must not carry a user name or password")
    host, port = _split_port(authority)
    if host.startswith("["):
        host, is_name = _bracketed_ipv6(host), False
        refusal = address_refusal(host)
        header_host = "[%s]" % host.split("%")[0]  # the zone names our interface, not theirs
    else:
        host = host.lower()
        is_name = _ipv4_value(host) is None
        refusal = _name_refusal(host, names) if is_name else address_refusal(host)
        header_host = host
    if refusal and not allow_local:
        raise ConsumerRefused("consumer host %s is %s; such consumers are not allowed"
                              % (header_host, refusal))
    authority = header_host if port == 80 else "%s:%d" % (header_host, port)
    return Consumer(url, host, port, path, authority, is_name)


def _split_authority(rest):
    """(authority, request-target) of what follows "http://"; the fragment is never sent."""
    rest = rest.split("#")[0]
    end = len(rest)
    for mark in "/?":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    path = rest[end:]
    if not path.startswith("/"):
        path = "/" + path
    return rest[:end], path


def _split_port(authority):
    """(host, port) of an authority; the port defaults to 80 (RFC 9110 4.2.1)."""
    at = authority.rfind(":")
    if at < 0 or authority.endswith("]"):
        host, port = authority, ""
    else:
        host, port = authority[:at], authority[at + 1:]
    if not host:
        raise ConsumerRefused("the consumer address has no host")
    if not port:
        return host, 80
    if len(port) > 5 or _NOT_DIGIT.search(port) or not 1 <= int(port) <= 65535:
        raise ConsumerRefused("consumer port %s is not a port number (1-65535)" % port)
    return host, int(port)


def _bracketed_ipv6(host):
    """The address inside "[...]" as sockets take it: zone after "%" (RFC 6874 writes "%25")."""
    if not host.endswith("]"):
        raise ConsumerRefused("consumer host %s is not a valid IPv6 address" % host)
    address, pct, zone = host[1:-1].partition("%25")
    if _ipv6_value(address) is None or (pct and (not zone or _NOT_ZONE_CHAR.search(zone))):
        raise ConsumerRefused("consumer host %s is not a valid IPv6 address" % host)
    return address.lower() + ("%" + zone if pct else "")


def _name_refusal(host, names):
    """Why a host name is refused, as address_refusal() words it, or None."""
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or _NOT_NAME_CHAR.search(host) or "" in labels:
        raise ConsumerRefused("consumer host %s is not a valid host name" % host)
    last = labels[-1]
    if _NOT_DIGIT.search(last) is None or last.startswith("0x"):
        # "127.1", "2130706433", "0x7f.1": resolvers read these as IPv4 (inet_aton).
        raise ConsumerRefused("consumer host %s is not a dotted-quad IPv4 address" % host)
    if names is None:
        names = can_resolve_names()
    if not names:
        raise ConsumerRefused("consumer host %s is a name this device cannot resolve; "
                              "give an IP address" % host)
    if last == "localhost":  # RFC 6761 6.3: always loopback
        return "loopback"
    return None


def request_bytes(consumer, body):
    """The HTTP/1.1 POST carrying one Notify envelope (`body`, bytes) to `consumer`."""
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (consumer.path, consumer.authority, CONTENT_TYPE, len(body)))
    return head.encode() + body


# -- the consumer's answer -------------------------------------------------------------------------

class ResponseError(Exception):
    """A consumer's answer that cannot be read; str() says why."""


_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class ResponseReader:
    """Sans-IO reader of one HTTP/1.1 response (RFC 9112): its status and whether the connection
    can carry the next request. The body is counted and discarded; past MAX_BODY the exchange
    counts as complete and the connection is not reused, so a chatty consumer costs no memory."""

    def __init__(self):
        self.status = None
        self.keep_alive = False
        self.started = False  # any byte of an answer arrived
        self._buf = b""
        self._state = _HEAD
        self._left = 0  # bytes of the current body part still to skip
        self._body = 0

    def feed(self, data):
        """Take received bytes (b"": the consumer closed); True once the response is complete.
        Raises ResponseError for an answer that is malformed, too large or cut short."""
        if data:
            self.started = True
            self._buf += data
        while self._state != _DONE and self._step():
            pass
        if self._state == _DONE:
            if self._buf:
                self.keep_alive = False  # bytes nobody asked for: the stream cannot be trusted
            return True
        if data:
            return False
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
            return True
        raise ResponseError("connection closed before a complete answer" if self.started
                            else "connection closed without an answer")

    def _step(self):
        """Advance one state; False when more bytes are needed."""
        state = self._state
        if state == _HEAD:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0 and len(self._buf) <= MAX_HEAD:
                return False
            if end < 0 or end > MAX_HEAD:
                raise ResponseError("answer head over %d bytes" % MAX_HEAD)
            head, self._buf = self._buf[:end], self._buf[end + 4:]
            self._head(head.split(b"\r\n"))
        elif state == _LENGTH or state == _CHUNK_DATA:
            if not self._buf:
                return False
            n = min(self._left, len(self._buf))
            self._buf = self._buf[n:]
            self._left -= n
            if not self._left:
                self._state = _DONE if state == _LENGTH else _CHUNK_END
            self._count(n)
        elif state == _CHUNK_SIZE:
            line = self._line()
            if line is None:
                return False
            size = line.split(b";")[0].strip()
            if not size or len(size) > 8 or _NOT_HEX_BYTES.search(size):
                raise ResponseError("bad chunk size")
            self._left = int(size, 16)
            self._state = _CHUNK_DATA if self._left else _TRAILER
        elif state == _CHUNK_END:
            if len(self._buf) < 2:
                return False
            if self._buf[:2] != b"\r\n":
                raise ResponseError("chunk not followed by CRLF")
            self._buf = self._buf[2:]
            self._state = _CHUNK_SIZE
        elif state == _TRAILER:
            line = self._line()
            if line is None:
                return False
            if not line:
                self._state = _DONE
        else:  # _UNTIL_CLOSE: the body runs to the end of the stream
            n = len(self._buf)
            self._buf = b""
            self._count(n)
            return False
        return True

    def _line(self):
        at = self._buf.find(b"\r\n")
        if at < 0:
            if len(self._buf) > MAX_LINE:
                raise ResponseError("answer line over %d bytes" % MAX_LINE)
            return None
        line, self._buf = self._buf[:at], self._buf[at + 2:]
        return line

    def _count(self, n):
        self._body += n
        if self._body > MAX_BODY:
            self._state = _DONE
            self.keep_alive = False

    def _head(self, lines):
        parts = lines[0].split(b" ", 2)
        if (len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3
                or not parts[1].isdigit()):
            raise ResponseError("malformed status line")
        status = int(parts[1])
        if status < 200:
            if status == 101:
                raise ResponseError("unexpected 101 Switching Protocols")
            return  # an interim answer (100 Continue): the final one follows
        tokens, codings, length = [], [], None
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise ResponseError("malformed header line")
            name, value = name.strip().lower(), value.strip()
            if name == b"connection":
                tokens += [t.strip().lower() for t in value.split(b",")]
            elif name == b"transfer-encoding":
                codings += [t.strip().lower() for t in value.split(b",")]
            elif name == b"content-length":
                if not value.isdigit() or len(value) > 9 or (length is not None and
                                                             int(value) != length):
                    raise ResponseError("bad Content-Length")
                length = int(value)
        self.status = status
        if parts[0] == b"HTTP/1.0":
            self.keep_alive = b"keep-alive" in tokens
        else:
            self.keep_alive = b"close" not in tokens
        # RFC 9112 6.3: no body for 204 and 304; chunked wins over Content-Length (and then the
        # connection must close); otherwise Content-Length, or the body runs until close.
        if status == 204 or status == 304:
            self._state = _DONE
        elif codings:
            self._state = _CHUNK_SIZE if codings[-1] == b"chunked" else _UNTIL_CLOSE
            self.keep_alive = self.keep_alive and length is None and codings[-1] == b"chunked"
        elif length is not None:
            self._left = length
            self._state = _LENGTH if length else _DONE
        else:
            self._state = _UNTIL_CLOSE
            self.keep_alive = False


def retryable(status):
    """Whether a failed answer is worth sending again: the consumer's trouble, not our request's."""
    return status >= 500 or status == 408 or status == 429


# -- the sender ------------------------------------------------------------------------------------

class NotifySender:
    """Queues Notify POSTs per consumer and sends them from `loop`, never blocking it."""

    def __init__(self, loop, *, allow_local=False, connect_timeout_ms=5000,
                 response_timeout_ms=10000, retries=2, retry_delay_ms=1000, max_queued=32,
                 resolve=None):
        self.loop = loop
        self.allow_local = allow_local
        self.connect_timeout_ms = connect_timeout_ms    # name resolution and connect
        self.response_timeout_ms = response_timeout_ms  # from the first byte sent to the last read
        self.retries = retries
        self.retry_delay_ms = retry_delay_ms
        self.max_queued = max_queued  # per consumer, the one being sent included
        self.resolve = resolve if resolve is not None else _thread_resolver(loop)
        self._channels = {}

    def parse(self, url):
        """parse_consumer() with this sender's rules (local addresses, whether names resolve)."""
        return parse_consumer(url, self.allow_local, names=self.resolve is not None)

    def post(self, consumer, body, on_result=None):
        """Queue one Notify; False (and a log line) when the consumer's queue is full.

        `on_result(ok, reason)` runs on the loop once the POST got a 2xx answer or finally
        failed; it is not called for a refused post or after forget().
        """
        channel = self._channels.get(consumer)
        if channel is None:
            channel = self._channels[consumer] = _Channel(self, consumer)
        if len(channel.queue) >= self.max_queued:
            log.warning("Notify to %s dropped: %d already queued", consumer.authority,
                        len(channel.queue))
            return False
        channel.queue.append([body, on_result, 0])
        channel.start()
        return True

    def forget(self, consumer):
        """Drop the consumer's queue and close its connection (its subscription ended)."""
        channel = self._channels.pop(consumer, None)
        if channel is not None:
            channel.close()

    def close(self):
        for consumer in list(self._channels):
            self.forget(consumer)

    def queued(self, consumer):
        """How many notifications wait for `consumer`, the one under way included."""
        channel = self._channels.get(consumer)
        return len(channel.queue) if channel is not None else 0


def _thread_resolver(loop):
    """The default resolve(host, port, done): getaddrinfo in a short-lived thread, the result
    handed back on the loop. None where the runtime has no threads (names are then refused)."""
    if not can_resolve_names():
        return None

    def resolve(host, port, done):
        def work():
            try:
                found = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
                result = []
                for info in found:
                    sockaddr = info[-1]
                    # A runtime giving sockaddrs as bytes cannot have them checked: left out.
                    if isinstance(sockaddr, tuple) and sockaddr[0] not in result:
                        result.append(sockaddr[0])
            except OSError as exc:  # socket.gaierror included
                result = exc
            loop.call_soon_threadsafe(lambda: done(result))
        loop.enable_wakeup()
        compat.start_thread(work)
    return resolve


class _Channel:
    """One consumer: its queue of [body, on_result, failures] and its one connection."""

    def __init__(self, sender, consumer):
        self.sender = sender
        self.loop = sender.loop
        self.consumer = consumer
        self.queue = []
        self.sock = None
        self.connected = False
        self.busy = False  # the head of the queue is under way (or waiting for its retry)
        self.reused = False  # the request went out on a kept-alive connection
        self.timer = None
        self.token = 0  # bumped on every close: a late resolver answer is then ignored
        self.addresses = []
        self.out = b""
        self.reader = None

    # -- one attempt -------------------------------------------------------------------------------

    def start(self):
        """Send the head of the queue unless a notification is already under way."""
        if self.busy or not self.queue:
            return
        self.busy = True
        self._set_timer(None)
        if self.sock is not None:  # an idle keep-alive connection
            self.reused = True
            self._send()
            return
        self.reused = False
        sender = self.sender
        self._set_timer(sender.connect_timeout_ms, "no connection within %d ms"
                        % sender.connect_timeout_ms)
        if not self.consumer.is_name:
            self._connect_to([self.consumer.host])
        elif sender.resolve is None:
            self._failed("host names cannot be resolved here", retry=False)
        else:
            token = self.token
            sender.resolve(self.consumer.host, self.consumer.port,
                           lambda result: self._resolved(token, result))

    def _resolved(self, token, result):
        if token != self.token or not self.busy:
            return  # the attempt ended meanwhile (deadline, forget)
        if not isinstance(result, list):
            self._failed("cannot resolve %s: %s" % (self.consumer.host, _describe(result)))
        else:
            self._connect_to(result)

    def _connect_to(self, addresses):
        """Connect to the first allowed address; the others are tried if it fails (SSRF guard:
        a name's addresses are checked after every resolution)."""
        if not addresses:
            self._failed("%s resolves to no usable address" % self.consumer.host)
            return
        allowed = [a for a in addresses
                   if self.sender.allow_local or address_refusal(a) is None]
        if not allowed:
            self._failed("%s is %s; such consumers are not allowed" % (
                ", ".join(addresses), address_refusal(addresses[0])), retry=False)
            return
        self.addresses = allowed
        self._connect_next("")

    def _connect_next(self, reason):
        if not self.addresses:
            self._failed(reason)
            return
        address = self.addresses.pop(0)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = None
        try:
            # A numeric host: getaddrinfo only builds the sockaddr (zone included), no query.
            sockaddr = socket.getaddrinfo(address, self.consumer.port, family, socket.SOCK_STREAM,
                                          0, getattr(socket, "AI_NUMERICHOST", 0))[0][-1]
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(sockaddr)
            except OSError as exc:
                if exc.args[0] not in IN_PROGRESS:
                    raise
        except OSError as exc:
            if sock is not None:
                sock.close()
            self._connect_next(_describe(exc))
            return
        self.sock = sock
        self.connected = False
        self.loop.register(sock, POLLOUT, self._on_ready)

    def _send(self):
        self._set_timer(self.sender.response_timeout_ms, "no complete answer within %d ms"
                        % self.sender.response_timeout_ms)
        self.out = request_bytes(self.consumer, self.queue[0][0])
        self.reader = ResponseReader()
        self.loop.modify(self.sock, POLLIN | POLLOUT)
        self._flush()

    def _on_ready(self, events):
        sock = self.sock
        try:
            if not self.connected:
                error = _connect_error(self.sock, events)
                if error:
                    self._drop_socket()
                    self._connect_next(error)
                    return
                self.connected = True
                self._send()
                return
            if events & POLLOUT and self.out:
                self._flush()
            if events & (POLLIN | POLLERR | POLLHUP) and self.sock is sock:  # not a new one
                self._read()
        except Exception as exc:  # a bug must cost this consumer a notification, not the loop
            log.error("Notify to %s failed: %r", self.consumer.authority, exc)
            if self.busy:
                self._failed(repr(exc))
            else:
                self._close()

    def _flush(self):
        try:
            sent = self.sock.send(self.out)
        except OSError as exc:
            if exc.args[0] not in WOULD_BLOCK:
                self._broken(_describe(exc))
            return
        self.out = self.out[sent:]
        if not self.out:
            self.loop.modify(self.sock, POLLIN)

    def _read(self):
        try:
            data = self.sock.recv(RECV_SIZE)
        except OSError as exc:
            if exc.args[0] not in WOULD_BLOCK:
                self._broken(_describe(exc))
            return
        if not self.busy:  # an idle keep-alive connection closed (or spoke out of turn)
            self._close()
            return
        try:
            complete = self.reader.feed(data)
        except ResponseError as exc:
            self._broken(str(exc))
            return
        if complete:
            self._answered()

    def _broken(self, reason):
        if self.reused and not self.reader.started:
            # The consumer closed the idle connection as we reused it: not its failure.
            self._close()
            self.busy = False
            self.start()
        else:
            self._failed(reason)

    def _answered(self):
        status = self.reader.status
        if not 200 <= status < 300:
            self._failed("HTTP %d" % status, retry=retryable(status))
            return
        if self.reader.keep_alive and not self.out:  # (an answer before our whole request: no)
            self._set_timer(IDLE_MS, None)
        else:
            self._close()
        self._finish(True, "HTTP %d" % status)

    # -- outcome -----------------------------------------------------------------------------------

    def _failed(self, reason, retry=True):
        """This attempt failed: retry after the delay, or drop the notification."""
        self._close()
        entry = self.queue[0]
        entry[2] += 1
        sender = self.sender
        if retry and entry[2] <= sender.retries:
            log.info("Notify to %s failed (%s): retry %d of %d in %d ms", self.consumer.authority,
                     reason, entry[2], sender.retries, sender.retry_delay_ms)
            self.timer = self.loop.call_later(sender.retry_delay_ms, self._retry)
            return
        log.warning("Notify to %s dropped after %d attempt%s: %s", self.consumer.authority,
                    entry[2], "" if entry[2] == 1 else "s", reason)
        self._finish(False, reason)

    def _retry(self):
        self.timer = None
        self.busy = False
        self.start()

    def _finish(self, ok, reason):
        on_result = self.queue.pop(0)[1]
        self.busy = False
        if on_result is not None:
            # Its own loop callback: whatever it does (post, forget) finds this channel settled.
            self.loop.call_later(0, lambda: on_result(ok, reason))
        self.start()

    # -- the connection ----------------------------------------------------------------------------

    def _set_timer(self, delay_ms, reason=None):
        """Replace the pending deadline: after `delay_ms` the attempt fails with `reason` (an
        idle connection closes when `reason` is None); no deadline when `delay_ms` is None."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if delay_ms is not None:
            self.timer = self.loop.call_later(
                delay_ms, self._close if reason is None else lambda: self._failed(reason))

    def _drop_socket(self):
        if self.sock is not None:
            self.loop.unregister(self.sock)
            self.sock.close()
            self.sock = None
        self.connected = False

    def _close(self):
        """Close the connection and end any attempt's pending step (the queue stays)."""
        self._set_timer(None)
        self._drop_socket()
        self.token += 1
        self.addresses = []
        self.out = b""

    def close(self):
        self._close()
        self.queue = []
        self.busy = False


def _connect_error(sock, events):
    """Why a non-blocking connect failed (SO_ERROR, else the poll bits), or None."""
    try:
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except (AttributeError, OSError):  # a port without getsockopt: the poll bits tell
        code = 0
    if code:
        return _describe(OSError(code))
    if events & (POLLERR | POLLHUP):
        return "connection failed"
    return None


def _describe(exc):
    """A short reason for an OSError ("ECONNREFUSED"), or its text."""
    if isinstance(exc, OSError) and exc.args and isinstance(exc.args[0], int):
        name = errno.errorcode.get(exc.args[0])
        if name:
            return name
    return str(exc) or repr(exc)
