"""SNTP packets (agent.ntp, RFC 4330): the request, the era conversion (2036 included), offset and
delay from hand-computed vectors, and the refusal of every reply field a client must check."""

import binascii
import unittest

from agent import ntp
from agent.ntp_client import is_literal, parse_server
from tests import ntp_packets

COOKIE = b"\x01\x23\x45\x67\x89\xab\xcd\xef"
JAN_2024_MS = 1704067200000  # 2024-01-01T00:00:00Z = NTP second 3913056000 = 0xE93C7F00


class RequestTest(unittest.TestCase):
    def test_client_mode_version_4_carrying_the_cookie(self):
        packet = ntp.request(COOKIE)
        self.assertEqual(len(packet), 48)
        self.assertEqual(packet[0], 0x23)  # LI 0, VN 4, mode 3
        self.assertEqual(packet[1:40], bytes(39))
        self.assertEqual(packet[40:], COOKIE)

    def test_cookie_is_eight_bytes(self):
        with self.assertRaises(ValueError):
            ntp.request(b"short")


class EraTest(unittest.TestCase):
    def test_era_0(self):
        self.assertEqual(ntp.to_unix_ms(0xE93C7F00, 0), JAN_2024_MS)
        self.assertEqual(ntp.to_unix_ms(0xE93C7F00, 0x80000000), JAN_2024_MS + 500)
        self.assertEqual(ntp.to_unix_ms(0xE93C7F00, 0x40000000), JAN_2024_MS + 250)
        self.assertEqual(ntp.to_unix_ms(0x83AA7E80, 0), 0)  # 1970-01-01: 2208988800

    def test_fraction_rounds_to_the_nearest_millisecond(self):
        self.assertEqual(ntp.to_unix_ms(0xE93C7F00, 0xFFFFFFFF), JAN_2024_MS + 1000)
        self.assertEqual(ntp.to_unix_ms(0xE93C7F00, 0x00200000), JAN_2024_MS)  # 0.49 ms

    def test_2036_wraps_to_era_1(self):
        # 2036-02-07T06:28:16Z is 2^32 - 2208988800 = 2085978496 Unix seconds.
        self.assertEqual(ntp.to_unix_ms(0xFFFFFFFF, 0), 2085978495000)
        self.assertEqual(ntp.to_unix_ms(0, 0), 2085978496000)
        self.assertEqual(ntp.to_unix_ms(0x00000010, 0x80000000), 2085978512500)
        # The last second RFC 4330's rule covers: 2104 (era 1, MSB still clear).
        self.assertEqual(ntp.to_unix_ms(0x7FFFFFFF, 0), (2085978496 + 0x7FFFFFFF) * 1000)

    def test_the_test_server_writes_what_the_client_reads(self):
        for t in (JAN_2024_MS + 1, 2085978495999, 2085978496000, 2085978512500):
            seconds, fraction = ntp_packets.timestamp(t)[:4], ntp_packets.timestamp(t)[4:]
            self.assertEqual(ntp.to_unix_ms(int.from_bytes(seconds, "big"),
                                            int.from_bytes(fraction, "big")), t)


# A stratum 1 reply, written out byte by byte: LI 0 VN 4 mode 4, stratum 1, poll 6,
# precision -20, root delay 0, root dispersion 16/65536 s, "GPS", reference time, then
# originate = COOKIE, receive = 2024-01-01T01:00:00.260Z, transmit = 01:00:00.265Z.
HAND_REPLY = binascii.unhexlify(
    "240106ec" "00000000" "00000010" "47505300"
    "e93c7f0000000000"
    "0123456789abcdef"
    "e93c8d10428f5c29"   # 3913059600 s + 0.26 s (0x428F5C29 / 2^32)
    "e93c8d1043d70a3d")  # 3913059600 s + 0.265 s


class MeasureTest(unittest.TestCase):
    def test_offset_and_delay_of_a_hand_computed_exchange(self):
        # T1 = JAN_2024, T4 = T1 + 30 ms; T2 = T1 + 3600.260 s, T3 = T2 + 5 ms.
        # theta = ((T2-T1) + (T3-T4)) / 2 = (3600260 + 3600235) / 2 = 3600247.5 -> 3600247
        # delta = (T4-T1) - (T3-T2) = 30 - 5 = 25
        sample = ntp.measure(HAND_REPLY, COOKIE, JAN_2024_MS, JAN_2024_MS + 30)
        self.assertEqual((sample.offset_ms, sample.delay_ms, sample.stratum), (3600247, 25, 1))

    def test_a_server_behind_gives_a_negative_offset(self):
        reply = ntp_packets.reply(COOKIE, JAN_2024_MS - 10000, JAN_2024_MS - 9990)
        sample = ntp.measure(reply, COOKIE, JAN_2024_MS, JAN_2024_MS + 20)
        self.assertEqual((sample.offset_ms, sample.delay_ms), (-10005, 10))

    def test_across_the_2036_wrap(self):
        # Local clock just before the wrap, the server 2 s later: in era 1.
        t1 = 2085978495000
        reply = ntp_packets.reply(COOKIE, t1 + 2000, t1 + 2000)
        self.assertEqual(reply[32:36], b"\x00\x00\x00\x01")
        self.assertEqual(ntp.measure(reply, COOKIE, t1, t1).offset_ms, 2000)

    def test_version_3_and_extra_bytes_are_accepted(self):
        reply = ntp_packets.reply(COOKIE, JAN_2024_MS, JAN_2024_MS, version=3) + bytes(20)
        self.assertEqual(ntp.measure(reply, COOKIE, JAN_2024_MS, JAN_2024_MS).offset_ms, 0)


def spoiled(**fields):
    return ntp_packets.reply(COOKIE, JAN_2024_MS, JAN_2024_MS, **fields)


class RefusalTest(unittest.TestCase):
    def refused(self, reply, kind=ntp.NtpError):
        with self.assertRaises(kind) as caught:
            ntp.measure(reply, COOKIE, JAN_2024_MS, JAN_2024_MS)
        return caught.exception

    def test_a_good_reply_passes(self):
        self.assertEqual(ntp.measure(spoiled(), COOKIE, JAN_2024_MS, JAN_2024_MS).offset_ms, 0)

    def test_short(self):
        self.refused(spoiled()[:47])

    def test_originate_not_our_cookie(self):
        self.refused(HAND_REPLY[:24] + bytes(8) + HAND_REPLY[32:], ntp.NotOurReply)
        # ... checked first: a stranger's kiss never stops us using the server.
        kiss = spoiled(stratum=0, leap=3, ref_id=b"DENY")
        self.refused(kiss[:24] + b"\xff" * 8 + kiss[32:], ntp.NotOurReply)

    def test_mode_other_than_server(self):
        for mode in (0, 1, 2, 3, 5, 6, 7):
            self.refused(spoiled(mode=mode))

    def test_version(self):
        for version in (0, 1, 2, 5, 7):
            self.refused(spoiled(version=version))

    def test_unsynchronised_leap_indicator(self):
        self.refused(spoiled(leap=3))
        for leap in (1, 2):  # a leap second announced: still a good time
            ntp.measure(spoiled(leap=leap), COOKIE, JAN_2024_MS, JAN_2024_MS)

    def test_stratum_16_and_above(self):
        self.refused(spoiled(stratum=16))
        self.refused(spoiled(stratum=255))
        ntp.measure(spoiled(stratum=15), COOKIE, JAN_2024_MS, JAN_2024_MS)

    def test_zero_transmit_or_receive_timestamp(self):
        self.refused(spoiled(transmit=bytes(8)))
        self.refused(spoiled(receive=bytes(8)))

    def test_root_delay_and_dispersion(self):
        self.refused(spoiled(root_delay=-1))
        self.refused(spoiled(root_delay=0x10000))          # 1 s
        self.refused(spoiled(root_dispersion=0x10000))
        self.refused(spoiled(root_dispersion=0xFFFFFFFF))
        ntp.measure(spoiled(root_delay=0xFFBE, root_dispersion=0xFFBE), COOKIE,
                    JAN_2024_MS, JAN_2024_MS)  # 0.999 s

    def test_kiss_o_death_codes(self):
        for code in ("RATE", "DENY", "RSTR", "INIT"):
            kiss = self.refused(spoiled(stratum=0, leap=3, ref_id=code.encode()),
                                ntp.KissOfDeath)
            self.assertEqual(kiss.code, code)
        self.assertEqual(self.refused(spoiled(stratum=0, ref_id=b"\xff\xfe\x00\x00"),
                                      ntp.KissOfDeath).code, "????")
        self.assertEqual(ntp.STOP_CODES, ("DENY", "RSTR"))
        self.assertEqual(ntp.RATE_CODE, "RATE")


class ServerStringTest(unittest.TestCase):
    """The server strings of the settings (agent.ntp_client): address or name, optional port."""

    def test_parse(self):
        self.assertEqual(parse_server("pool.ntp.org"), ("pool.ntp.org", 123))
        self.assertEqual(parse_server(" 192.0.2.1:1123 "), ("192.0.2.1", 1123))
        self.assertEqual(parse_server("2001:db8::1"), ("2001:db8::1", 123))
        self.assertEqual(parse_server("[2001:db8::1]:1123"), ("2001:db8::1", 1123))
        self.assertEqual(parse_server("[::1]"), ("::1", 123))
        for bad in ("", "host:", "host:0", "host:65536", "host:x", "[::1]x", "[::1]:", ":123"):
            with self.assertRaises(ValueError):
                parse_server(bad)

    def test_literals_need_no_resolution(self):
        for host in ("192.0.2.1", "::1", "2001:db8::1", "0.0.0.0"):
            self.assertTrue(is_literal(host), host)
        for host in ("pool.ntp.org", "localhost", "192.0.2", "192.0.2.256", "1.2.3.4.5"):
            self.assertFalse(is_literal(host), host)


if __name__ == "__main__":
    unittest.main()
