"""NTP server replies for the tests (portable): what a server would send, field by field, so a
test can spoil exactly one field. The client side is agent.ntp; nothing here uses it."""

import struct

NTP_UNIX_DELTA = 2208988800  # written out again on purpose: the tests check agent.ntp's


def timestamp(unix_ms):
    """The 8 bytes of the NTP timestamp of a Unix time in milliseconds (RFC 5905 era rule:
    seconds modulo 2^32, so 2036 and later wrap to small values)."""
    seconds = (unix_ms // 1000 + NTP_UNIX_DELTA) % (1 << 32)
    fraction = ((unix_ms % 1000) << 32) // 1000
    return struct.pack("!II", seconds, fraction)


def reply(cookie, receive_ms, transmit_ms, leap=0, version=4, mode=4, stratum=2,
          root_delay=0, root_dispersion=0, ref_id=b"GPS\x00", receive=None, transmit=None):
    """A server's 48-byte reply echoing `cookie` as its originate timestamp. `root_delay` and
    `root_dispersion` are 16.16 fixed-point integers; `receive`/`transmit` give raw 8-byte
    timestamps instead of the times."""
    return (struct.pack("!BBbb", (leap << 6) | (version << 3) | mode, stratum, 6, -20) +
            struct.pack("!iI", root_delay, root_dispersion) + bytes(ref_id) +
            timestamp(receive_ms - 60000) + bytes(cookie) +
            (receive if receive is not None else timestamp(receive_ms)) +
            (transmit if transmit is not None else timestamp(transmit_ms)))
