"""Sans-IO HTTP/1.1 server connection (RFC 9110, RFC 9112): h11's model, server side only.

The loop feeds bytes with `receive()`, pulls complete requests with `next_event()` and frames each
answer with `start_response()` / `send_data()` / `end_response()` (or a `ResponseStream`). No
socket or clock is touched here, so the same tests run on CPython and MicroPython. Every refusal
of the peer's input is an `HttpError` carrying the status to answer (checklist 5.3, Table 6), and
`error_response()` renders it.

Connection states (one request at a time; pipelined bytes wait in the buffer):

    IDLE --head--> BODY --body--> WAIT --start_response--> SEND --end_response--> IDLE
                                                                               or MUST_CLOSE
    any --HttpError--> ERROR       (in MUST_CLOSE and ERROR, next_event() answers CLOSED)
"""

import re

from agent.errors import LocalProtocolError, RemoteProtocolError, Sentinel

# Apache (LimitRequestLine, LimitRequestFieldSize) and nginx (large_client_header_buffers) allow
# 8 KiB; an ONVIF request head is 300-700 bytes even with a Digest Authorization header.
MAX_HEAD = 8192
# The largest ONVIF requests we take (CreateUsers, SetRelayOutputSettings, SendAuxiliaryCommand)
# are a few KiB; 64 KiB stays affordable in a MicroPython heap (checklist 5.3, bounded input).
MAX_BODY = 65536
# Apache's LimitRequestFields is 100; SOAP clients send fewer than 15 header lines.
MAX_HEADERS = 64
# A ResponseStream answers bodies up to this size with Content-Length in one send (most ONVIF
# responses); larger ones go out as chunks of about this size: a few TCP segments, little RAM.
STREAM_BUFFER = 4096

REASONS = {
    100: "Continue", 200: "OK", 202: "Accepted", 204: "No Content", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable", 505: "HTTP Version Not Supported",
}


NEED_DATA = Sentinel("NEED_DATA")
CLOSED = Sentinel("CLOSED")

IDLE, BODY, WAIT, SEND, MUST_CLOSE, ERROR = "IDLE", "BODY", "WAIT", "SEND", "MUST_CLOSE", "ERROR"

# Validation searches for one *bad* character: MicroPython's regex engine recurses once per
# repetition, so `[...]+` over an 8 KiB name would overflow its stack.
_NOT_TCHAR = re.compile("[^-!#$%&'*+.^_`|~0-9A-Za-z]")  # RFC 9110 §5.6.2 token
_NOT_VCHAR = re.compile("[^!-~]")  # request-target: visible ASCII (RFC 9112 §3.2, RFC 3986)
_NOT_DIGIT = re.compile("[^0-9]")
_NOT_HEX = re.compile(b"[^0-9A-Fa-f]")
_CTL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NUL is tested apart: C-string patterns
_VERSION = re.compile("HTTP/[0-9][.][0-9]")  # RFC 9112 §2.3 (the full length is checked too)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HttpError(RemoteProtocolError):
    """The request is refused at HTTP level: answer `status` (with `headers`) and close."""

    def __init__(self, message, status=400, headers=None, position=None):
        super().__init__(message, status, None, position)
        self.headers = list(headers or ())


def _is_token(text):
    return text != "" and _NOT_TCHAR.search(text) is None


def _tokens(value):
    """A comma-separated list (RFC 9110 §5.6.1) as lowercased members."""
    return [item.strip(" \t").lower() for item in value.split(",")]


def _latin1(data):
    """Bytes to str one byte per character; MicroPython decodes every codec as UTF-8."""
    return "".join(map(chr, data))


def _params(text):
    """`; name=value` parameters (RFC 9110 §5.6.6) as a dict with lowercased names."""
    params = {}
    parts = text.split(";")
    while parts:
        part = parts.pop(0)
        while part.count('"') % 2 and parts:  # a quoted value holding ";": glue it back
            part += ";" + parts.pop(0)
        name, eq, value = part.partition("=")
        name, value = name.strip(" \t").lower(), value.strip(" \t")
        if len(value) > 1 and value[0] == '"' == value[-1]:  # quoted-string (§5.6.4)
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if name and eq and name not in params:
            params[name] = value
    return params


class Request:
    """One complete request: `headers` holds (lowercased name, value) pairs in arrival order."""

    def __init__(self, method, target, version="HTTP/1.1", headers=(), body=b""):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        media, _, params = (self.header("content-type") or "").partition(";")
        self.content_type = media.strip(" \t").lower()
        self.content_type_params = _params(params) if params else {}
        # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        tokens = _tokens(",".join(v for k, v in self.headers if k == "connection"))
        self.keep_alive = "close" not in tokens and (version == "HTTP/1.1" or "keep-alive" in tokens)

    def header(self, name):
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def __repr__(self):
        return "<Request %s %s %s, %d body bytes>" % (
            self.method, self.target, self.version, len(self.body))


# SOAP, the archive StartSystemRestore's upload URI takes (checklist 8.4 #5) and the status
# page's pulse (issue 9); agent.app answers 415 for a type the addressed endpoint does not take.
POST_CONTENT_TYPES = ("application/soap+xml", "text/xml", "application/octet-stream",
                      "application/json")


class HttpConnection:
    """One server-side HTTP/1.1 connection; limits are keyword arguments (defaults above)."""

    def __init__(self, *, max_head=MAX_HEAD, max_body=MAX_BODY, max_headers=MAX_HEADERS,
                 methods=("GET", "POST"),
                 post_content_types=POST_CONTENT_TYPES):
        self.max_head = max_head
        self.max_body = max_body
        self.max_headers = max_headers
        self.methods = tuple(methods)
        self.post_content_types = tuple(post_content_types)
        self._buf = b""  # bytes, or a bytearray once input is appended to a remainder
        self._pos = 0  # start of the unparsed input in _buf (compacted in receive())
        self._scanned = 0  # bytes past _pos already searched for a line end
        self._eof = False
        self._state = IDLE
        self._request = None
        self._length = None  # Content-Length of the request body, None when chunked
        self._chunk = None  # chunked: bytes left in this chunk, None = size line next, -1 = trailer
        self._chunks = []
        self._total = 0
        self._output = b""
        self._close = False
        self._chunked = False  # response framing
        self._left = None  # response bytes still owed under Content-Length

    # -- input ------------------------------------------------------------------------------

    def receive(self, data):
        """Buffer bytes from the peer; b"" means the peer closed its sending side."""
        if not data:
            self._eof = True
            return
        if self._eof:
            raise LocalProtocolError("receive() after end of input")
        if self._state == ERROR or self._state == MUST_CLOSE:
            return  # the connection is closing: nothing more will be parsed
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            self._buf, self._pos = bytes(data), 0
            return
        if pos or type(buf) is not bytearray:
            # MicroPython has no `del bytearray[:n]`: copy the unparsed tail once instead.
            buf = self._buf = bytearray(buf[pos:])
            self._pos = 0
        buf.extend(data)

    def next_event(self):
        """NEED_DATA, a complete Request, or CLOSED; raises HttpError for input we refuse."""
        state = self._state
        if state == IDLE:
            return self._read_head()
        if state == BODY:
            return self._read_body()
        if state == ERROR or state == MUST_CLOSE:
            return CLOSED
        # WAIT/SEND: a pipelined request waits for end_response(); bound what piles up meanwhile.
        if len(self._buf) - self._pos > self.max_head + self.max_body:
            raise self._fail("too much pipelined input", 413)
        return NEED_DATA

    @property
    def buffered(self):
        """True while bytes of a request not yet returned by next_event() are held."""
        return self._state == BODY or len(self._buf) > self._pos

    def pending_output(self):
        """Bytes to send now: an interim 100 (Continue) at most, once."""
        out, self._output = self._output, b""
        return out

    def _abort(self):
        self._state = ERROR
        self._close = True
        self._buf, self._pos, self._output = b"", 0, b""  # nothing more is parsed: free it now

    def _fail(self, message, status=400, headers=None):
        self._abort()
        return HttpError(message, status, headers)

    def _need(self, where):
        if self._eof:
            raise self._fail("connection closed inside " + where)
        return NEED_DATA

    def _find(self, marker):
        """Offset of `marker` within max_head bytes of _pos, or -1 (then _scanned says how far
        we looked, so byte-by-byte input is not searched again from the start)."""
        buf, pos = self._buf, self._pos
        end = buf.find(marker, pos + max(0, self._scanned - 3), pos + self.max_head)
        self._scanned = 0 if end >= 0 else len(buf) - pos
        return end

    def _read_head(self):
        buf = self._buf
        if buf.startswith(b"\r\n", self._pos):  # RFC 9112 §2.2: skip an empty line before a request
            self._pos += 2
            self._scanned = 0
        pos = self._pos
        fresh = pos + self._scanned  # first byte not yet looked at
        end = self._find(b"\r\n\r\n")
        if end < 0:
            if self._scanned >= self.max_head:  # fail at once, never buffer past the limit
                if buf.find(b"\r\n", pos, pos + self.max_head) < 0:
                    raise self._fail("request line too long", 414)
                raise self._fail("request head too large", 431)
            # A bare-LF client would wait for a CRLFCRLF that never comes: count the new LFs
            # against the new CRLFs (from one byte back, for a CRLF across the boundary).
            if buf.count(b"\n", fresh) != buf.count(b"\r\n", max(pos, fresh - 1)):
                raise self._fail("bare LF line ending")
            if self._eof and len(buf) == pos:
                self._state = MUST_CLOSE
                return CLOSED
            return self._need("a request head")
        self._pos = end + 4
        self._start_request(bytes(buf[pos:end]))
        self._state = BODY
        return self._read_body()

    def _start_request(self, head):
        """Parse and check a request head (checks in the order of the statuses below)."""
        count = head.count(b"\r\n")
        # RFC 9112 §2.2: a bare CR is invalid; a bare LF MAY be accepted, but we refuse it so that
        # every line ending means the same here as in any proxy in front of us (no smuggling).
        if head.count(b"\r") != count or head.count(b"\n") != count:
            raise self._fail("bare CR or LF in request head")
        if count > self.max_headers:
            raise self._fail("too many header fields", 431)
        try:
            text = head.decode("ascii")
            ascii = len(text) == len(head)  # MicroPython decodes UTF-8 even when asked for ASCII
        except UnicodeError:
            ascii = False
        if not ascii:
            text = _latin1(head)  # field values may carry obs-text (RFC 9110 §5.5)
        if "\x00" in text or _CTL.search(text):  # RFC 9110 §5.5: no CTLs but HTAB in fields
            raise self._fail("control character in request head")
        lines = text.split("\r\n")
        request_line = lines[0].split(" ")  # RFC 9112 §3: exactly one SP between the parts
        if len(request_line) != 3:
            raise self._fail("malformed request line")
        method, target, version = request_line
        if not _is_token(method):
            raise self._fail("malformed method")
        # origin-form, or absolute-form which a server MUST accept (RFC 9112 §3.2.2)
        if (target == "" or _NOT_VCHAR.search(target)
                or (target[0] != "/" and not target.lower().startswith(("http://", "https://")))):
            raise self._fail("malformed request target")
        if version != "HTTP/1.1" and version != "HTTP/1.0":
            m = _VERSION.match(version)
            if m and len(m.group(0)) == len(version):
                raise self._fail("unsupported HTTP version", 505)
            raise self._fail("malformed HTTP version")
        headers = []
        for line in lines[1:]:
            colon = line.find(":")
            name = line[:colon]
            # RFC 9112 §5.1: no whitespace before the colon; §5.2: obs-fold is refused with 400.
            if colon <= 0 or _NOT_TCHAR.search(name):
                if line[:1] in (" ", "\t"):
                    raise self._fail("obsolete line folding in header")
                raise self._fail("malformed header field")
            headers.append((name.lower(), line[colon + 1:].strip(" \t")))
        if method not in self.methods:  # checklist Table 6: 405 with Allow (RFC 9110 §15.5.6)
            raise self._fail("method not allowed", 405, [("Allow", ", ".join(self.methods))])
        req = Request(method, target, version, headers)
        self._check_framing(req)
        if method == "POST" and req.content_type not in self.post_content_types:
            raise self._fail("unsupported media type", 415)  # checklist Table 6
        self._request = req
        # RFC 9110 §10.1.1: answer 100-continue for HTTP/1.1 only, and not when the body is here.
        if (version == "HTTP/1.1" and (self._length is None or self._length)
                and len(self._buf) == self._pos
                and "100-continue" in _tokens(req.header("expect") or "")):
            self._output = _CONTINUE

    def _check_framing(self, req):
        """Decide how the body is delimited (RFC 9112 §6.3), refusing what could be smuggling."""
        hosts = 0
        codings, lengths = [], []
        for name, value in req.headers:
            if name == "host":
                hosts += 1
            elif name == "transfer-encoding":
                codings += _tokens(value)
            elif name == "content-length":
                lengths.append(value)
        # RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, or with several.
        if hosts > 1 or (hosts == 0 and req.version == "HTTP/1.1"):
            raise self._fail("missing or repeated Host header")
        self._chunk, self._chunks, self._total = None, [], 0
        if codings:
            if lengths:  # RFC 9112 §6.3 item 3: MAY reject; we do (request smuggling)
                raise self._fail("both Transfer-Encoding and Content-Length")
            if req.version == "HTTP/1.0":  # RFC 9112 §6.1: faulty framing
                raise self._fail("Transfer-Encoding in an HTTP/1.0 request")
            if codings != ["chunked"]:
                # A misplaced or repeated chunked makes the length unknowable (§6.3 item 4, §7.1):
                # 400. Any other coding is merely one we lack (§6.1): 501.
                n = codings.count("chunked")
                if (n > 1 or (n and codings[-1] != "chunked")
                        or [c for c in codings if not _is_token(c)]):
                    raise self._fail("malformed Transfer-Encoding")
                raise self._fail("unsupported transfer coding", 501)
            self._length = None
        elif lengths:
            if len(lengths) > 1:  # RFC 9110 §8.6 allows merging equal copies; we refuse them all
                raise self._fail("repeated Content-Length")
            digits = lengths[0]
            if digits == "" or _NOT_DIGIT.search(digits):
                raise self._fail("malformed Content-Length")
            digits = digits.lstrip("0") or "0"
            if len(digits) > 9 or int(digits) > self.max_body:  # 413 before reading any of it
                raise self._fail("request body too large", 413)
            self._length = int(digits)
        elif req.method == "POST":  # a SOAP call needs its body delimited (RFC 9110 §15.5.12)
            raise self._fail("POST without Content-Length", 411)
        else:
            self._length = 0

    def _read_body(self):
        if self._length is None:
            body = self._read_chunked()
            if body is NEED_DATA:
                return body
        else:
            end = self._pos + self._length
            if len(self._buf) < end:
                return self._need("a request body")
            body = bytes(self._buf[self._pos:end])
            self._pos = end
        req = self._request
        req.body = body
        self._state = WAIT
        return req

    def _read_chunked(self):
        """RFC 9112 §7.1: chunk extensions are ignored, trailer fields bounded and dropped."""
        buf = self._buf
        while True:
            pos, size = self._pos, self._chunk
            if size is None:
                end = self._find(b"\r\n")
                if end < 0:
                    if self._scanned >= self.max_head:
                        raise self._fail("chunk header too long")
                    return self._need("a chunked body")
                line = bytes(buf[pos:end])
                digits = line.split(b";", 1)[0].rstrip(b" \t")
                if b"\n" in line or b"\r" in line or not digits or _NOT_HEX.search(digits):
                    raise self._fail("malformed chunk size")
                digits = digits.lstrip(b"0") or b"0"
                size = int(digits, 16) if len(digits) <= 8 else self.max_body + 1
                self._total += size
                if self._total > self.max_body:
                    raise self._fail("request body too large", 413)
                self._pos = end + 2
                self._chunk = size or -1
            elif size < 0:
                if buf.startswith(b"\r\n", pos):
                    end = pos - 2
                else:
                    end = self._find(b"\r\n\r\n")
                    if end < 0:
                        if self._scanned >= self.max_head:
                            raise self._fail("trailer section too large", 431)
                        return self._need("a chunked body")
                self._pos = end + 4
                body, self._chunks = b"".join(self._chunks), []
                return body
            else:
                end = pos + size
                if len(buf) < end + 2:
                    return self._need("a chunked body")
                if not buf.startswith(b"\r\n", end):
                    raise self._fail("chunk data not followed by CRLF")
                self._chunks.append(bytes(buf[pos:end]))
                self._pos = end + 2
                self._chunk = None

    # -- output -----------------------------------------------------------------------------

    def _expect(self, state, call):
        if self._state != state:
            raise LocalProtocolError("%s() in state %s" % (call, self._state))

    @property
    def must_close(self):
        """True when the transport must close after the current (or last) response."""
        if self._state == ERROR or self._state == MUST_CLOSE:
            return True
        if self._state == WAIT:
            return not self._request.keep_alive
        return self._close

    def start_response(self, status, headers, content_length=None):
        """The status line and `headers` ((name, value) str pairs) plus the framing headers."""
        self._expect(WAIT, "start_response")
        if status < 200 or status > 999:
            raise LocalProtocolError("final status expected, got %r" % status)
        req = self._request
        close = not req.keep_alive
        told = False  # the application's own "Connection: close"
        lines = ["HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, ""))]
        for name, value in headers:
            lname = name.lower()
            if lname == "content-length" or lname == "transfer-encoding":
                raise LocalProtocolError("framing headers are added by start_response()")
            if "\r" in value or "\n" in value or not _is_token(name):
                raise LocalProtocolError("malformed response header %r" % name)
            if lname == "connection" and "close" in _tokens(value):
                close = told = True
            lines.append("%s: %s\r\n" % (name, value))
        self._chunked = False
        if status == 204 or status == 304:  # never a body (RFC 9110 §6.4.1)
            self._left = 0
        elif content_length is not None:
            lines.append("Content-Length: %d\r\n" % content_length)
            self._left = content_length
        elif req.version == "HTTP/1.1":
            lines.append("Transfer-Encoding: chunked\r\n")
            self._chunked, self._left = True, None
        else:  # HTTP/1.0 knows no chunks: the body ends when we close (RFC 9112 §6.3 item 8)
            close, self._left = True, None
        if close:
            if not told:
                lines.append("Connection: close\r\n")
        elif req.version == "HTTP/1.0":  # an HTTP/1.0 client persists only when told so
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        self._close = close
        self._output = b""  # an unsent 100 (Continue) is moot once the final response starts
        self._state = SEND
        return "".join(lines).encode()

    def send_data(self, data):
        """Body bytes, framed as a chunk when the response is chunked."""
        self._expect(SEND, "send_data")
        if not data:
            return b""  # an empty chunk would end the body
        if self._chunked:
            return b"%x\r\n" % len(data) + data + b"\r\n"
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise LocalProtocolError("response body longer than its Content-Length")
        return bytes(data)

    def end_response(self):
        """The closing framing; afterwards the next (pipelined) request can be read."""
        self._expect(SEND, "end_response")
        if self._left:
            raise LocalProtocolError("response body shorter than its Content-Length")
        tail = b"0\r\n\r\n" if self._chunked else b""
        self._request = None
        self._state = MUST_CLOSE if self._close else IDLE
        return tail

    def error_response(self, exc):
        """A complete `Connection: close` answer to `exc` (b"" if a response is half sent)."""
        started = self._state == SEND
        self._abort()
        if started:
            return b""  # the peer can only learn of the failure from the closed connection
        status = getattr(exc, "status", 500)
        reason = REASONS.get(status, "")
        # Our own protocol messages are safe to show; anything else might leak internals (5.3).
        message = exc.message if isinstance(exc, RemoteProtocolError) else reason
        body = ("%d %s: %s\n" % (status, reason, message)).encode()
        lines = ["HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in getattr(exc, "headers", ()):
            lines.append("%s: %s\r\n" % (name, value))
        lines.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n" % len(body))
        return "".join(lines).encode() + body


class ResponseStream:
    """Streams a response body into `send` (a callable taking bytes): buffers up to buffer_size;
    if close() comes first it sends the head with Content-Length and the body at once, else it
    switches to chunked (HTTP/1.1) or close-delimited (HTTP/1.0) and streams the rest in pieces
    of about buffer_size, so a serializer may write many small strings cheaply."""

    def __init__(self, conn, status, headers, send, buffer_size=STREAM_BUFFER):
        self._conn = conn
        self._status = status
        self._headers = headers
        self._send = send
        self._limit = buffer_size
        self._parts = []
        self._size = 0
        self._started = False

    def write(self, data):
        if not data:
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._limit:
            self._flush()

    def _flush(self):
        body = b"".join(self._parts)
        self._parts, self._size = [], 0
        conn = self._conn
        if self._started:
            self._send(conn.send_data(body))
        else:
            self._started = True
            self._send(conn.start_response(self._status, self._headers) + conn.send_data(body))

    def close(self):
        conn = self._conn
        if self._started:
            if self._parts:
                self._flush()
            tail = conn.end_response()
            if tail:  # close-delimited (HTTP/1.0) bodies have no closing framing
                self._send(tail)
            return
        # One part is the common case (the XML writer flushes once): no copy to join it.
        body = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts = []
        self._started = True
        data = conn.start_response(self._status, self._headers, len(body)) + conn.send_data(body)
        tail = conn.end_response()
        self._send(data + tail if tail else data)
