"""The system and access logs GetSystemLog serves (checklist 8.4 #11, issue 8).

Both are bounded in memory (a board has no disk to spare and a log must never grow without
end): past MAX_LINES lines or MAX_CHARS characters the oldest lines go. The system log is fed
by agent.log (every line at info or above); the access log by agent.app, one line per
dispatched SOAP request saying who called which operation and how it ended, never a password,
a token or a body. Lines are made XML-safe here, so a response can carry them as xs:string.
"""

from .compat import monotonic_ms
from .datetimes import format_datetime
from .replies import Deferred

MAX_LINES = 200
MAX_CHARS = 32 * 1024
MAX_LINE = 512  # one runaway message may not push out the whole log

STARTED_MS = monotonic_ms()  # uptime for GetSystemSupportInformation


def _unsafe(code):
    return code < 0x20 or 0x7F <= code < 0xA0 or code in (0xFFFE, 0xFFFF)


def clean(text):
    """`text` without control characters (XML 1.0 forbids most of them; the others would break
    one entry per line) and without the two non-characters XML also forbids. A clean line, the
    usual case, is returned as it is: no copy on a board's heap for every request."""
    for ch in text:
        if _unsafe(ord(ch)):
            break
    else:
        return text
    return "".join([" " if _unsafe(ord(ch)) else ch for ch in text])


class BoundedLog:
    """The last lines written, within `max_lines` and `max_chars`."""

    def __init__(self, max_lines=MAX_LINES, max_chars=MAX_CHARS):
        self.max_lines = max_lines
        self.max_chars = max_chars
        self.lines = []
        self.chars = 0

    def add(self, line):
        line = clean(line if len(line) <= MAX_LINE else line[:MAX_LINE])
        self.lines.append(line)
        self.chars += len(line) + 1  # and its newline
        while len(self.lines) > self.max_lines or self.chars > self.max_chars:
            self.chars -= len(self.lines.pop(0)) + 1

    def clear(self):
        self.lines = []
        self.chars = 0

    def text(self, last=None):
        """The lines (only the `last` ones if given), one per text line."""
        lines = self.lines if last is None else self.lines[max(0, len(self.lines) - last):]
        return "".join(line + "\n" for line in lines)


# One agent per process: the logs are the process's, like agent.log's stream.
SYSTEM = BoundedLog()
ACCESS = BoundedLog()


def record_access(ctx, service_key, operation, reply, fault):
    """Append the access line of one answered request (agent.app.App `on_answer`).

    Outcome is the HTTP status, then the fault code and subcodes if a SOAP fault was answered.
    A Deferred answer (a long poll, a serial exchange) is recorded when it is settled, or as
    "cancelled" when the client went away before it was.
    """
    peer = ctx.peer[0] if isinstance(ctx.peer, tuple) else ctx.peer

    def add(outcome):
        ACCESS.add("%s %s %s %s %s %s" % (format_datetime(ctx.now), peer or "-",
                                          ctx.user or "anonymous", service_key, operation,
                                          outcome))
    if isinstance(reply, Deferred):
        reply.when_settled(lambda settled: add(
            "cancelled" if settled is None else _outcome(settled, reply.fault)))
    else:
        add(_outcome(reply, fault))


def _outcome(reply, fault):
    if fault is None:
        return reply.status
    return "%d %s" % (reply.status, "/".join([fault.code] + [local for _, local in
                                                             fault.subcodes]))
