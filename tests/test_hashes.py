"""agent.purehash and the hash helpers of agent.compat, on both runtimes.

Published vectors pin each algorithm; seeded random inputs around the padding boundaries compare
purehash with whatever compat selected. Where the runtime's hashlib has the algorithm (CPython: all
three; MicroPython: sha256) it is the oracle for purehash on many more inputs.
"""

import binascii
import random
import unittest

from agent import compat, purehash

try:
    import hashlib
except ImportError:  # boards without hashlib: only the published vectors apply
    hashlib = None
try:
    import hmac
except ImportError:
    hmac = None

# RFC 1321 appendix A.5.
MD5_VECTORS = (
    (b"", "d41d8cd98f00b204e9800998ecf8427e"),
    (b"a", "0cc175b9c0f1b6a831c399e269772661"),
    (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
    (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"),
    (b"1234567890" * 8, "57edf4a22be3c955ac49da2e2107b67a"),
)
TWO_BLOCKS = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"  # FIPS 180 example
# FIPS 180-2 appendix A (SHA-1) and B (SHA-256) examples, plus the empty message.
SHA1_VECTORS = (
    (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (TWO_BLOCKS, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
)
SHA256_VECTORS = (
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (TWO_BLOCKS, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
)
# RFC 4231 section 4, test cases 1-4, 6 and 7 (case 5 checks a truncated output: compared below).
HMAC_VECTORS = (
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than "
                    b"block-size data. The key needs to be hashed before being used by the HMAC "
                    b"algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)
NAMES = ("md5", "sha1", "sha256")
# Every length up to 300 crosses the one-block (55/56) and two-block (119/120) padding boundaries.
LENGTHS = range(301)


def hexdigest(digest):
    return binascii.hexlify(digest).decode()


def random_bytes(n):
    return bytes(random.getrandbits(8) for _ in range(n))


def oracle(name):
    """The runtime's hashlib constructor for `name`, or None where it lacks one."""
    if hashlib is None:
        return None
    constructor = getattr(hashlib, name, None)
    try:
        constructor(b"")
    except (TypeError, ValueError):  # TypeError: absent (None); ValueError: FIPS-mode md5
        return None
    return constructor


class PublishedVectorsTest(unittest.TestCase):
    def check(self, vectors, *functions):
        for function in functions:
            for message, expected in vectors:
                self.assertEqual(hexdigest(function(message)), expected, message)

    def test_md5_rfc1321(self):
        self.check(MD5_VECTORS, purehash.md5, compat.md5)

    def test_sha1_fips180(self):
        self.check(SHA1_VECTORS, purehash.sha1, compat.sha1)

    def test_sha256_fips180(self):
        self.check(SHA256_VECTORS, purehash.sha256, compat.sha256)

    def test_hmac_sha256_rfc4231(self):
        for key, message, expected in HMAC_VECTORS:
            self.assertEqual(hexdigest(compat.hmac_sha256(key, message)), expected)

    def test_hmac_sha256_rfc4231_truncated_case(self):
        mac = compat.hmac_sha256(b"\x0c" * 20, b"Test With Truncation")
        self.assertEqual(hexdigest(mac[:16]), "a3b6167473100ee06e0c796c2955552b")

    def test_digest_sizes(self):
        self.assertEqual([len(getattr(purehash, n)(b"x")) for n in NAMES], [16, 20, 32])

    def test_bytearray_and_memoryview_inputs(self):
        for name in NAMES:
            function = getattr(purehash, name)
            self.assertEqual(function(bytearray(b"abc")), function(b"abc"))
            self.assertEqual(function(memoryview(b"xabc")[1:]), function(b"abc"))


class PureMatchesCompatTest(unittest.TestCase):
    def test_every_length_to_300(self):
        random.seed(1321)
        for n in LENGTHS:
            data = random_bytes(n)
            for name in NAMES:
                self.assertEqual(getattr(purehash, name)(data), getattr(compat, name)(data),
                                 "%s of %d bytes" % (name, n))

    def test_hashlib_oracle_on_random_inputs(self):
        """2,000 inputs where hashlib has all three (CPython); 200 where it has sha256 only."""
        oracles = [(n, oracle(n)) for n in NAMES if oracle(n) is not None]
        if not oracles:
            self.skipTest("this runtime has no hashlib to compare with")
        rounds = 2000 if len(oracles) == len(NAMES) else 200
        random.seed(180)
        for _ in range(rounds):
            data = random_bytes(random.randint(0, 300))
            for name, constructor in oracles:
                self.assertEqual(getattr(purehash, name)(data), constructor(data).digest(), name)

    def test_hmac_matches_the_hmac_module(self):
        if hmac is None or oracle("md5") is None:
            self.skipTest("the stdlib hmac module is CPython's")
        random.seed(2104)
        for n in range(0, 140, 3):  # key lengths either side of the 64-byte block
            key = random_bytes(n)
            message = random_bytes(random.randint(0, 200))
            self.assertEqual(compat.hmac_sha256(key, message),
                             hmac.new(key, message, hashlib.sha256).digest())


class CompareDigestTest(unittest.TestCase):
    def test_equal_values(self):
        self.assertTrue(compat.compare_digest(b"", b""))
        self.assertTrue(compat.compare_digest(b"abc", b"abc"))
        self.assertTrue(compat.compare_digest("6629fae4", "6629fae4"))

    def test_different_values_of_one_length(self):
        self.assertFalse(compat.compare_digest(b"abc", b"abd"))
        self.assertFalse(compat.compare_digest(b"xbc", b"abc"))
        self.assertFalse(compat.compare_digest("abc", "ABC"))

    def test_different_lengths(self):
        self.assertFalse(compat.compare_digest(b"abc", b"abcd"))
        self.assertFalse(compat.compare_digest(b"abcd", b"abc"))
        self.assertFalse(compat.compare_digest(b"", b"a"))
        self.assertFalse(compat.compare_digest("abc", ""))

    def test_str_and_bytes_mix(self):
        self.assertTrue(compat.compare_digest("abc", b"abc"))
        self.assertFalse(compat.compare_digest("abc", b"abx"))
