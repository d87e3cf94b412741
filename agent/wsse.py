"""WS-Security UsernameToken verification, sans-IO (OASIS UsernameToken Profile 1.0; checklist 5.4).

The dispatcher hands over the wsse:Security header block as a tree; `UsernameTokenVerifier.verify`
returns the authenticated user name or raises `env:Sender/ter:NotAuthorized` (HTTP 400). Every
failure answers the client with the same Table 5 reason, so a refusal never tells whether the user
exists, the password was wrong or the token was stale; the cause is kept in the fault's
`log_reason` for the operator's log.

Decisions where the profile or ONVIF leaves a choice:
- Nonce and Created are required for both password types (ONVIF; checklist 5.4).
- PasswordText is refused unless the transport is TLS or the verifier was built with
  allow_text=True: over plain HTTP it hands the password to any listener.
- Created must carry an explicit offset (`Z`, `+00:00`, or any other, converted to UTC). A value
  without one is not an instant (XML Schema 1.0, 3.2.7.4: untimezoned values are only partially
  ordered), so freshness could not be judged; WSS 1.0 section 10 wants UTC anyway, and the clients
  we know (zeep, onvif-zeep-async, UniFi's agsh onvif) all send an offset.
- The replay cache is keyed by the nonce, as the profile's section 4 asks ("nonces that have
  already been used"), and is a fixed-size ring: see `UsernameTokenVerifier`.
"""

import binascii
import re
import struct

from . import compat
from .datetimes import parse_datetime
from .soap import SoapFault

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_DIGEST = _PROFILE + "#PasswordDigest"
PASSWORD_TEXT = _PROFILE + "#PasswordText"
BASE64_BINARY = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-soap-message-security-1.0#Base64Binary")

# Bounds on what a client may send, checked before any user lookup or hashing.
MAX_USERNAME = 128  # characters
MAX_PASSWORD_TEXT = 256  # characters
# Decoded nonce bytes. The profile sets no length; zeep, onvif-zeep-async and current agsh onvif
# send 16 random bytes, older agsh onvif a decimal number of up to 11 digits, so only emptiness
# is refused below.
MAX_NONCE = 128
_SHA1_SIZE = 20

# base64Binary (XML Schema 3.2.16), canonical alphabet with final padding only; checked here
# because the runtimes disagree on bad input (CPython raises binascii.Error, the MicroPython
# WebAssembly build a plain Exception, and both silently skip some junk characters).
_BASE64 = re.compile("^[A-Za-z0-9+/]*=?=?$")

# One replay-cache slot: an 8-byte fingerprint of the nonce, then the Unix second (big-endian
# uint32) after which the token that used it is stale anyway. The fingerprint is the nonce's
# first 4 bytes and its CRC-32: a collision only refuses a genuine token as a replay, random
# nonces collide with odds near 2**-64, and making one takes valid credentials anyway, so it
# needs no cryptographic hash (a pure-Python SHA-1 allocates ~50 KB per call on MicroPython).
_SLOT = 12
_FINGERPRINT = 8


def _refuse(why):
    """The one fault every failure raises; `why` goes to the log only."""
    fault = SoapFault("Sender", "NotAuthorized")
    fault.log_reason = why
    return fault


class UsernameTokenVerifier:
    """Checks wsse:UsernameToken headers against `password_of(username) -> str or None`.

    `clock()` gives the device's UTC time in Unix seconds; a token's wsu:Created must lie within
    `window_s` of it either way (profile section 4 suggests five minutes as a guideline).

    Nonces of accepted tokens are remembered until their token goes stale, in a ring of
    `max_nonces` 12-byte slots (12 KiB at the default) that is allocated as it fills. Failed
    tokens are never remembered, so an unauthenticated flood cannot push entries out. When the
    ring is full the oldest entry is overwritten even if its token is still fresh: a captured
    token can then be replayed only after `max_nonces` newer tokens were accepted within its
    freshness window, i.e. above about 1024 / 300 s = 3.4 authenticated requests per second
    sustained at the defaults - far above what the ONVIF clients of an access controller send
    (onvif-zeep-async polls PullMessages once a minute). Stale entries need no purge: a match is
    ignored once past its time and the slot is reused in turn.
    """

    def __init__(self, password_of, *, clock, window_s=300, max_nonces=1024, allow_text=False):
        if max_nonces < 1:
            raise ValueError("max_nonces must be at least 1")
        self.password_of = password_of
        self.clock = clock
        self.window_s = window_s
        self.allow_text = allow_text
        self._capacity = max_nonces * _SLOT
        self._ring = bytearray()
        self._next = 0  # byte offset of the slot to overwrite once the ring is full

    def verify(self, security, *, secure_transport=False):
        """The user name a valid UsernameToken in `security` proves; else raise NotAuthorized."""
        tokens = security.findall(WSSE, "UsernameToken")
        if len(tokens) != 1:
            raise _refuse("%d UsernameTokens in wsse:Security" % len(tokens))
        token = tokens[0]
        username = _leaf(token, WSSE, "Username").text
        password = _leaf(token, WSSE, "Password")
        nonce = _nonce(_leaf(token, WSSE, "Nonce"))
        created = _leaf(token, WSU, "Created").text
        if not 0 < len(username) <= MAX_USERNAME:
            raise _refuse("user name empty or longer than %d characters" % MAX_USERNAME)

        # Profile 3.1: Type defaults to PasswordText.
        kind = password.attrs.get(("", "Type"), PASSWORD_TEXT).strip()
        if kind == PASSWORD_DIGEST:
            claimed = _base64(password.text)
            if claimed is None or len(claimed) != _SHA1_SIZE:
                raise _refuse("PasswordDigest is not the Base64 of a SHA-1 digest")
        elif kind == PASSWORD_TEXT:
            if not (secure_transport or self.allow_text):
                raise _refuse("PasswordText over a transport without TLS")
            if len(password.text) > MAX_PASSWORD_TEXT:
                raise _refuse("PasswordText longer than %d characters" % MAX_PASSWORD_TEXT)
            claimed = None
        else:
            raise _refuse("unknown Password Type %r" % kind[:80])

        when = parse_datetime(created)
        if when is None:
            raise _refuse("wsu:Created is not an xs:dateTime with a time zone")
        now = self.clock()
        if abs(when - now) > self.window_s:
            raise _refuse("stale wsu:Created (%d s from the device clock)" % int(when - now))

        # Profile 3.1: digest = Base64(SHA-1(nonce + created + password)), nonce decoded,
        # created the exact text. An unknown user is hashed against a dummy password so the work
        # (and so the time taken) does not reveal which users exist.
        prefix = nonce + created.encode()
        secret = self.password_of(username)
        expected = compat.sha1(prefix + ("\x00" if secret is None else secret).encode())
        if claimed is None:  # PasswordText: compare digests too, for constant-length comparison
            claimed = compat.sha1(prefix + password.text.encode())
        if not compat.compare_digest(claimed, expected) or secret is None:
            raise _refuse("unknown user %r" % username if secret is None
                          else "wrong password for %r" % username)

        if not self._remember(nonce, int(when + self.window_s), now):
            raise _refuse("replayed wsse:Nonce for %r" % username)
        return username

    def _remember(self, nonce, expiry, now):
        """Record the nonce of an accepted token until `expiry`; False if it is still recorded
        (profile section 4)."""
        fingerprint = (nonce + b"\0\0\0")[:4] + struct.pack(">I", binascii.crc32(nonce))
        stamp = struct.pack(">I", expiry)  # expiry >= now >= 0: the freshness check passed
        ring = self._ring
        at = ring.find(fingerprint)
        while at >= 0:  # a match counts only at a slot boundary and until its expiry
            if at % _SLOT == 0 and struct.unpack_from(">I", ring, at + _FINGERPRINT)[0] >= now:
                return False
            at = ring.find(fingerprint, at + 1)
        if len(ring) < self._capacity:
            ring.extend(fingerprint + stamp)
        else:  # full: overwrite the oldest entry
            ring[self._next:self._next + _SLOT] = fingerprint + stamp
            self._next = (self._next + _SLOT) % self._capacity
        return True


def _leaf(token, ns, name):
    """The one child `name` of the token, holding text only (profile 3.1: each at most once)."""
    found = token.findall(ns, name)
    if len(found) != 1 or found[0].children:
        raise _refuse("wsse:UsernameToken needs exactly one plain %s" % name)
    return found[0]


def _nonce(element):
    """The decoded nonce bytes (profile 3.1: EncodingType defaults to Base64Binary)."""
    encoding = element.attrs.get(("", "EncodingType"), BASE64_BINARY).strip()
    if encoding != BASE64_BINARY:
        raise _refuse("Nonce EncodingType %r is not Base64Binary" % encoding[:80])
    nonce = _base64(element.text)
    if not nonce or len(nonce) > MAX_NONCE:
        raise _refuse("Nonce is not Base64 of 1 to %d bytes" % MAX_NONCE)
    return nonce


def _base64(text):
    """Bytes of a base64Binary value (surrounding whitespace collapsed), or None if malformed or
    longer than any value we accept."""
    text = text.strip()
    if len(text) % 4 or len(text) > (MAX_NONCE + 2) // 3 * 4 or not _BASE64.match(text):
        return None
    return binascii.a2b_base64(text.encode())  # micropython-lib's binascii takes bytes only
