"""xs:duration, as ONVIF uses it (relay DelayTime, serial TimeOut, subscription times).

Durations become integer milliseconds. A year counts 365 days and a month 30: ONVIF durations
are relative waits with no calendar anchor, and clients send "PT..." forms in practice.
"""

MAX_TEXT = 64  # far longer than any real duration; bounds the work on hostile input

_DATE_UNITS = (("Y", 365 * 86400000), ("M", 30 * 86400000), ("D", 86400000))
_TIME_UNITS = (("H", 3600000), ("M", 60000), ("S", 1000))


def parse_duration(text):
    """Milliseconds of an xs:duration (negative for "-P..."); ValueError when malformed."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise ValueError("duration too long")
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    if not text.startswith("P") or len(text) < 2:
        raise ValueError("not an xs:duration: %r" % text)
    date, _, time = text[1:].partition("T")
    if _ and not time:
        raise ValueError("empty time part")
    total = _parse_part(date, _DATE_UNITS, False) + _parse_part(time, _TIME_UNITS, True)
    return sign * total


def _parse_part(text, units, fraction_seconds):
    """Sum of "<number><unit>" items of `text`, units in the order given."""
    total = 0
    position = 0  # index into units: each unit at most once, in order
    number = ""
    for char in text:
        if "0" <= char <= "9" or char == ".":
            number += char
            continue
        for index in range(position, len(units)):
            if units[index][0] == char:
                break
        else:
            raise ValueError("unexpected %r in duration" % char)
        if not number or number == "." or number.count(".") > 1 or (
                "." in number and not (fraction_seconds and char == "S")):
            raise ValueError("bad number before %r" % char)
        total += _scaled(number, units[index][1])
        position = index + 1
        number = ""
    if number:
        raise ValueError("number without a unit")
    return total


def _scaled(number, unit_ms):
    whole, _, fraction = number.partition(".")
    ms = int(whole or "0") * unit_ms
    if fraction:  # only seconds have fractions: keep milliseconds, drop the rest
        ms += int((fraction + "000")[:3])
    return ms


def format_duration(ms):
    """The canonical "PT<seconds>S" form, milliseconds kept: 1500 -> "PT1.5S"."""
    sign = "-" if ms < 0 else ""
    ms = abs(int(ms))
    seconds, fraction = divmod(ms, 1000)
    text = "%d" % seconds
    if fraction:
        text += (".%03d" % fraction).rstrip("0")
    return "%sPT%sS" % (sign, text)
