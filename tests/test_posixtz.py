"""POSIX TZ strings (agent.posixtz, checklist 8.4 #6/#7): parse, refuse, and the UTC offset
at instants on both sides of real DST transitions. The expected instants are worked out by
hand from the zones' published rules (no zoneinfo on MicroPython, and the host's TZ database
must not be the oracle of a device that carries its own rule)."""

import unittest

from agent.posixtz import TimeZone

H = 3600
# UTC instants (Unix seconds) of the transitions the tables below cross.
EU_START_2024 = 1711846800   # 2024-03-31T01:00:00Z: last Sunday of March, 02:00 CET
EU_END_2024 = 1729990800     # 2024-10-27T01:00:00Z: last Sunday of October, 03:00 CEST
US_START_2024 = 1710054000   # 2024-03-10T07:00:00Z: second Sunday of March, 02:00 EST
US_END_2024 = 1730613600     # 2024-11-03T06:00:00Z: first Sunday of November, 02:00 EDT
AU_END_2024 = 1712419200     # 2024-04-06T16:00:00Z: first Sunday of April, 03:00 AEDT
AU_START_2024 = 1728144000   # 2024-10-05T16:00:00Z: first Sunday of October, 02:00 AEST
EU_START_2021 = 1616893200   # 2021-03-28T01:00:00Z
MID_JANUARY = 1705320000     # 2024-01-15T12:00:00Z
MID_JULY = 1719835200        # 2024-07-01T12:00:00Z
LEAP_DAY_2024 = 1709164800   # 2024-02-29T00:00:00Z
MARCH_1_2023 = 1677628800    # 2023-03-01T00:00:00Z

# (TZ, UTC second, expected UTC offset in hours, expected DST)
OFFSETS = (
    ("UTC0", MID_JULY, 0, False),
    ("JST-9", MID_JANUARY, 9, False),
    ("<+03>-3", MID_JULY, 3, False),
    ("EST5", MID_JULY, -5, False),
    ("<-0330>3:30", MID_JULY, -3.5, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", MID_JANUARY, 1, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_START_2024 - 1, 1, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_START_2024, 2, True),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_END_2024 - 1, 2, True),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_END_2024, 1, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_START_2021 - 1, 1, False),
    ("CET-1CEST,M3.5.0,M10.5.0/3", EU_START_2021, 2, True),
    ("EST5EDT,M3.2.0,M11.1.0", US_START_2024 - 1, -5, False),
    ("EST5EDT,M3.2.0,M11.1.0", US_START_2024, -4, True),
    ("EST5EDT,M3.2.0,M11.1.0", US_END_2024 - 1, -4, True),
    ("EST5EDT,M3.2.0,M11.1.0", US_END_2024, -5, False),
    ("EST5EDT", US_START_2024, -4, True),  # no rule: the US default (glibc, IANA posixrules)
    ("EST5EDT", US_START_2024 - 1, -5, False),
    ("EST5EDT4,M3.2.0/2:00:00,M11.1.0/2", US_START_2024, -4, True),
    # Southern hemisphere: DST spans the turn of the year.
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", MID_JANUARY, 11, True),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", AU_END_2024 - 1, 11, True),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", AU_END_2024, 10, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", MID_JULY, 10, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", AU_START_2024 - 1, 10, False),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", AU_START_2024, 11, True),
    # Negative rule times (RFC 8536 extension, as in America/Nuuk): the same instants as CET.
    ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", EU_START_2024 - 1, -2, False),
    ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", EU_START_2024, -1, True),
    ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", EU_END_2024, -2, False),
    # Jn never counts February 29, n does: J60 is March 1 and 59 is February 29 in 2024.
    ("AAA0BBB,J60/0,J300/0", LEAP_DAY_2024, 0, False),
    ("AAA0BBB,J60/0,J300/0", LEAP_DAY_2024 + 86400, 1, True),
    ("AAA0BBB,59/0,300/0", LEAP_DAY_2024 - 1, 0, False),
    ("AAA0BBB,59/0,300/0", LEAP_DAY_2024, 1, True),
    ("AAA0BBB,J60/0,J300/0", MARCH_1_2023 - 1, 0, False),
    ("AAA0BBB,J60/0,J300/0", MARCH_1_2023, 1, True),
    ("AAA0BBB,59/0,300/0", MARCH_1_2023, 1, True),
)

INVALID = (
    "", "UT0", "UTC", "0", "UTC0X", "UTC25", "UTC-25", "UTC1:60", "UTC1:", "utc 0", " UTC0",
    "<AB>1", "<ABC1", "<A_C>1", "CET-1CEST,", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,",
    "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0",
    "CET-1CEST,M3.0.0,M10.5.0", "CET-1CEST,M3.5,M10.5.0", "CET-1CEST,J0,J10", "CET-1CEST,J366,J1",
    "CET-1CEST,366,1", "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0/2,M10.5.0/x",
    "CET-1CEST,M3.5.0,M10.5.0,", "CET-1CEST-25,M3.5.0,M10.5.0", "CET-1CEST;M3.5.0,M10.5.0",
    "UTC001", "UTC0:001", "CET-1CEST,J0365,J1", "X" * 200,
)


class OffsetTest(unittest.TestCase):
    def test_offset_and_dst_table(self):
        for tz, t, hours, dst in OFFSETS:
            zone = TimeZone(tz)
            self.assertEqual((zone.utc_offset(t), zone.is_dst(t)), (int(hours * H), dst),
                             "%s at %d" % (tz, t))

    def test_names_and_standard_offset(self):
        zone = TimeZone("<+0530>-5:30")
        self.assertEqual((zone.std_name, zone.std_offset, zone.dst_name), ("+0530", 19800, None))
        zone = TimeZone("CET-1CEST,M3.5.0,M10.5.0/3")
        self.assertEqual((zone.std_name, zone.dst_name, zone.std_offset, zone.dst_offset),
                         ("CET", "CEST", H, 2 * H))
        self.assertEqual(TimeZone("UTC0").text, "UTC0")

    def test_week_five_is_the_last_week(self):
        # February 2024 has five Thursdays (M2.5.4 is the 29th) but four Sundays (M2.5.0 is the
        # 25th, the last one); February 2026 starts on a Sunday, so its fifth would be March 1.
        for rule, start in (("M2.5.4", LEAP_DAY_2024), ("M2.5.0", LEAP_DAY_2024 - 4 * 86400),
                            ("M2.5.0", 1771718400)):  # 2026-02-22T00:00:00Z
            zone = TimeZone("AAA0BBB,%s/0,M12.1.0/0" % rule)
            self.assertEqual((zone.is_dst(start - 1), zone.is_dst(start)), (False, True), rule)


class InvalidTest(unittest.TestCase):
    def test_invalid_strings_raise_value_error(self):
        for tz in INVALID:
            try:
                TimeZone(tz)
            except ValueError:
                continue
            self.fail("accepted %r" % tz)

    def test_not_a_string_is_invalid(self):
        self.assertRaises(ValueError, TimeZone, None)


if __name__ == "__main__":
    unittest.main()
