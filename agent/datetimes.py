"""xs:dateTime, as ONVIF uses it: UTC Unix seconds in and out (no datetime module on
MicroPython). Every time value the device sends is UTC with `Z` (checklist 10.3)."""

from .compat import gmtime

MAX_TEXT = 64  # characters: room for a long fraction of a second, nothing more
_DIGITS = "0123456789"


def _number(text, start, end):
    """The decimal number written in text[start:end], or -1 if it holds anything but ASCII digits
    (int() would take signs, spaces, underscores and other scripts' digits)."""
    value = 0
    for ch in text[start:end]:
        digit = _DIGITS.find(ch)
        if digit < 0:
            return -1
        value = value * 10 + digit
    return value


def _days_from_civil(year, month, day):
    """Days from 1970-01-01 to a proleptic Gregorian date (no datetime module on MicroPython)."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _days_in_month(year, month):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_datetime(text):
    """Unix seconds of an xs:dateTime `YYYY-MM-DDThh:mm:ss[.fff...](Z|+hh:mm|-hh:mm)`, or None.

    Whitespace around the value is collapsed (its schema type says so); fractions of a second
    (any number of digits) are dropped; 24:00:00, years outside 0001-9999, offsets beyond
    14:00 and values without an offset are refused.
    """
    s = text.strip()
    if not 20 <= len(s) <= MAX_TEXT or s[4] != "-" or s[7] != "-" or s[10] != "T" \
            or s[13] != ":" or s[16] != ":":
        return None
    year, month, day = _number(s, 0, 4), _number(s, 5, 7), _number(s, 8, 10)
    hour, minute, second = _number(s, 11, 13), _number(s, 14, 16), _number(s, 17, 19)
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month) \
            or not 0 <= hour <= 23 or not 0 <= minute <= 59 or not 0 <= second <= 59:
        return None
    end = 19
    if s[end] == ".":
        end += 1
        while end < len(s) and _DIGITS.find(s[end]) >= 0:
            end += 1
        if end == 20:
            return None
    zone = s[end:]
    if zone == "Z":
        offset = 0
    elif len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        hours, minutes = _number(zone, 1, 3), _number(zone, 4, 6)
        if hours < 0 or not 0 <= minutes <= 59 or hours * 60 + minutes > 14 * 60:
            return None
        offset = (hours * 60 + minutes) * 60
        if zone[0] == "-":
            offset = -offset
    else:
        return None
    return (_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            - offset)


def format_datetime(seconds):
    """`YYYY-MM-DDThh:mm:ssZ` of Unix seconds (fractions dropped)."""
    t = gmtime(int(seconds))
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (t[0], t[1], t[2], t[3], t[4], t[5])
