"""A tiny leveled logger to stderr that both runtimes have (MicroPython ships no `logging`).

Every line at info or above is also kept in the bounded system log GetSystemLog serves
(agent.systemlog, checklist 8.4 #11), whatever the stderr threshold. Under systemd (stderr
connected to the journal: $JOURNAL_STREAM set) a line starts with its syslog priority, "<6>",
instead of the time, which the journal records itself (sd-daemon(3)).
"""

import sys
import time

from .compat import getenv
from .systemlog import SYSTEM

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}
_PRIORITIES = {DEBUG: "<7>", INFO: "<6>", WARNING: "<4>", ERROR: "<3>"}  # syslog(3) levels

_state = {"level": INFO, "stream": None, "journal": bool(getenv("JOURNAL_STREAM"))}


def set_level(level):
    """Set the threshold from a number or a name in LEVELS."""
    _state["level"] = LEVELS[level] if isinstance(level, str) else level


def set_stream(stream, journal=False):
    """Send log lines to `stream` (None = sys.stderr), e.g. a test's list-backed writer;
    `journal`: in the journal's format."""
    _state["stream"] = stream
    _state["journal"] = journal if stream is not None else bool(getenv("JOURNAL_STREAM"))


def _log(level, fmt, args):
    shown = level >= _state["level"]
    if not shown and level < INFO:
        return
    message = fmt % args if args else fmt
    t = time.localtime()
    line = "%02d:%02d:%02d %s %s" % (t[3], t[4], t[5], _NAMES[level], message)
    if level >= INFO:
        SYSTEM.add(line)
    if shown:
        if _state["journal"]:
            line = _PRIORITIES[level] + _NAMES[level] + " " + message
        (_state["stream"] or sys.stderr).write(line + "\n")


def debug(fmt, *args):
    _log(DEBUG, fmt, args)


def info(fmt, *args):
    _log(INFO, fmt, args)


def warning(fmt, *args):
    _log(WARNING, fmt, args)


def error(fmt, *args):
    _log(ERROR, fmt, args)
