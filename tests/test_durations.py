"""agent.durations: xs:duration to milliseconds and back."""

import unittest

from agent.durations import format_duration, parse_duration


class DurationTest(unittest.TestCase):
    def test_parse(self):
        for text, ms in (("PT1S", 1000), ("PT0S", 0), ("PT0.5S", 500), ("PT1.2345S", 1234),
                         ("-PT1S", -1000), ("PT1M30S", 90000), ("PT2H", 7200000),
                         ("P1D", 86400000), ("P1DT1S", 86401000), ("P1Y", 365 * 86400000),
                         ("P2M", 60 * 86400000), (" PT10S\n", 10000), ("PT.5S", 500)):
            self.assertEqual(parse_duration(text), ms, text)

    def test_malformed(self):
        for text in ("", "P", "PT", "1S", "PT1", "PTS", "PT1.5M", "PT1S1M", "PT1H1H",
                     "P1S", "PT1..2S", "PT-1S", "P1DT", "x" * 80, None):
            try:
                parse_duration(text)
            except ValueError:
                continue
            self.fail("accepted %r" % (text,))

    def test_format(self):
        for ms, text in ((0, "PT0S"), (1000, "PT1S"), (1500, "PT1.5S"), (100, "PT0.1S"),
                         (600000, "PT600S"), (-1000, "-PT1S"), (1234, "PT1.234S")):
            self.assertEqual(format_duration(ms), text)
            self.assertEqual(parse_duration(text), ms)
