"""Parts made on first use (agent.lazy, issue 9): the Notify sender and the NTP client are not
made, so not imported, until a device needs them."""

import unittest

from agent.lazy import OnFirstUse
from agent.startup import NtpWhenNeeded


class Part:
    def __init__(self):
        self.calls = []

    def sync_now(self):
        self.calls.append("sync_now")

    def close(self):
        self.calls.append("close")

    def servers(self):
        return ["192.0.2.1"]


class Clock:
    mode = "Manual"


class OnFirstUseTest(unittest.TestCase):
    def test_made_once_at_the_first_attribute(self):
        made = []

        def make():
            made.append(Part())
            return made[-1]
        lazy = OnFirstUse(make)
        self.assertEqual(made, [])
        lazy.sync_now()
        lazy.close()
        self.assertEqual(len(made), 1)
        self.assertEqual(made[0].calls, ["sync_now", "close"])
        self.assertTrue(lazy.get() is made[0])


class NtpWhenNeededTest(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.made = []
        self.ntp = NtpWhenNeeded(self.clock, lambda: self.made.append(Part()) or self.made[-1])

    def test_a_manual_clock_never_makes_the_client(self):
        self.ntp.start()
        self.ntp.sync_now()
        self.ntp.close()
        self.assertEqual(self.made, [])

    def test_made_when_the_clock_goes_to_ntp_and_kept_after(self):
        self.ntp.start()
        self.clock.mode = "NTP"  # SetSystemDateAndTime
        self.ntp.sync_now()
        self.assertEqual(len(self.made), 1)
        self.clock.mode = "Manual"  # back: the client is told, so it stops querying
        self.ntp.sync_now()
        self.ntp.close()
        self.assertEqual(self.made[0].calls, ["sync_now", "sync_now", "close"])

    def test_asking_for_its_servers_makes_the_client(self):
        # SetSystemDateAndTime checks NTP mode has a server before switching (8.4 #7)
        self.assertEqual(self.ntp.servers(), ["192.0.2.1"])
        self.assertEqual(len(self.made), 1)
