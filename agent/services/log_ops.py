"""GetSystemLog and GetSystemSupportInformation of the device service (checklist 8.4 #11, #12).

A cold group (agent.services.ColdGroup) of agent.services.device.DeviceService. Both answer as
character data (tt:String), not MTOM attachments, from the bounded logs of agent.systemlog: the
logs always exist (possibly still empty), so the AccesslogUnavailable, SystemlogUnavailable and
SupportInformationUnavailable faults never apply.
"""

from .. import __version__
from ..compat import monotonic_ms
from ..soap import sender
from ..systemlog import ACCESS, STARTED_MS, SYSTEM
from . import TT, ColdGroup, required
from .deviceio import TDS

_LOGS = {"System": SYSTEM, "Access": ACCESS}  # tt:SystemLogType

SUPPORT_LOG_LINES = 50  # the system log's tail in the support information


def _string_response(response, name, text):
    """tds:`response`/tds:`name` (a tt:SystemLog or tt:SupportInformation)/tt:String."""
    def write(w):
        w.start(TDS, response)
        w.start(TDS, name)
        w.leaf(TT, "String", text)
        w.end()
        w.end()
    return write


class LogOperations(ColdGroup):
    """GetSystemLog, GetSystemSupportInformation."""

    def GetSystemLog(self, request, ctx):
        kind = (required(request, TDS, "LogType").text or "").strip()
        chosen = _LOGS.get(kind)
        if chosen is None:
            raise sender("InvalidArgVal", reason="LogType is neither System nor Access")
        return _string_response("GetSystemLogResponse", "SystemLog", chosen.text())

    def GetSystemSupportInformation(self, request, ctx):
        return _string_response("GetSystemSupportInformationResponse", "SupportInformation",
                                support_information(self.device))


def support_information(device):
    """The diagnostics text (also served at GetSystemUris' SupportInfoUri, checklist 8.4 #2)."""
    board = device.board
    facts = (("version", __version__),
             ("board", board["name"] + " (" + board["hal"] + ")"),
             ("uptime", "%d s" % ((monotonic_ms() - STARTED_MS) // 1000)),
             ("users", len(device.users.list())),
             ("subscriptions", len(device.subscriptions.by_id)),
             ("access log lines", len(ACCESS.lines)))
    text = "".join("%s: %s\n" % fact for fact in facts)
    return text + "last system log lines:\n" + SYSTEM.text(SUPPORT_LOG_LINES)
