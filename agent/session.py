"""One client connection, sans-IO: HTTP framing (agent.http) glued to the application.

`receive()` takes bytes from the peer, `step()` answers at most one request into `send`, a
callable taking bytes. The loop's server and the in-memory test client both drive this same
object, so everything above the socket is tested on both runtimes.
"""

from . import log
from .app import RequestContext
from .replies import Deferred
from .compat import utc_seconds
from .http import CLOSED, NEED_DATA, HttpConnection, HttpError, ResponseStream


class Session:
    """Bytes in, bytes out, for one connection. `closed` tells the transport to close."""

    def __init__(self, app, send, *, local_host, scheme="http", peer=None,
                 clock=utc_seconds, on_resume=None, **http_limits):
        """`on_resume()` is called when a deferred answer has been sent, so the transport
        flushes it and goes on with requests that arrived meanwhile."""
        self.app = app
        self.send = send
        self.local_host = local_host
        self.scheme = scheme
        self.peer = peer
        self.clock = clock
        self.conn = HttpConnection(**http_limits)
        self.closed = False
        self.on_resume = on_resume
        self.waiting = None  # the Deferred the current request waits for

    @property
    def busy(self):
        """Part of a request has arrived and is not yet answered (the server's deadlines)."""
        return self.conn.buffered

    def receive(self, data):
        self.conn.receive(data)

    def step(self):
        """Answer the next complete request, if any; True when one was answered (or handed
        to a Deferred: `waiting` then holds it and later requests wait their turn)."""
        if self.closed or self.waiting is not None:
            return False
        try:
            event = self.conn.next_event()
        except HttpError as exc:
            log.info("HTTP %d to %s: %s", exc.status, self.peer, exc.message)
            self.send(self.conn.error_response(exc))
            self.closed = True
            return False
        interim = self.conn.pending_output()
        if interim:
            self.send(interim)
        if event is NEED_DATA:
            return False
        if event is CLOSED:
            self.closed = True
            return False
        self.answer(event)
        return True

    def answer(self, request):
        ctx = RequestContext(self.host_of(request), self.scheme, self.clock(), self.peer)
        reply = self.app.handle(request, ctx)
        if isinstance(reply, Deferred):
            if reply.reply is None:
                self.waiting = reply
                reply.when_settled(self._deferred_reply)
                return
            reply = reply.reply  # settled before the handler returned
        self._stream(reply)

    def _deferred_reply(self, reply):
        if reply is None:
            return  # cancelled: the connection is gone (abandon)
        self.waiting = None
        self._stream(reply)
        if self.on_resume is not None:
            self.on_resume()

    def _stream(self, reply):
        stream = ResponseStream(self.conn, reply.status, reply.headers, self.send)
        reply.write(stream.write)
        stream.close()
        if self.conn.must_close:
            self.closed = True

    def abandon(self):
        """The connection is gone: a handler still holding the request lets go of it."""
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            waiting.cancel()

    def host_of(self, request):
        """The host[:port] the client addressed (for XAddrs), if it is a plain authority."""
        host = request.header("host")
        if host and _is_authority(host):
            return host
        return self.local_host


_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."


def _is_authority(text):
    """host[:port] with host a DNS name, IPv4 literal or [IPv6] literal (RFC 3986 3.2)."""
    if len(text) > 255:
        return False
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return False
        host, rest = text[1:end], text[end + 1:]
        if not host or any(c not in "0123456789abcdefABCDEF:." for c in host):
            return False
    else:
        host, _, port = text.partition(":")
        rest = ":" + port if _ else ""
        if not host or any(c not in _NAME_CHARS for c in host):
            return False
    if rest:
        return rest[0] == ":" and 0 < len(rest) <= 6 and rest[1:].isdigit()
    return True
