"""The device's clock (checklist 8.4 #6, #7): the host's UTC clock plus an offset the
administrator sets with SetSystemDateAndTime, kept in the settings across restarts.

Manual time on a desktop or board must never set the host's own clock (that needs root and
belongs to its operating system), so the device keeps its own offset; everything that reads
the device's time (subscriptions, event times, WS-Security freshness) reads this clock. NTP
mode is recorded and refused without servers; synchronising with them is the network work of
issue 8, not done here.
"""

from .compat import utc_seconds
from .datetimes import format_datetime
from .posixtz import TimeZone

# Settings keys. "timezone" and "ntp_servers" are shared with the network configuration.
OFFSET = "clock_offset"          # device UTC minus host UTC, seconds (Manual mode)
MODE = "clock_mode"              # tt:SetDateTimeType: "Manual" or "NTP"
DAYLIGHT_SAVINGS = "daylight_savings"
TIMEZONE = "timezone"
NTP_SERVERS = "ntp_servers"
MODES = ("Manual", "NTP")
DEFAULT_TIMEZONE = "UTC0"
# Checklist 8.7: set on every NTP synchronisation or SetSystemDateAndTime.
LAST_SYNCHRONIZATION = "Monitoring/OperatingTime/LastClockSynchronization"


class NtpServerUndefined(ValueError):
    """NTP mode asked for while no NTP server is configured (checklist 8.4 #7)."""


class DeviceClock:
    """Callable like any clock of the agent: the device's UTC time in Unix seconds."""

    def __init__(self, settings, host_clock=utc_seconds):
        self.settings = settings
        self.host_clock = host_clock

    def __call__(self):
        return self.from_host(self.host_clock())

    def from_host(self, host_seconds):
        """The device time at a host time read elsewhere (a request's arrival)."""
        return host_seconds + self.settings.get(OFFSET, 0)

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

    def set(self, mode, daylight_savings, timezone=None, utc=None):
        """Apply a SetSystemDateAndTime: validate everything first, then persist it in one
        atomic settings update. `timezone` None keeps the zone; `utc` (Unix seconds) sets the
        time in Manual mode only (ignored under NTP, checklist 8.4 #7). Raises ValueError for
        an invalid TZ or mode, NtpServerUndefined for NTP without servers."""
        if mode not in MODES:
            raise ValueError("DateTimeType %r" % mode)
        if mode == "NTP" and not self.settings.get(NTP_SERVERS):
            raise NtpServerUndefined("no NTP server is configured")
        changes = {MODE: mode, DAYLIGHT_SAVINGS: daylight_savings is True}
        if timezone is not None:
            changes[TIMEZONE] = TimeZone(timezone).text
        if mode == "Manual" and utc is not None:
            changes[OFFSET] = int(utc) - int(self.host_clock())
        self.settings.update(**changes)

    def announce_synchronization(self, bus):
        """Publish LastClockSynchronization with the device's time now (checklist 8.7: a
        property, Data item Status as xs:dateTime)."""
        return bus.set_property(LAST_SYNCHRONIZATION, [],
                                [("Status", format_datetime(self()))])
