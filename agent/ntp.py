"""SNTPv4 client packets (RFC 4330, the client mode of RFC 5905), sans-IO: the request to send,
and the checks and arithmetic that turn a server's reply into a clock offset.

Why integers: the device clock's offset is kept to the millisecond, and MicroPython boards often
have single-precision floats (24-bit mantissa: a Unix time in seconds would be off by minutes).
So every time here is an int of milliseconds since the Unix epoch, and NTP's 32.32 fixed-point
timestamps are converted with integer arithmetic (long integers: every board port the agent
targets has them).
"""

import struct

PORT = 123
PACKET_SIZE = 48
NTP_UNIX_DELTA = 2208988800   # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
ERA = 1 << 32                 # seconds in one NTP era: era 1 starts 2036-02-07T06:28:16Z
_CLIENT_HEADER = 0x23         # LI 0 (no warning), VN 4, mode 3 (client): RFC 4330 section 4
_SERVER_MODE = 4
_LI_UNSYNCHRONISED = 3
_MAX_STRATUM = 15             # 16 means unsynchronised (RFC 5905 section 7.3)
_MAX_ROOT_MS = 1000           # RFC 4330 section 5: root delay and dispersion "less than
                              # infinity, where infinity is currently a cozy number like 1 s"
# Kiss-o'-Death codes (RFC 4330 section 8) after which the server must not be asked again, and
# the one that asks for a lower rate.
STOP_CODES = ("DENY", "RSTR")
RATE_CODE = "RATE"


class NtpError(ValueError):
    """A reply the client must not use (RFC 4330 section 5)."""


class NotOurReply(NtpError):
    """A datagram that does not echo our request's cookie: a stale duplicate or a forgery,
    to be ignored while the real reply may still come."""


class KissOfDeath(NtpError):
    """A stratum-0 reply: the server tells the client to back off (`code` "RATE") or to stop
    using it ("DENY", "RSTR"); other codes only mean this reply carries no time."""

    def __init__(self, code):
        super().__init__("kiss-o'-death " + code)
        self.code = code


def request(cookie):
    """The 48-byte client request. Every field is zero but the header byte and the transmit
    timestamp, which carries `cookie` (8 random bytes, not the clock: RFC 5905 only needs the
    server to echo it, and a random one stops an off-path attacker from forging replies)."""
    if len(cookie) != 8:
        raise ValueError("the cookie is 8 bytes")
    return bytes([_CLIENT_HEADER]) + bytes(39) + bytes(cookie)


def to_unix_ms(seconds, fraction):
    """Unix milliseconds of an NTP timestamp (32-bit seconds and fraction), rounded.

    RFC 4330 section 3: a set most significant bit means era 0 (1968-2036), a clear one era 1
    (from 2036-02-07T06:28:16Z), so the result is right from 1968 to 2104 whatever the device's
    own clock says (a board without a battery-backed clock starts in 1970 or 2000)."""
    if not seconds & 0x80000000:
        seconds += ERA
    return (seconds - NTP_UNIX_DELTA) * 1000 + ((fraction * 1000 + (1 << 31)) >> 32)


class Sample:
    """One usable exchange: `offset_ms` (server time minus local time, RFC 5905 theta),
    `delay_ms` (round trip, delta) and the server's `stratum`."""

    def __init__(self, offset_ms, delay_ms, stratum):
        self.offset_ms = offset_ms
        self.delay_ms = delay_ms
        self.stratum = stratum


def measure(reply, cookie, t1_ms, t4_ms):
    """The Sample of `reply` to the request carrying `cookie`, sent at local time `t1_ms` and
    received at `t4_ms`; raises NtpError for a reply to refuse, KissOfDeath for a kiss.

    The originate timestamp is checked before anything else, the kiss code included: a datagram
    that does not echo our cookie (NotOurReply) is not from the server we asked, and must neither
    make us give up on that server nor stop us using it."""
    if len(reply) < PACKET_SIZE:
        raise NtpError("short reply (%d bytes)" % len(reply))
    header, stratum = reply[0], reply[1]
    leap, version, mode = header >> 6, (header >> 3) & 7, header & 7
    root_delay, root_dispersion = struct.unpack("!iI", reply[4:12])
    receive = struct.unpack("!II", reply[32:40])
    transmit = struct.unpack("!II", reply[40:48])
    if reply[24:32] != cookie:
        raise NotOurReply("originate timestamp is not our request's")
    if mode != _SERVER_MODE:
        raise NtpError("mode %d is not a server's" % mode)
    if version not in (3, 4):
        raise NtpError("version %d" % version)
    if stratum == 0:
        raise KissOfDeath(_kiss_code(reply[12:16]))
    if leap == _LI_UNSYNCHRONISED or stratum > _MAX_STRATUM:
        raise NtpError("server not synchronised (leap %d, stratum %d)" % (leap, stratum))
    if transmit == (0, 0) or receive == (0, 0):
        raise NtpError("zero receive or transmit timestamp")
    # Both are 16.16 seconds: root delay signed, root dispersion unsigned.
    if root_delay < 0 or root_delay * 1000 >> 16 >= _MAX_ROOT_MS or \
            root_dispersion * 1000 >> 16 >= _MAX_ROOT_MS:
        raise NtpError("root delay or dispersion out of range")
    t2, t3 = to_unix_ms(*receive), to_unix_ms(*transmit)
    # RFC 4330 section 5 / RFC 5905 section 8; floor division keeps it integral on both runtimes.
    offset = ((t2 - t1_ms) + (t3 - t4_ms)) // 2
    delay = max(0, (t4_ms - t1_ms) - (t3 - t2))
    return Sample(offset, delay, stratum)


def _kiss_code(ref_id):
    """The four ASCII letters of a kiss code ("RATE"), "????" when they are not ASCII."""
    try:
        return bytes(ref_id).decode().rstrip("\x00") or "????"
    except UnicodeError:
        return "????"
