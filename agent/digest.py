"""HTTP Digest access authentication, server side and sans-IO (RFC 7616, RFC 2617; checklist 5.4).

`DigestAuth` makes the `WWW-Authenticate` challenges of a 401 and checks `Authorization` header
values. It opens no socket and reads no clock of its own: the caller passes `clock`.

Nonces carry their own proof, so none is stored until a client uses it: hex of
`issued (8 bytes) || serial (8 bytes) || HMAC-SHA-256(secret, issued || serial || realm)[:16]`.
The serial, counted per process, keeps two challenges of the same second apart. A nonce older
than `nonce_lifetime_s` is refused as stale (RFC 7616 3.3), so the client retries with the fresh
challenge without asking its user again. stale=true is only ever said to a client whose response
was right: wrong credentials are never told their nonce was the problem.

Replay (RFC 7616 3.4 `nc`): the last nc of each nonce in use is kept, least recently used first,
for at most `max_tracked_nonces` nonces, and only after the response checked out (so a stranger
cannot push a client's nc up). An untracked nonce may simply be unused yet, so it is accepted with
any nc; but a nonce whose state was evicted must not be, or its captured requests could be
replayed. So the highest evicted serial is remembered, and an untracked nonce at or below it is
refused as stale: the honest client pays one extra round trip. An nc at or below the last one is
refused as stale too (the response was right, so a fresh nonce costs nothing).
"""

import binascii
import struct
from collections import OrderedDict

from agent import compat
from agent.errors import AgentError, LocalProtocolError

NONCE_LIFETIME_S = 300  # RFC 7616 leaves it to the server; 5 minutes as for UsernameToken (5.4)
MAX_TRACKED_NONCES = 256  # nonces with replay state; one per client session is the usual use
# Real Authorization values are 300-600 bytes; a long uri can add up to the HTTP head's 8 KiB, but
# a request-target that long gains nothing from authentication.
MAX_HEADER = 4096
MAX_PARAMS = 20  # RFC 7616 3.4 defines 11 parameters; unknown ones are ignored, not unbounded

_ALGORITHMS = {"MD5": compat.md5, "SHA-256": compat.sha256}  # RFC 7616 3.4 `algorithm`
_OFFERED = ("SHA-256", "MD5")  # RFC 7616 3.7: the preferred algorithm first
_TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"  # LHEX (RFC 7616 3.4): nonces and nc are lowercase
_MAC_SIZE = 16
_NONCE_SIZE = 16 + _MAC_SIZE


class DigestFailure(AgentError):
    """The credentials are refused; the caller answers 401 with fresh challenges.

    `stale` is true when the password was right but the nonce may no longer be used (expired,
    forgotten or `nc` not above its last value): the challenge then says `stale=true` (RFC 7616
    3.3). `reason` is for the log only, never for the peer.
    """

    def __init__(self, reason, stale=False):
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


def response_digest(algorithm, username, realm, password, method, uri, nonce, nc, cnonce, qop):
    """The `response` value (hex bytes) of RFC 7616 3.4.1 for qop=auth; every argument is bytes."""
    h = _ALGORITHMS[algorithm]
    ha1 = binascii.hexlify(h(username + b":" + realm + b":" + password))
    ha2 = binascii.hexlify(h(method + b":" + uri))
    return binascii.hexlify(h(b":".join((ha1, nonce, nc, cnonce, qop, ha2))))


class DigestAuth:
    """Challenges and verification for one realm and one per-process secret.

    `password_of(username)` returns the password (str) or None for an unknown user; `secret` is
    random bytes made once per process; `clock()` returns non-negative seconds.
    """

    def __init__(self, password_of, *, realm, secret, clock, nonce_lifetime_s=NONCE_LIFETIME_S,
                 max_tracked_nonces=MAX_TRACKED_NONCES):
        # The realm is sent as a quoted-string and compared with what clients echo: keep it to
        # printable ASCII without quote or backslash so it needs no escaping (RFC 7230 3.2.6).
        for c in realm:
            if not " " <= c <= "~" or c in "\"\\":
                raise LocalProtocolError("realm must be printable ASCII without quotes: %r" % realm)
        if len(secret) < 16:
            raise LocalProtocolError("the nonce secret needs at least 16 random bytes")
        self._password_of = password_of
        self.realm = realm
        self._realm = realm.encode()
        self._secret = bytes(secret)
        self._clock = clock
        self._lifetime = nonce_lifetime_s
        self._max_tracked = max_tracked_nonces
        self._serial = 0  # of the next nonce
        self._last_nc = OrderedDict()  # serial -> last nc accepted, least recently used first
        self._forgotten = -1  # the highest serial evicted from _last_nc
        self._opaque = binascii.hexlify(self._mac(b"opaque"))[:16].decode()

    def _mac(self, data):
        return compat.hmac_sha256(self._secret, data + self._realm)[:_MAC_SIZE]

    def challenges(self, stale=False):
        """`WWW-Authenticate` headers for a 401: SHA-256 first, then MD5, one fresh nonce.

        Both share the nonce: requests joins the two headers and keeps the last value of each
        parameter, which is then still one consistent challenge.
        """
        body = struct.pack(">QQ", int(self._clock()), self._serial)
        self._serial += 1
        nonce = binascii.hexlify(body + self._mac(body)).decode()
        tail = ", stale=true" if stale else ""
        return [("WWW-Authenticate",
                 'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", opaque="%s"%s'
                 % (self.realm, algorithm, nonce, self._opaque, tail))
                for algorithm in _OFFERED]

    def verify(self, method, target, authorization):
        """The username whose credentials `authorization` carries; raises DigestFailure.

        `method` and `target` are the request line's; `authorization` is the header value as
        agent/http.py gives it (one character per byte).
        """
        params, quoted = parse_credentials(authorization)
        for name in ("username", "realm", "nonce", "uri", "response", "cnonce", "qop", "nc"):
            if name not in params:
                raise DigestFailure("%s missing" % name)
        if "username" not in quoted:  # RFC 7616 3.4: username-value is a quoted-string
            raise DigestFailure("username must be a quoted-string")
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm not in _ALGORITHMS:  # the -sess variants too (RFC 7616 3.4.2)
            raise DigestFailure("algorithm %r not offered" % algorithm)
        if params["qop"] != "auth":  # auth-int would need the body's hash (RFC 7616 3.4.3)
            raise DigestFailure("qop %r not offered" % params["qop"])
        if params.get("userhash", "false").lower() != "false":  # RFC 7616 3.4.4: not offered
            raise DigestFailure("userhash not supported")
        if params["realm"] != self.realm:
            raise DigestFailure("wrong realm")
        if "opaque" in params and params["opaque"] != self._opaque:  # absent: nothing to check
            raise DigestFailure("wrong opaque")
        if params["uri"] != target:  # RFC 7616 3.4.6: the request-target, exactly
            raise DigestFailure("uri does not match the request-target")
        nc_text = params["nc"]
        if len(nc_text) != 8 or not _is_hex(nc_text) or int(nc_text, 16) == 0:  # 8LHEX, from 1
            raise DigestFailure("malformed nc")
        nc = int(nc_text, 16)
        issued, serial = self._open_nonce(params["nonce"])

        raw_name = _wire(params["username"])
        try:
            name = raw_name.decode()
        except UnicodeError:
            raise DigestFailure("username is not UTF-8")
        password = self._password_of(name)
        # An unknown user costs the same hashing as a wrong password, and answers the same 401.
        expected = response_digest(
            algorithm, raw_name, self._realm, ("" if password is None else password).encode(),
            _wire(method), _wire(target), _wire(params["nonce"]), _wire(nc_text),
            _wire(params["cnonce"]), b"auth")
        matches = compat.compare_digest(expected, _wire(params["response"].lower()))
        if password is None or not matches:
            raise DigestFailure("unknown user" if password is None else "wrong password")

        # Only now may stale=true be said: the client has shown it knows the password
        # (RFC 7616 3.3).
        age = int(self._clock()) - issued
        if age < 0 or age > self._lifetime:
            raise DigestFailure("nonce expired", stale=True)
        last = self._last_nc.get(serial)
        if last is None and serial <= self._forgotten:
            raise DigestFailure("nonce no longer tracked", stale=True)
        if last is not None and nc <= last:
            raise DigestFailure("nc %d not above %d" % (nc, last), stale=True)
        self._track(serial, nc)
        return name

    def _track(self, serial, nc):
        """Remember `nc` as the nonce's last, most recently used; forget the least recent one."""
        table = self._last_nc
        if serial in table:
            del table[serial]  # re-inserted at the end (MicroPython lacks move_to_end)
        table[serial] = nc
        if len(table) > self._max_tracked:
            oldest = next(iter(table))
            del table[oldest]
            self._forgotten = max(self._forgotten, oldest)

    def _open_nonce(self, nonce):
        """(issued, serial) of a nonce made here; a forged or garbled one fails, not stale."""
        if len(nonce) != 2 * _NONCE_SIZE or not _is_hex(nonce):
            raise DigestFailure("nonce not made here")
        data = binascii.unhexlify(nonce)
        if not compat.compare_digest(self._mac(data[:16]), data[16:]):
            raise DigestFailure("nonce not made here")
        return struct.unpack(">QQ", data[:16])


def _is_hex(text):
    for c in text:
        if c not in _HEX:
            return False
    return True


def _wire(text):
    """The bytes behind a header str of one character per byte (agent/http.py's decoding)."""
    data = text.encode()
    if len(data) == len(text):
        return data
    try:
        return bytes(ord(c) for c in text)
    except ValueError:  # a character above U+00FF cannot have come off the wire
        raise DigestFailure("character outside latin-1")


def parse_credentials(value):
    """(params, quoted) of a `Digest` credentials value (RFC 7235 2.1, RFC 7230 3.2.6).

    `params` maps lowercased auth-param names to their (unescaped) values; `quoted` is the set of
    names whose value was a quoted-string. Any malformed, oversized or non-Digest value raises
    DigestFailure, never anything else.
    """
    if not isinstance(value, str):
        raise DigestFailure("credentials are not text")
    if len(value) > MAX_HEADER:
        raise DigestFailure("credentials longer than %d" % MAX_HEADER)
    end = len(value)
    i = _skip(value, 0, " \t")
    start = i
    i = _token_end(value, i)
    if value[start:i].lower() != "digest":
        raise DigestFailure("scheme is not Digest")
    if i < end and value[i] != " ":
        raise DigestFailure("no space after the scheme")
    params = {}
    quoted = set()
    while True:
        i = _skip(value, i, " \t,")  # empty list elements are allowed (RFC 7230 7)
        if i == end:
            break
        start = i
        i = _token_end(value, i)
        name = value[start:i].lower()
        if not name:
            raise DigestFailure("auth-param name expected at %d" % i)
        i = _skip(value, i, " \t")
        if i == end or value[i] != "=":
            raise DigestFailure("'=' expected after %s" % name)
        i = _skip(value, i + 1, " \t")
        if i < end and value[i] == '"':
            text, i = _quoted_string(value, i + 1)
            quoted.add(name)
        else:
            start = i
            i = _token_end(value, i)
            text = value[start:i]
            if not text:
                raise DigestFailure("value expected for %s" % name)
        if name in params:
            raise DigestFailure("%s given twice" % name)
        if len(params) == MAX_PARAMS:
            raise DigestFailure("more than %d auth-params" % MAX_PARAMS)
        params[name] = text
        i = _skip(value, i, " \t")
        if i < end and value[i] != ",":
            raise DigestFailure("',' expected at %d" % i)
    if not params:
        raise DigestFailure("no auth-params")
    return params, quoted


def _skip(text, i, chars):
    end = len(text)
    while i < end and text[i] in chars:
        i += 1
    return i


def _token_end(text, i):
    end = len(text)
    while i < end and text[i] in _TCHAR:
        i += 1
    return i


def _quoted_string(text, i):
    """(unescaped content, index after the closing quote) of a quoted-string opened before `i`."""
    close = text.find('"', i)
    if close > i and text.find("\\", i, close) < 0:
        # The common case, checked at C speed: no escapes, and (the quote and the backslash
        # being absent by construction) every character a printable ASCII qdtext.
        content = text[i:close]
        if min(content) >= " " and max(content) <= "~":
            return content, close + 1
    parts = []
    start = i
    end = len(text)
    while i < end:
        c = text[i]
        if c == '"':
            parts.append(text[start:i])
            return "".join(parts), i + 1
        if c == "\\":  # quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            if i + 1 == end or not _qdchar(text[i + 1]) and text[i + 1] not in '"\\':
                break
            parts.append(text[start:i])
            start = i + 1
            i += 2
        elif _qdchar(c):
            i += 1
        else:
            raise DigestFailure("character not allowed in a quoted-string at %d" % i)
    raise DigestFailure("unterminated quoted-string")


def _qdchar(c):
    # qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (%x80-FF)
    return c == "\t" or " " <= c <= "~" and c != '"' and c != "\\" or "\x80" <= c <= "\xff"
