"""The device's clock (checklist 8.4 #6, #7): the host's UTC clock plus an offset the
administrator sets with SetSystemDateAndTime, kept in the settings across restarts.

Manual time on a desktop or board must never set the host's own clock (that needs root and
belongs to its operating system), so the device keeps its own offset; everything that reads
the device's time (subscriptions, event times, WS-Security freshness) reads this clock. In NTP
mode agent.ntp_client moves the same offset to the servers' time (`synchronize`), kept to the
millisecond: the device never sets the host's clock either way.
"""

from .compat import utc_ms, utc_seconds
from .datetimes import format_datetime
from .posixtz import TimeZone

# Settings keys. "timezone" and "ntp_servers" are shared with the network configuration.
OFFSET = "clock_offset"          # device UTC minus host UTC, whole seconds
MODE = "clock_mode"              # tt:SetDateTimeType: "Manual" or "NTP"
DAYLIGHT_SAVINGS = "daylight_savings"
TIMEZONE = "timezone"
NTP_SERVERS = "ntp_servers"      # manual servers: addresses or DNS names (8.3 #6, #7)
NTP_FROM_DHCP = "ntp_from_dhcp"  # also use the servers DHCP names
MAX_NTP_SERVERS = 4             # the NTP capability (8.2.1): servers SetNTP accepts
MODES = ("Manual", "NTP")
DEFAULT_TIMEZONE = "UTC0"
# Checklist 8.7: set on every NTP synchronisation or SetSystemDateAndTime.
LAST_SYNCHRONIZATION = "Monitoring/OperatingTime/LastClockSynchronization"
# An NTP offset is written to the settings only when it moved by more than this from the stored
# one: every poll would otherwise rewrite a board's flash for a few milliseconds of drift.
PERSIST_MS = 1000


class NtpServerUndefined(ValueError):
    """NTP mode asked for while no NTP server is configured (checklist 8.4 #7)."""


class DeviceClock:
    """Callable like any clock of the agent: the device's UTC time in Unix seconds."""

    def __init__(self, settings, host_clock=utc_seconds, host_ms=None, rtc=None):
        """`host_clock` gives host UTC seconds, `host_ms` the same in milliseconds (default:
        compat.utc_ms for the real clock, whole seconds of `host_clock` for a test's). `rtc`
        sets the board's real-time clock to UTC seconds (compat.rtc_setter): a board has no
        operating system owning its clock, so a new time goes into its RTC, whole seconds, and
        the offset stays 0; without one (CPython) the offset is kept instead."""
        self.settings = settings
        self.rtc = rtc
        self.host_clock = host_clock
        if host_ms is None:
            host_ms = utc_ms if host_clock is utc_seconds else (lambda: host_clock() * 1000)
        self.host_ms = host_ms
        self._synced_ms = None  # the last NTP offset, to the millisecond (not persisted)

    def __call__(self):
        return self.ms() // 1000

    def ms(self):
        """The device's UTC time in Unix milliseconds."""
        return self.host_ms() + self.offset_ms()

    def offset_ms(self):
        """Device UTC minus host UTC in milliseconds: the last NTP synchronisation's, else the
        stored whole seconds (Manual time, and NTP mode until its first synchronisation)."""
        if self._synced_ms is not None:
            return self._synced_ms
        return self.settings.get(OFFSET, 0) * 1000

    def from_host(self, host_seconds):
        """The device time at a host time read elsewhere (a request's arrival), in whole
        seconds: the offset is rounded, since `host_seconds` is truncated already."""
        return host_seconds + (self.offset_ms() + 500) // 1000

    def synchronize(self, offset_ms):
        """Set the device clock to host time plus `offset_ms` (an NTP sample). The offset is kept
        to the millisecond in memory and persisted, in whole seconds, only when it moved by more
        than PERSIST_MS from the stored one, to spare flash; a restart re-synchronises."""
        if self.rtc is not None:
            self.rtc((self.host_ms() + offset_ms + 500) // 1000)
            offset_ms = 0
        self._synced_ms = offset_ms
        if abs(offset_ms - self.settings.get(OFFSET, 0) * 1000) > PERSIST_MS:
            self.settings.update(**{OFFSET: (offset_ms + 500) // 1000})

    @property
    def mode(self):
        return self.settings.get(MODE, "Manual")

    @property
    def daylight_savings(self):
        return self.settings.get(DAYLIGHT_SAVINGS, False) is True

    @property
    def timezone(self):
        """The parsed zone; a settings file edited by hand into an invalid TZ reads as UTC
        rather than failing every GetSystemDateAndTime."""
        try:
            return TimeZone(self.settings.get(TIMEZONE, DEFAULT_TIMEZONE))
        except ValueError:
            return TimeZone(DEFAULT_TIMEZONE)

    def in_dst(self, t):
        """Whether local time is daylight time at device second t: the zone's DST rule applies
        only while DaylightSavings is on (ONVIF: "automatically adjust daylight savings")."""
        return self.daylight_savings and self.timezone.is_dst(t)

    def local_offset(self, t):
        """Seconds from UTC to local time at device second t."""
        zone = self.timezone
        return zone.dst_offset if self.in_dst(t) else zone.std_offset

    def set(self, mode, daylight_savings, timezone=None, utc=None, ntp_servers=None):
        """Apply a SetSystemDateAndTime: validate everything first, then persist it in one
        atomic settings update. `timezone` None keeps the zone; `utc` (Unix seconds) sets the
        time in Manual mode only (ignored under NTP, checklist 8.4 #7). `ntp_servers` are the
        servers NTP mode would use (agent.ntp_client: manual and DHCP ones); None = the manual
        ones. Raises ValueError for an invalid TZ or mode, NtpServerUndefined for NTP without
        servers."""
        if mode not in MODES:
            raise ValueError("DateTimeType %r" % mode)
        if ntp_servers is None:
            ntp_servers = self.settings.get(NTP_SERVERS)
        if mode == "NTP" and not ntp_servers:
            raise NtpServerUndefined("no NTP server is configured")
        changes = {MODE: mode, DAYLIGHT_SAVINGS: daylight_savings is True}
        if timezone is not None:
            changes[TIMEZONE] = TimeZone(timezone).text
        if mode == "Manual" and utc is not None:
            changes[OFFSET] = int(utc) - int(self.host_clock())
            if self.rtc is not None:
                self.rtc(int(utc))
                changes[OFFSET] = 0
        self.settings.update(**changes)
        if OFFSET in changes:
            self._synced_ms = None

    def announce_synchronization(self, bus):
        """Publish LastClockSynchronization with the device's time now (checklist 8.7: a
        property, Data item Status as xs:dateTime)."""
        return bus.set_property(LAST_SYNCHRONIZATION, [],
                                [("Status", format_datetime(self()))])
