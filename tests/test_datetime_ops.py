"""GetSystemDateAndTime and SetSystemDateAndTime (checklist 8.4 #6, #7) and the device clock
(agent.clock): Manual time as an offset over the host clock, kept across restarts; the time
zone's local time and DST flag; every fault; the LastClockSynchronization event (8.7)."""

import unittest

from agent.app import build_app
from agent.clock import LAST_SYNCHRONIZATION
from agent.device import Device
from agent.settings import Settings
from tests.soapclient import FIXED_NOW, TDS, TT, InMemoryClient
from tests.support import AllowAll, StateDirCase

BOARD = {"name": "test", "hal": "sim"}
EVENTS = "/onvif/event_service"
H = 3600
JULY_2024 = 1719835200  # 2024-07-01T12:00:00Z: CEST, UTC+2


def date_time(year, month, day, hour, minute, second):
    return ("<tds:UTCDateTime><tt:Time><tt:Hour>%s</tt:Hour><tt:Minute>%s</tt:Minute>"
            "<tt:Second>%s</tt:Second></tt:Time><tt:Date><tt:Year>%s</tt:Year>"
            "<tt:Month>%s</tt:Month><tt:Day>%s</tt:Day></tt:Date></tds:UTCDateTime>"
            % (hour, minute, second, year, month, day))


def set_request(mode="Manual", dst="false", tz=None, utc=None):
    zone = "<tds:TimeZone><tt:TZ>%s</tt:TZ></tds:TimeZone>" % tz if tz is not None else ""
    return ("<tds:SetSystemDateAndTime><tds:DateTimeType>%s</tds:DateTimeType>"
            "<tds:DaylightSavings>%s</tds:DaylightSavings>%s%s</tds:SetSystemDateAndTime>"
            % (mode, dst, zone, utc or ""))


def read_date_time(element):
    date, time = element.find(TT, "Date"), element.find(TT, "Time")
    return tuple(int(date.findtext(TT, n)) for n in ("Year", "Month", "Day")) + \
        tuple(int(time.findtext(TT, n)) for n in ("Hour", "Minute", "Second"))


class DateTimeCase(StateDirCase):
    def start(self, policy=None, clock=None, rtc=None):
        """A device on a host clock standing at FIXED_NOW, as the in-memory client's (or on
        `clock`, with a board RTC setter `rtc`)."""
        self.device = Device(BOARD, Settings(self.dir), clock=clock or (lambda: FIXED_NOW),
                             rtc=rtc)
        self.messages = []
        self.device.bus.listen(self.messages.append)
        self.client = InMemoryClient(build_app(self.device, policy=policy or AllowAll()))

    def get(self):
        r = self.client.call("<tds:GetSystemDateAndTime/>")
        self.assertEqual(r.status, 200, r.body)
        sdt = r.body_child.find(TDS, "SystemDateAndTime")
        return (sdt.findtext(TT, "DateTimeType"), sdt.findtext(TT, "DaylightSavings"),
                sdt.find(TT, "TimeZone").findtext(TT, "TZ"),
                read_date_time(sdt.find(TT, "UTCDateTime")),
                read_date_time(sdt.find(TT, "LocalDateTime")))

    def set(self, body):
        r = self.client.call(body)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body_child.name, "SetSystemDateAndTimeResponse")

    def fault(self, body):
        r = self.client.call(body)
        self.assertEqual(r.status, 400, r.body)
        return r.fault()


class GetTest(DateTimeCase):
    def test_defaults_are_manual_utc_on_the_host_clock(self):
        # FIXED_NOW is 2026-11-21T10:20:30Z.
        self.assertEqual(self.get(), ("Manual", "false", "UTC0", (2026, 11, 21, 10, 20, 30),
                                      (2026, 11, 21, 10, 20, 30)))

    def test_needs_no_credentials(self):
        self.start(policy=None)
        from agent.app import default_policy
        self.client = InMemoryClient(build_app(self.device, policy=default_policy(self.device)))
        self.assertEqual(self.get()[0], "Manual")
        # ... while setting the time is for administrators only (WRITE_SYSTEM).
        r = self.client.call(set_request())
        self.assertEqual(r.status, 401)


class SetTest(DateTimeCase):
    def test_manual_time_one_hour_ahead_moves_the_device_clock_only(self):
        self.set(set_request(utc=date_time(2026, 11, 21, 11, 20, 30)))
        got = self.get()
        self.assertEqual(got[3], (2026, 11, 21, 11, 20, 30))
        self.assertEqual(self.device.clock(), FIXED_NOW + H)
        self.assertEqual(self.device.time.host_clock(), FIXED_NOW, "the host clock is untouched")

    def test_time_zone_gives_local_time_and_the_dst_flag(self):
        cet = "CET-1CEST,M3.5.0,M10.5.0/3"
        self.set(set_request(tz=cet, dst="true", utc=date_time(2024, 7, 1, 12, 0, 0)))
        self.assertEqual(self.get(), ("Manual", "true", cet, (2024, 7, 1, 12, 0, 0),
                                      (2024, 7, 1, 14, 0, 0)))
        # Without automatic daylight saving the zone keeps its standard offset.
        self.set(set_request(dst="false"))
        self.assertEqual(self.get(), ("Manual", "false", cet, (2024, 7, 1, 12, 0, 0),
                                      (2024, 7, 1, 13, 0, 0)))
        # Winter: standard time even with daylight saving on (FIXED_NOW is in November).
        self.set(set_request(dst="true", utc=date_time(2026, 11, 21, 10, 20, 30)))
        self.assertEqual(self.get()[1:], ("false", cet, (2026, 11, 21, 10, 20, 30),
                                          (2026, 11, 21, 11, 20, 30)))

    def test_quoted_zone_and_whitespace(self):
        self.set(set_request(tz=" &lt;+03&gt;-3 "))
        self.assertEqual(self.get()[2:], ("<+03>-3", (2026, 11, 21, 10, 20, 30),
                                          (2026, 11, 21, 13, 20, 30)))

    def test_settings_survive_a_new_device(self):
        self.set(set_request(tz="JST-9", utc=date_time(2030, 1, 2, 3, 4, 5)))
        self.start()
        self.assertEqual(self.get(), ("Manual", "false", "JST-9", (2030, 1, 2, 3, 4, 5),
                                      (2030, 1, 2, 12, 4, 5)))
        self.assertEqual(self.device.clock(), 1893553445)  # 2030-01-02T03:04:05Z

    def test_without_utc_time_or_zone_both_stay(self):
        self.set(set_request(tz="JST-9", utc=date_time(2030, 1, 2, 3, 4, 5)))
        self.set(set_request())
        self.assertEqual(self.get()[2:4], ("JST-9", (2030, 1, 2, 3, 4, 5)))

    def test_ntp_needs_a_server_then_ignores_the_utc_time(self):
        self.assertEqual(self.fault(set_request("NTP")),
                         ("Sender", ["InvalidArgVal", "NtpServerUndefined"]))
        self.device.settings.update(ntp_servers=["192.0.2.123"])
        # An invalid UTCDateTime is not even read in NTP mode (8.4 #7).
        self.set(set_request("NTP", utc=date_time(2026, 2, 30, 99, 0, 0)))
        self.assertEqual(self.get()[0:4], ("NTP", "false", "UTC0", (2026, 11, 21, 10, 20, 30)))

    def test_switching_back_to_manual(self):
        self.device.settings.update(ntp_servers=["192.0.2.123"])
        self.set(set_request("NTP"))
        self.set(set_request("Manual", utc=date_time(2026, 11, 21, 12, 20, 30)))
        self.assertEqual(self.get()[0:4], ("Manual", "false", "UTC0", (2026, 11, 21, 12, 20, 30)))


class FaultTest(DateTimeCase):
    INVALID_TIME_ZONE = ("Sender", ["InvalidArgVal", "InvalidTimeZone"])
    INVALID_DATE_TIME = ("Sender", ["InvalidArgVal", "InvalidDateTime"])

    def assert_unchanged(self):
        self.assertEqual(self.get(), ("Manual", "false", "UTC0", (2026, 11, 21, 10, 20, 30),
                                      (2026, 11, 21, 10, 20, 30)))
        self.assertEqual([m for m in self.messages if m.topic == LAST_SYNCHRONIZATION], [])

    def test_invalid_time_zones(self):
        for tz in ("", "Europe/Berlin", "CET-1CEST,M3.5.0", "UTC25", "X" * 300):
            self.assertEqual(self.fault(set_request(tz=tz)), self.INVALID_TIME_ZONE, tz)
        self.assertEqual(self.fault(set_request().replace(
            "</tds:DaylightSavings>", "</tds:DaylightSavings><tds:TimeZone/>")),
            ("Sender", ["InvalidArgs"]), "tt:TZ is required in tt:TimeZone")
        self.assert_unchanged()

    def test_invalid_date_times(self):
        for fields in ((2026, 2, 29, 0, 0, 0), (2024, 2, 30, 0, 0, 0), (2026, 13, 1, 0, 0, 0),
                       (2026, 0, 1, 0, 0, 0), (2026, 1, 0, 0, 0, 0), (2026, 1, 1, 24, 0, 0),
                       (2026, 1, 1, 0, 60, 0), (2026, 1, 1, 0, 0, 60), (1969, 12, 31, 23, 59, 59),
                       (2100, 1, 1, 0, 0, 0), ("x", 1, 1, 0, 0, 0), (2026, "", 1, 0, 0, 0),
                       (2026, 1, 1, "-1", 0, 0), (2026, 1, 1, "1.5", 0, 0),
                       (2026, 1, 1, 0, 0, "99999999999")):
            self.assertEqual(self.fault(set_request(utc=date_time(*fields))),
                             self.INVALID_DATE_TIME, fields)
        no_date = "<tds:UTCDateTime><tt:Time><tt:Hour>1</tt:Hour></tt:Time></tds:UTCDateTime>"
        self.assertEqual(self.fault(set_request(utc=no_date)), self.INVALID_DATE_TIME)
        self.assert_unchanged()

    def test_a_valid_date_time_with_an_invalid_zone_changes_nothing(self):
        self.assertEqual(self.fault(set_request(tz="bad", utc=date_time(2030, 1, 1, 0, 0, 0))),
                         self.INVALID_TIME_ZONE)
        self.assert_unchanged()

    def test_invalid_mode_and_flag(self):
        self.assertEqual(self.fault(set_request("Auto")), ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.fault(set_request(dst="yes")), ("Sender", ["InvalidArgVal"]))
        self.assertEqual(self.fault("<tds:SetSystemDateAndTime/>"), ("Sender", ["InvalidArgs"]))
        self.assert_unchanged()

    def test_leap_day_and_edges_are_valid(self):
        for fields, seconds in (((2024, 2, 29, 23, 59, 59), 1709251199),
                                ((1970, 1, 1, 0, 0, 0), 0),
                                ((2099, 12, 31, 23, 59, 59), 4102444799)):
            self.set(set_request(utc=date_time(*fields)))
            self.assertEqual(self.device.clock(), seconds, fields)


class EventTest(DateTimeCase):
    def synchronizations(self):
        return [(m.operation, m.source, m.data) for m in self.messages
                if m.topic == LAST_SYNCHRONIZATION]

    def test_every_set_publishes_last_clock_synchronization(self):
        self.set(set_request(utc=date_time(2026, 11, 21, 11, 20, 30)))
        self.set(set_request(tz="JST-9"))
        self.assertEqual(self.synchronizations(), [
            ("Initialized", (), (("Status", "2026-11-21T11:20:30Z"),)),
            ("Changed", (), (("Status", "2026-11-21T11:20:30Z"),))])
        # Stamped with the device's new time, not the host's.
        self.assertEqual([m.time for m in self.messages], [FIXED_NOW + H] * 2)

    def test_get_event_properties_lists_the_topic(self):
        r = self.client.call("<tev:GetEventProperties/>", path=EVENTS)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(b"<tns1:LastClockSynchronization" in r.body, r.body)
        self.assertTrue(b'Name="Status" Type="xs:dateTime"' in r.body, r.body)


class FakeNtpClient:
    """What SetSystemDateAndTime asks of device.ntp (agent.ntp_client.NtpClient)."""

    def __init__(self, servers):
        self.configured = servers
        self.synced = 0

    def servers(self):
        return self.configured

    def sync_now(self):
        self.synced += 1


class NtpClientTest(DateTimeCase):
    def test_ntp_mode_asks_the_client_now_and_manual_stops_it(self):
        self.device.ntp = FakeNtpClient(["192.0.2.123"])
        self.set(set_request("NTP"))
        self.assertEqual(self.device.ntp.synced, 1)
        self.set(set_request("Manual"))
        self.assertEqual(self.device.ntp.synced, 2, "the client stops itself in Manual mode")

    def test_servers_from_dhcp_are_enough_and_none_is_refused(self):
        self.device.ntp = FakeNtpClient([])
        self.assertEqual(self.fault(set_request("NTP")),
                         ("Sender", ["InvalidArgVal", "NtpServerUndefined"]))
        self.assertEqual(self.device.ntp.synced, 0)
        self.device.ntp.configured = ["198.51.100.1"]  # e.g. named by DHCP, no manual one
        self.set(set_request("NTP"))
        self.assertEqual(self.get()[0], "NTP")


class BoardRtcTest(DateTimeCase):
    """A board's real-time clock (compat.rtc_setter) is set instead of keeping an offset."""

    def start(self):
        self.rtc_now = [FIXED_NOW]  # the board's RTC: its host clock

        def set_rtc(seconds):
            self.rtc_now[0] = seconds
        super().start(clock=lambda: self.rtc_now[0], rtc=set_rtc)

    def test_manual_time_sets_the_rtc_and_no_offset(self):
        self.set(set_request(utc=date_time(2026, 11, 21, 11, 20, 30)))
        self.assertEqual(self.rtc_now[0], FIXED_NOW + H)
        self.assertEqual(self.device.settings.get("clock_offset"), 0)
        self.assertEqual(self.device.time(), FIXED_NOW + H)

    def test_an_ntp_sample_sets_the_rtc_to_the_nearest_second(self):
        self.device.time.synchronize(3600700)
        self.assertEqual(self.rtc_now[0], FIXED_NOW + H + 1)
        self.assertEqual((self.device.time.offset_ms(), self.device.settings.get("clock_offset", 0)),
                         (0, 0))
        self.assertEqual(self.device.time(), FIXED_NOW + H + 1)


class SynchronizeTest(DateTimeCase):
    def writes(self):
        """Count the settings writes from now on."""
        counted = [0]
        update = self.device.settings.update

        def counting(**changes):
            counted[0] += 1
            update(**changes)
        self.device.settings.update = counting
        return counted

    def test_ntp_offset_kept_to_the_millisecond_persisted_in_whole_seconds(self):
        clock = self.device.time
        writes = self.writes()
        clock.synchronize(3600250)
        self.assertEqual(clock.ms(), FIXED_NOW * 1000 + 3600250)
        self.assertEqual(clock(), FIXED_NOW + H)
        self.assertEqual(self.get()[3], (2026, 11, 21, 11, 20, 30))
        self.assertEqual((self.device.settings.get("clock_offset"), writes[0]), (H, 1))
        # Drift within PERSIST_MS of the stored offset spares the flash...
        clock.synchronize(3600900)
        clock.synchronize(3599100)
        self.assertEqual((self.device.settings.get("clock_offset"), writes[0]), (H, 1))
        self.assertEqual(clock.ms(), FIXED_NOW * 1000 + 3599100)
        # ... a larger step is written.
        clock.synchronize(3601600)
        self.assertEqual((self.device.settings.get("clock_offset"), writes[0]), (H + 2, 2))
        clock.synchronize(-1501)
        self.assertEqual(self.device.settings.get("clock_offset"), -2)
        self.assertEqual(clock(), FIXED_NOW - 2)  # floor of host - 1.501 s

    def test_a_restart_keeps_the_whole_seconds_until_the_next_synchronisation(self):
        self.device.time.synchronize(3600250)
        self.start()
        self.assertEqual(self.device.time.ms(), (FIXED_NOW + H) * 1000)

    def test_the_real_host_clock_in_milliseconds(self):
        from agent.clock import DeviceClock
        from agent.compat import utc_seconds
        clock = DeviceClock(self.device.settings)
        before = utc_seconds()
        ms = clock.ms()
        self.assertTrue(before * 1000 <= ms < (utc_seconds() + 1) * 1000, (before, ms))
        self.assertTrue(clock() - ms // 1000 in (0, 1))

    def test_manual_time_replaces_the_ntp_offset(self):
        self.device.time.synchronize(3600250)
        self.set(set_request(tz="JST-9"))  # no UTCDateTime: the synchronised time runs on
        self.assertEqual(self.device.time.ms(), FIXED_NOW * 1000 + 3600250)
        self.set(set_request(utc=date_time(2026, 11, 21, 10, 20, 40)))
        self.assertEqual(self.device.time.ms(), (FIXED_NOW + 10) * 1000)


if __name__ == "__main__":
    unittest.main()
