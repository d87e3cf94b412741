"""agent.datetimes: what the device sends is UTC with Z, and reads back to the same second
(parsing is tested with the UsernameToken's Created in tests/test_wsse.py)."""

import unittest

from agent.datetimes import format_datetime, parse_datetime


class FormatTest(unittest.TestCase):
    def test_utc_with_z_round_trips(self):
        for seconds, text in ((0, "1970-01-01T00:00:00Z"), (951782400, "2000-02-29T00:00:00Z"),
                              (1700000000, "2023-11-14T22:13:20Z"),
                              (4102444799, "2099-12-31T23:59:59Z")):
            self.assertEqual(format_datetime(seconds), text)
            self.assertEqual(parse_datetime(text), seconds)
        self.assertEqual(format_datetime(1700000000.9), "2023-11-14T22:13:20Z")
