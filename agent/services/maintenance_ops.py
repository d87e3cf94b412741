"""System maintenance operations of the device service (checklist 8.4 #2, #5, #8, #13).

A cold group (agent.services.ColdGroup) of agent.services.device.DeviceService.
SetSystemFactoryDefault and StartSystemRestore's upload stage their work in the journal
(agent.maintenance) before answering, so a failed write is a fault and not a false success;
every restart comes from a loop timer after the response.

Not offered (capabilities false, operations ActionNotSupported): the MTOM GetSystemBackup and
RestoreSystem (deprecated; HTTP backup and restore do the same), and firmware upgrades
(UpgradeSystemFirmware, StartFirmwareUpgrade): the agent cannot yet switch its own package
atomically with a rollback when the new one fails to start, which the issue requires.
"""

from .. import log
from ..maintenance import EXPECTED_DOWN_TIME
from ..soap import SoapFault, sender
from . import TT, ColdGroup, required
from .deviceio import TDS, empty_response
from .system_http import BACKUP_PATH, LOG_PATHS, RESTORE_PATH, SUPPORT_PATH

FACTORY_DEFAULTS = ("Hard", "Soft")  # tt:FactoryDefaultType
REBOOT_MESSAGE = "Restarting"


def _staging_failed(exc):
    log.error("cannot stage the maintenance journal: %s", exc)
    return SoapFault("Receiver", "Action", reason="the device could not save the change")


class MaintenanceOperations(ColdGroup):
    """GetSystemUris, StartSystemRestore, SetSystemFactoryDefault, SystemReboot."""

    def GetSystemUris(self, request, ctx):
        def write(w):
            w.start(TDS, "GetSystemUrisResponse")
            w.start(TDS, "SystemLogUris")
            for kind, path in LOG_PATHS:
                w.start(TT, "SystemLog")
                w.leaf(TT, "Type", kind)
                w.leaf(TT, "Uri", ctx.url(path))
                w.end()
            w.end()
            w.leaf(TDS, "SupportInfoUri", ctx.url(SUPPORT_PATH))
            w.leaf(TDS, "SystemBackupUri", ctx.url(BACKUP_PATH))
            w.end()
        return write

    def StartSystemRestore(self, request, ctx):
        token = self.device.maintenance.open_upload()

        def write(w):
            w.start(TDS, "StartSystemRestoreResponse")
            w.leaf(TDS, "UploadUri", ctx.url(RESTORE_PATH + token))
            w.leaf(TDS, "ExpectedDownTime", EXPECTED_DOWN_TIME)
            w.end()
        return write

    def SetSystemFactoryDefault(self, request, ctx):
        kind = (required(request, TDS, "FactoryDefault").text or "").strip()
        if kind not in FACTORY_DEFAULTS:
            raise sender("InvalidArgVal", reason="FactoryDefault is Hard or Soft")
        try:
            self.device.maintenance.factory_default(kind == "Hard")
        except OSError as exc:
            raise _staging_failed(exc)
        return empty_response(TDS, "SetSystemFactoryDefaultResponse")

    def SystemReboot(self, request, ctx):
        self.device.maintenance.restart_soon("reboot")
        return lambda w: _message(w, REBOOT_MESSAGE)


def _message(w, text):
    w.start(TDS, "SystemRebootResponse")
    w.leaf(TDS, "Message", text)
    w.end()
