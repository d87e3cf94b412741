"""Pure-Python MD5, SHA-1 and SHA-256 for runtimes whose hashlib lacks them.

MicroPython's hashlib has only sha256 (some boards have no hashlib at all), yet HTTP Digest needs
MD5 (RFC 2617) and WS-UsernameToken needs SHA-1 (checklist 5.4). agent/compat.py picks hashlib's
functions where they exist and these otherwise. Each takes bytes and returns the digest bytes.
Arithmetic is masked to 32 bits after every add and shift: MicroPython's small ints are 31 bits
wide on 32-bit ports, and nothing here relies on int.bit_length() or other missing methods.
"""

import struct

_MASK = 0xFFFFFFFF


def _padded(data, length_format):
    """`data`, 0x80, zeros and the 64-bit bit count (RFC 1321 3.1-3.2, FIPS 180-4 5.1.1)."""
    zeros = (55 - len(data)) % 64
    return bytes(data) + b"\x80" + b"\x00" * zeros + struct.pack(length_format, len(data) * 8)


# RFC 1321 3.4: T[i] = floor(2^32 * abs(sin(i + 1))), written out so no float maths is needed.
_MD5_T = (
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
)
# Per step: the message word it reads and its left-rotate amount (RFC 1321 3.4, rounds 1-4).
_MD5_STEPS = tuple(
    (g, s) for g, s in
    [(i, (7, 12, 17, 22)[i % 4]) for i in range(16)]
    + [((5 * i + 1) % 16, (5, 9, 14, 20)[i % 4]) for i in range(16)]
    + [((3 * i + 5) % 16, (4, 11, 16, 23)[i % 4]) for i in range(16)]
    + [((7 * i) % 16, (6, 10, 15, 21)[i % 4]) for i in range(16)]
)


def md5(data):
    """MD5 digest (16 bytes) of `data`, RFC 1321."""
    msg = _padded(data, "<Q")
    h0, h1, h2, h3 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476
    mask, table, steps, unpack = _MASK, _MD5_T, _MD5_STEPS, struct.unpack_from
    for offset in range(0, len(msg), 64):
        x = unpack("<16I", msg, offset)
        a, b, c, d = h0, h1, h2, h3
        # Four rounds of 16 steps, one loop each so no step tests which round it is in.
        for i in range(16):
            g, s = steps[i]
            f = (a + ((b & c) | (~b & d)) + table[i] + x[g]) & mask
            a, d, c = d, c, b
            b = (b + ((f << s) | (f >> (32 - s)))) & mask
        for i in range(16, 32):
            g, s = steps[i]
            f = (a + ((d & b) | (~d & c)) + table[i] + x[g]) & mask
            a, d, c = d, c, b
            b = (b + ((f << s) | (f >> (32 - s)))) & mask
        for i in range(32, 48):
            g, s = steps[i]
            f = (a + (b ^ c ^ d) + table[i] + x[g]) & mask
            a, d, c = d, c, b
            b = (b + ((f << s) | (f >> (32 - s)))) & mask
        for i in range(48, 64):
            g, s = steps[i]
            f = (a + (c ^ (b | (~d & mask))) + table[i] + x[g]) & mask
            a, d, c = d, c, b
            b = (b + ((f << s) | (f >> (32 - s)))) & mask
        h0 = (h0 + a) & mask
        h1 = (h1 + b) & mask
        h2 = (h2 + c) & mask
        h3 = (h3 + d) & mask
    return struct.pack("<4I", h0, h1, h2, h3)


def _sha1_schedule(msg, offset):
    """The 80 message-schedule words of one block (FIPS 180-4 6.1.2 step 1)."""
    w = list(struct.unpack_from(">16I", msg, offset))
    mask = _MASK
    for t in range(16, 80):
        v = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
        w.append(((v << 1) | (v >> 31)) & mask)
    return w


def sha1(data):
    """SHA-1 digest (20 bytes) of `data`, FIPS 180-4 6.1."""
    msg = _padded(data, ">Q")
    h0, h1, h2, h3, h4 = 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0
    mask = _MASK
    for offset in range(0, len(msg), 64):
        w = _sha1_schedule(msg, offset)
        a, b, c, d, e = h0, h1, h2, h3, h4
        # FIPS 180-4 4.1.1 and 4.2.1: one loop per function f_t and constant K_t.
        for t in range(20):
            f = (((a << 5) | (a >> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[t]) & mask
            e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & mask, a, f
        for t in range(20, 40):
            f = (((a << 5) | (a >> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]) & mask
            e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & mask, a, f
        for t in range(40, 60):
            f = (((a << 5) | (a >> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc
                 + w[t]) & mask
            e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & mask, a, f
        for t in range(60, 80):
            f = (((a << 5) | (a >> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[t]) & mask
            e, d, c, b, a = d, c, ((b << 30) | (b >> 2)) & mask, a, f
        h0 = (h0 + a) & mask
        h1 = (h1 + b) & mask
        h2 = (h2 + c) & mask
        h3 = (h3 + d) & mask
        h4 = (h4 + e) & mask
    return struct.pack(">5I", h0, h1, h2, h3, h4)


# FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
# primes.
_SHA256_K = (
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
)


def _sha256_schedule(msg, offset):
    """The 64 message-schedule words of one block (FIPS 180-4 6.2.2 step 1)."""
    w = list(struct.unpack_from(">16I", msg, offset))
    mask = _MASK
    for t in range(16, 64):
        x, y = w[t - 15], w[t - 2]
        s0 = ((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3)
        s1 = ((y >> 17) | (y << 15)) ^ ((y >> 19) | (y << 13)) ^ (y >> 10)
        w.append((w[t - 16] + (s0 & mask) + w[t - 7] + (s1 & mask)) & mask)
    return w


def sha256(data):
    """SHA-256 digest (32 bytes) of `data`, FIPS 180-4 6.2."""
    msg = _padded(data, ">Q")
    h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    mask, k = _MASK, _SHA256_K
    for offset in range(0, len(msg), 64):
        w = _sha256_schedule(msg, offset)
        a, b, c, d, e, f, g, hh = h
        for t in range(64):
            s1 = ((e >> 6) | (e << 26)) ^ ((e >> 11) | (e << 21)) ^ ((e >> 25) | (e << 7))
            t1 = hh + (s1 & mask) + ((e & f) ^ (~e & g)) + k[t] + w[t]
            s0 = ((a >> 2) | (a << 30)) ^ ((a >> 13) | (a << 19)) ^ ((a >> 22) | (a << 10))
            t2 = (s0 & mask) + ((a & b) ^ (a & c) ^ (b & c))
            hh, g, f, e = g, f, e, (d + t1) & mask
            d, c, b, a = c, b, a, (t1 + t2) & mask
        for i, v in enumerate((a, b, c, d, e, f, g, hh)):
            h[i] = (h[i] + v) & mask
    return struct.pack(">8I", *h)
