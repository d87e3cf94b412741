"""Identifiers: random UUIDs (RFC 9562 version 4)."""

from .compat import urandom


def uuid4():
    """A random UUID in its canonical text form."""
    b = bytearray(urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC variant
    h = "".join("%02x" % x for x in b)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
