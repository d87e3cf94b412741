"""GetSystemDateAndTime and SetSystemDateAndTime (checklist 8.4 #6, #7), a mixin of the
device service; the clock itself is agent.clock, the TZ rules agent.posixtz."""

from ..clock import MODES, NtpServerUndefined
from ..compat import gmtime
from ..datetimes import _days_from_civil, _days_in_month
from ..soap import sender
from . import TT, parse_boolean, required
from .deviceio import empty_response

TDS = "http://www.onvif.org/ver10/device/wsdl"
_DIGITS = "0123456789"


def write_date_time(w, name, t):
    """tt:DateTime of a gmtime() tuple."""
    w.start(TT, name)
    w.start(TT, "Time")
    w.leaf(TT, "Hour", t[3])
    w.leaf(TT, "Minute", t[4])
    w.leaf(TT, "Second", t[5])
    w.end()
    w.start(TT, "Date")
    w.leaf(TT, "Year", t[0])
    w.leaf(TT, "Month", t[1])
    w.leaf(TT, "Day", t[2])
    w.end()
    w.end()


def _invalid_date_time(reason):
    return sender("InvalidArgVal", "InvalidDateTime", reason=reason)


def _field(parent, name, low, high):
    """An xs:int field of tt:Date or tt:Time within [low, high], else InvalidDateTime."""
    element = parent.find(TT, name)
    text = element.text.strip() if element is not None and element.text else ""
    if text[:1] == "+":
        text = text[1:]
    if not 0 < len(text) <= 5 or [ch for ch in text if _DIGITS.find(ch) < 0]:
        raise _invalid_date_time("%s is missing or not a number" % name)
    value = int(text)
    if not low <= value <= high:
        raise _invalid_date_time("%s %d is out of range" % (name, value))
    return value


def parse_utc_date_time(element):
    """Unix seconds of a tt:DateTime (Date: Year, Month, Day; Time: Hour, Minute, Second).
    Years stop at 1970-2099: the device's clock cannot run outside the Unix epoch, and a board
    clock that far ahead is a typo."""
    date, time = element.find(TT, "Date"), element.find(TT, "Time")
    if date is None or time is None:
        raise _invalid_date_time("UTCDateTime needs Date and Time")
    year, month = _field(date, "Year", 1970, 2099), _field(date, "Month", 1, 12)
    day = _field(date, "Day", 1, _days_in_month(year, month))
    return (_days_from_civil(year, month, day) * 86400 + _field(time, "Hour", 0, 23) * 3600
            + _field(time, "Minute", 0, 59) * 60 + _field(time, "Second", 0, 59))


class DateTimeOperations:
    """The device service's date and time operations, over `self.device.time`."""

    def GetSystemDateAndTime(self, request, ctx):
        # PRE_AUTH (checklist 5.4): clients read the device time to stamp their first
        # UsernameToken, so it is the request's arrival in device time.
        clock = self.device.time
        now = clock.from_host(ctx.now)
        zone = clock.timezone
        local_offset = clock.local_offset(now)
        in_dst = clock.in_dst(now)

        def write(w):
            w.start(TDS, "GetSystemDateAndTimeResponse")
            w.start(TDS, "SystemDateAndTime")
            w.leaf(TT, "DateTimeType", clock.mode)
            # Whether daylight saving time is in effect right now (informative, 8.4 #6).
            w.leaf(TT, "DaylightSavings", in_dst)
            w.start(TT, "TimeZone")
            w.leaf(TT, "TZ", zone.text)
            w.end()
            # UTCDateTime is always present (8.4 #6).
            write_date_time(w, "UTCDateTime", gmtime(now))
            write_date_time(w, "LocalDateTime", gmtime(now + local_offset))
            w.end()
            w.end()
        return write

    def SetSystemDateAndTime(self, request, ctx):
        mode = required(request, TDS, "DateTimeType").text
        mode = mode.strip() if mode else ""
        if mode not in MODES:
            raise sender("InvalidArgVal", reason="DateTimeType must be Manual or NTP")
        daylight = parse_boolean(required(request, TDS, "DaylightSavings").text,
                                 "DaylightSavings")
        zone = request.find(TDS, "TimeZone")
        tz = None
        if zone is not None:
            tz = required(zone, TT, "TZ").text
            tz = tz.strip() if tz else ""
        utc = request.find(TDS, "UTCDateTime")
        # UTCDateTime is ignored in NTP mode (8.4 #7), so it is not even validated there.
        utc = parse_utc_date_time(utc) if utc is not None and mode == "Manual" else None
        clock = self.device.time
        ntp = self.device.ntp  # agent.ntp_client; None on a device built without one
        try:
            # NTP mode needs a server: a manual one, or DHCP's when NTPFromDHCP (8.4 #7).
            clock.set(mode, daylight, tz, utc, ntp.servers() if ntp is not None else None)
        except NtpServerUndefined as exc:
            raise sender("InvalidArgVal", "NtpServerUndefined", reason=str(exc))
        except ValueError as exc:  # the one thing left to refuse: the TZ (agent.posixtz)
            raise sender("InvalidArgVal", "InvalidTimeZone", reason=str(exc))
        # Checklist 8.7: every SetSystemDateAndTime is a clock synchronisation.
        clock.announce_synchronization(self.device.bus)
        if ntp is not None:
            ntp.sync_now()  # NTP: ask the servers now; Manual: stop asking them
        return empty_response(TDS, "SetSystemDateAndTimeResponse")
