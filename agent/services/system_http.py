"""Plain HTTP resources of system maintenance (checklist 8.4 #2 GetSystemUris, #5
StartSystemRestore): the backup archive, the two logs and the support information, and the
one-time upload URI of a restore.

agent.app serves an object with `http(request, ctx)` as a plain HTTP resource: same paths
table, same authentication (HTTP Digest; a UsernameToken needs a SOAP envelope) and the access
class of the SOAP operation each one stands for (Table 7), but no SOAP around the body. The
backup format and the support information are loaded when asked for, as the cold operation
groups are (agent.services.Service.cold).
"""

from .. import log
from ..compat import load_cold
from ..datetimes import format_datetime
from ..operations import READ_SYSTEM_SECRET, UNRECOVERABLE
from ..replies import Reply, text_reply
from ..systemlog import ACCESS, SYSTEM

BACKUP_PATH = "/onvif/system/backup"
LOG_PATHS = (("System", "/onvif/system/log/system"), ("Access", "/onvif/system/log/access"))
SUPPORT_PATH = "/onvif/system/support"
RESTORE_PATH = "/onvif/system/restore/"  # + the one-time token
BACKUP_TOPIC = "Monitoring/Backup/Last"  # checklist 8.7: the last configuration backup taken


class Resource:
    """A GET resource readable by administrators (GetSystemLog, GetSystemBackup's class)."""

    key = "system"     # the access log's service column
    path = ""
    prefix = False     # True: answers every path under `path` (ctx.resource holds the rest)
    method = "GET"
    access = READ_SYSTEM_SECRET

    def __init__(self, device, path=None, text=None):
        self.device = device
        self.path = path or self.path
        self.text = text  # a callable giving the resource's text

    def http(self, request, ctx):
        return text_reply(200, self.text())


class BackupResource(Resource):
    """SystemBackupUri: the configuration archive (agent.backup)."""

    path = BACKUP_PATH

    def http(self, request, ctx):
        now = self.device.time()
        data = load_cold("agent.backup").make_archive(self.device, now)
        self.device.bus.set_property(BACKUP_TOPIC, [], [("Status", format_datetime(now))])
        return Reply(200, lambda sink: sink(data), "application/octet-stream", [
            ("Content-Disposition", 'attachment; filename="onvif-agent-backup.json"')])


class RestoreResource(Resource):
    """StartSystemRestore's UploadUri: the archive is validated whole, then staged
    (agent.maintenance) and the agent restarts; a bad one is HTTP 415 and changes nothing."""

    path = RESTORE_PATH
    prefix = True
    method = "POST"
    access = UNRECOVERABLE

    def http(self, request, ctx):
        maintenance = self.device.maintenance
        if not maintenance.take_upload(ctx.resource):
            return text_reply(404, "Unknown or expired upload URI: call StartSystemRestore\n")
        backup = load_cold("agent.backup")
        try:
            settings = backup.read_archive(request.body, self.device)
        except backup.BadArchive as exc:
            log.warning("system restore refused: %s", exc)
            return text_reply(415, "Not a usable backup archive: %s\n" % exc)
        try:
            maintenance.restore(settings, backup.CONFIG)
        except OSError as exc:  # the device's fault, not the file's (checklist 8.4 #5: 500)
            log.error("system restore failed: %s", exc)
            return text_reply(500, "The device could not stage the restore\n")
        return text_reply(200, "Archive accepted: the device restarts with it now\n")


def system_resources(device):
    """Every resource GetSystemUris and StartSystemRestore hand out."""
    return [BackupResource(device), RestoreResource(device),
            Resource(device, SUPPORT_PATH,
                     lambda: load_cold("agent.services.log_ops").support_information(device)),
            Resource(device, LOG_PATHS[0][1], SYSTEM.text),
            Resource(device, LOG_PATHS[1][1], ACCESS.text)]
