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
MAX_CREATED = 64  # characters: room for a long fraction of a second, nothing more
_SHA1_SIZE = 20

# base64Binary (XML Schema 3.2.16), canonical alphabet with final padding only; checked here
# because the runtimes disagree on bad input (CPython raises binascii.Error, the MicroPython
# WebAssembly build a plain Exception, and both silently skip some junk characters).
_BASE64 = re.compile("^[A-Za-z0-9+/]*=?=?$")
_DIGITS = "0123456789"

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

        when = parse_created(created)
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


def _number(text, start, end):
    """The decimal number written in text[start:end], or -1 if it holds anything but ASCII digits
    (int() would take signs, spaces, underscores and other scripts' digits)."""
    value = 0
    for ch in text[start:end]:
        digit = _DIGITS.find(ch)
        if digit < 0:
            return -1
        value = value * 10 + digit
    return value


def _days_from_civil(year, month, day):
    """Days from 1970-01-01 to a proleptic Gregorian date (no datetime module on MicroPython)."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _days_in_month(year, month):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_created(text):
    """Unix seconds of an xs:dateTime `YYYY-MM-DDThh:mm:ss[.fff...](Z|+hh:mm|-hh:mm)`, or None.

    Whitespace around the value is collapsed (its schema type says so); fractions of a second
    (any number of digits) are dropped; 24:00:00, years outside 0001-9999, offsets beyond
    14:00 and values without an offset are refused.
    """
    s = text.strip()
    if not 20 <= len(s) <= MAX_CREATED or s[4] != "-" or s[7] != "-" or s[10] != "T" \
            or s[13] != ":" or s[16] != ":":
        return None
    year, month, day = _number(s, 0, 4), _number(s, 5, 7), _number(s, 8, 10)
    hour, minute, second = _number(s, 11, 13), _number(s, 14, 16), _number(s, 17, 19)
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month) \
            or not 0 <= hour <= 23 or not 0 <= minute <= 59 or not 0 <= second <= 59:
        return None
    end = 19
    if s[end] == ".":
        end += 1
        while end < len(s) and _DIGITS.find(s[end]) >= 0:
            end += 1
        if end == 20:
            return None
    zone = s[end:]
    if zone == "Z":
        offset = 0
    elif len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        hours, minutes = _number(zone, 1, 3), _number(zone, 4, 6)
        if hours < 0 or not 0 <= minutes <= 59 or hours * 60 + minutes > 14 * 60:
            return None
        offset = (hours * 60 + minutes) * 60
        if zone[0] == "-":
            offset = -offset
    else:
        return None
    return (_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            - offset)
