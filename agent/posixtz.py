"""POSIX time zone strings (IEEE 1003.1 §8.3), the form ONVIF's tt:TimeZone/TZ carries
(checklist 8.4 #6, #7): `std offset [dst [offset] [,start[/time],end[/time]]]`.

No zoneinfo or datetime on MicroPython, and the device must not depend on the host's TZ
database: the rule in the string is the whole truth. Offsets follow POSIX's sign (positive
west of Greenwich: "EST5" is UTC-5); rule times may run from -167 to 167 hours (RFC 8536 §3.3.1
extension, which glibc also accepts). Anything else raises ValueError.
"""

from .datetimes import _days_from_civil, _days_in_month

MAX_LENGTH = 128  # characters: far beyond any real zone, bounds the parse
# POSIX leaves the rule of "dst" without one to the implementation; glibc and the IANA
# "posixrules" default are the United States' rule.
DEFAULT_RULES = "M3.2.0,M11.1.0"
_DIGITS = "0123456789"
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Reader:
    """A cursor over the TZ string; every `need` failure is the one ValueError of the parse."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, ch):
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def need(self, ok, what):
        if not ok:
            raise ValueError("invalid TZ %r at %d: %s" % (self.text, self.pos, what))

    def number(self, low, high, what):
        start = self.pos
        value = 0
        while self.peek() and _DIGITS.find(self.peek()) >= 0 and \
                self.pos - start < len(str(high)):
            value = value * 10 + _DIGITS.find(self.peek())
            self.pos += 1
        self.need(self.pos > start and low <= value <= high, what)
        return value

    def name(self):
        """std or dst: three or more letters, or <...> of letters, digits, '+' and '-'."""
        start = self.pos
        if self.take("<"):
            while self.peek() and (_LETTERS.find(self.peek()) >= 0 or
                                   _DIGITS.find(self.peek()) >= 0 or self.peek() in "+-"):
                self.pos += 1
            end = self.pos
            self.need(self.take(">") and end - start - 1 >= 3, "zone name")
            return self.text[start + 1:end]
        while self.peek() and _LETTERS.find(self.peek()) >= 0:
            self.pos += 1
        self.need(self.pos - start >= 3, "zone name")
        return self.text[start:self.pos]

    def duration(self, max_hours, what):
        """[+|-]hh[:mm[:ss]] in seconds."""
        sign = -1 if self.take("-") else 1
        if sign == 1:
            self.take("+")
        seconds = self.number(0, max_hours, what) * 3600
        if self.take(":"):
            seconds += self.number(0, 59, what) * 60
            if self.take(":"):
                seconds += self.number(0, 59, what)
        return sign * seconds

    def rule(self):
        """Jn, n or Mm.w.d, then an optional /time (default 02:00:00), as a tuple."""
        if self.take("J"):
            day = ("J", self.number(1, 365, "Julian day"))
        elif self.take("M"):
            month = self.number(1, 12, "month")
            self.need(self.take("."), "'.' in Mm.w.d")
            week = self.number(1, 5, "week")
            self.need(self.take("."), "'.' in Mm.w.d")
            day = ("M", month, week, self.number(0, 6, "weekday"))
        else:
            day = ("D", self.number(0, 365, "day of year"))
        time = self.duration(167, "rule time") if self.take("/") else 7200
        return day, time


class TimeZone:
    """A parsed POSIX TZ: `utc_offset(t)` and `is_dst(t)` at UTC Unix second t."""

    def __init__(self, text):
        if not isinstance(text, str) or not 0 < len(text) <= MAX_LENGTH:
            raise ValueError("TZ must be 1 to %d characters" % MAX_LENGTH)
        r = _Reader(text)
        self.text = text
        self.std_name = r.name()
        self.std_offset = -r.duration(24, "offset")  # east of UTC positive, as ISO 8601
        self.dst_name = None
        if r.peek():
            self.dst_name = r.name()
            self.dst_offset = self.std_offset + 3600
            if r.peek() and r.peek() != ",":
                self.dst_offset = -r.duration(24, "dst offset")
            rules = r if r.take(",") else _Reader(DEFAULT_RULES)
            r.need(rules is r or not r.peek(), "',' before the start rule")
            self.start = rules.rule()
            rules.need(rules.take(","), "',' before the end rule")
            self.end = rules.rule()
        r.need(not r.peek(), "trailing text")

    def _transitions(self, year):
        """(DST start, DST end) of `year` in UTC seconds: the start's time is standard local
        time, the end's is daylight time (§8.3)."""
        return (_rule_day(year, self.start[0]) * 86400 + self.start[1] - self.std_offset,
                _rule_day(year, self.end[0]) * 86400 + self.end[1] - self.dst_offset)

    def is_dst(self, t):
        if self.dst_name is None:
            return False
        year = _year_of(t)
        for y in (year - 1, year, year + 1):
            start, end = self._transitions(y)
            if start > end:  # southern hemisphere: DST runs into the next year
                end = self._transitions(y + 1)[1]
            if start <= t < end:
                return True
        return False

    def utc_offset(self, t):
        """Seconds to add to UTC for local time at UTC second t."""
        return self.dst_offset if self.is_dst(t) else self.std_offset


def _year_of(t):
    """The proleptic Gregorian year of UTC second t (no gmtime: it may not reach every year)."""
    year = 1970 + t // 31556952  # mean Gregorian year
    while _days_from_civil(year, 1, 1) * 86400 > t:
        year -= 1
    while _days_from_civil(year + 1, 1, 1) * 86400 <= t:
        year += 1
    return year


def _rule_day(year, day):
    """Days from 1970-01-01 to the rule's day of `year`."""
    first = _days_from_civil(year, 1, 1)
    if day[0] == "J":  # 1..365, February 29 never counted
        leap = _days_in_month(year, 2) == 29
        return first + day[1] - 1 + (1 if leap and day[1] >= 60 else 0)
    if day[0] == "D":  # 0..365, February 29 counted
        return first + day[1]
    month, week, weekday = day[1], day[2], day[3]
    start = _days_from_civil(year, month, 1)
    # 1970-01-01 was a Thursday (weekday 4, Sunday = 0).
    date = start + (weekday - (start + 4)) % 7 + 7 * (week - 1)
    while date >= start + _days_in_month(year, month):  # week 5 means "the last"
        date -= 7
    return date
