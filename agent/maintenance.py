"""Factory default, system restore and reboot (checklist 8.4 #5, #8, #13): crash-consistent
state replacement through a journal, and the restart that follows.

Several files change at once (settings.json, users.json, the event ring, the network backend's
state), so a SIGKILL or power cut in the middle must not leave a mix of old and new. The
operation therefore first writes what is to be done, atomically, to STATE/maintenance.pending:
that write is the commit point. The running agent changes nothing more; it answers, announces
ShutdownInitiated and restarts, and the next start completes the journal before opening
anything (`recover`, called by the CLI). Every step is idempotent (it computes the new files
from the marker and the files it finds, never from a half-done previous run), so recovery may
itself be interrupted any number of times; the marker goes last.

Factory default keeps, in settings.json (shared contract of issue 8):
- Hard: only the identity, `endpoint_uuid` and `discovery_instance` (the WS-Discovery
  InstanceId must keep growing); the network backend goes back to its defaults.
- Soft: also every `net_*` key and the network backend's state (checklist 8.4 #8: Soft keeps
  the IP settings).
Both drop the users (the next start creates the administrator exactly like a first start:
ONVIF_AGENT_ADMIN or a random password written to STATE), the event ring and every other
setting (DeviceIO, scopes, clock, IP filter, ...), and record `last_reset` (device time).
A restore replaces the configuration keys the archive carries (agent.backup) and keeps the rest.
"""

import json
import os

from . import log
from .compat import compare_digest, monotonic_ms, urandom, write_atomic
from .settings import FILENAME as SETTINGS_FILE
from .users import FILENAME as USERS_FILE, INITIAL_PASSWORD_FILE

PENDING = "maintenance.pending"
EVENT_RING = "events.ring"
IDENTITY = ("endpoint_uuid", "discovery_instance")
NETWORK_PREFIX = "net_"
LAST_RESET = "last_reset"

# Long enough for the response to leave before the loop stops (the answer comes first,
# checklist 8.4 #13), short enough that a client's reconnect finds the new process soon.
RESTART_DELAY_MS = 500
# StartSystemRestore's UploadUri: one use, a few minutes, a handful outstanding.
UPLOAD_LIFETIME_MS = 300000
MAX_UPLOADS = 4
EXPECTED_DOWN_TIME = "PT10S"

SHUTDOWN_TOPIC = "Device/OperationMode/ShutdownInitiated"  # checklist 8.7, a plain event


def factory_action(hard, now):
    return {"kind": "factory", "hard": hard is True, LAST_RESET: int(now)}


def restore_action(settings, replaces):
    """`settings` (already validated, agent.backup) replace the keys in `replaces`."""
    return {"kind": "restore", "settings": settings, "replaces": list(replaces)}


def stage(state_dir, action):
    """The commit point: from here on the action happens, at the latest on the next start."""
    write_atomic(state_dir + "/" + PENDING, json.dumps(action).encode(), mode=0o600)


def recover(state_dir, network=None):
    """Complete a staged action, if any (the CLI calls this before reading any state file).
    `network` is the board's network backend (reset by a factory default), or None."""
    try:
        with open(state_dir + "/" + PENDING, "rb") as f:
            action = json.loads(f.read())
    except OSError:
        return None
    except ValueError:  # cannot happen with write_atomic; never block the start over it
        log.error("maintenance journal %s/%s unreadable: ignored", state_dir, PENDING)
        _remove(state_dir + "/" + PENDING)
        return None
    for step in steps(state_dir, action, network):
        step()
    log.info("maintenance completed: %s", describe(action))
    return action


def describe(action):
    if action["kind"] == "factory":
        return "factory default (%s)" % ("hard" if action["hard"] else "soft")
    return "system restore"


def steps(state_dir, action, network=None):
    """The idempotent steps of `action`, in order; the marker's removal is the last."""
    done = [lambda: _remove(state_dir + "/" + PENDING)]

    def settings():
        _write_settings(state_dir, action)
    if action["kind"] != "factory":
        return [settings] + done
    hard = action["hard"]
    found = [settings, lambda: _remove(state_dir + "/" + USERS_FILE),
             lambda: _remove(state_dir + "/" + INITIAL_PASSWORD_FILE),
             lambda: _remove(state_dir + "/" + EVENT_RING)]
    if network is not None:
        found.insert(0, lambda: network.factory_reset(hard))
    return found + done


def new_settings(old, action):
    """settings.json's content after `action`, from the content before it (or after a part of
    it: the result is the same, which makes the step idempotent)."""
    if action["kind"] == "factory":
        values = {}
        for key, value in old.items():
            if key in IDENTITY or (not action["hard"] and key.startswith(NETWORK_PREFIX)):
                values[key] = value
        values[LAST_RESET] = action[LAST_RESET]
        return values
    values = dict((k, v) for k, v in old.items() if k not in action["replaces"])
    values.update(action["settings"])
    return values


def _write_settings(state_dir, action):
    path = state_dir + "/" + SETTINGS_FILE
    try:
        with open(path, "rb") as f:
            old = json.loads(f.read())
    except (OSError, ValueError):
        old = {}
    write_atomic(path, json.dumps(new_settings(old, action)).encode())


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Maintenance:
    """The running agent's side: stage an action, then restart from a loop timer.

    `device.restart(kind)` (set by the CLI) stops the loop; the CLI then says Bye, closes
    everything and starts the agent afresh (agent.compat.restart_process). Without it (a
    device built by a test or another embedding) the restart is logged and not done.
    """

    def __init__(self, device, loop, clock=monotonic_ms):
        self.device = device
        self.loop = loop
        self.clock = clock
        self.timer = None
        self.uploads = []  # StartSystemRestore's [token, expiry (self.clock ms)], oldest first

    @property
    def state_dir(self):
        return self.device.settings.state_dir

    def factory_default(self, hard):
        self._stage(factory_action(hard, self.device.time()))
        self.restart_soon("factory")

    def restore(self, settings, replaces):
        self._stage(restore_action(settings, replaces))
        self.restart_soon("restore")

    def _stage(self, action):
        if self.state_dir is None:
            raise OSError("no state directory: nothing to replace")
        stage(self.state_dir, action)
        log.warning("%s staged; the agent restarts", describe(action))

    def restart_soon(self, kind):
        """After the response has gone (checklist 8.4 #8, #13): ShutdownInitiated, then restart."""
        if self.timer is None:
            self.timer = self.loop.call_later(RESTART_DELAY_MS, lambda: self._restart(kind))

    def _restart(self, kind):
        self.device.bus.publish(SHUTDOWN_TOPIC, [], [])
        restart = getattr(self.device, "restart", None)
        if restart is None:
            log.warning("restart (%s) requested, but this agent cannot restart itself", kind)
            return
        restart(kind)

    def open_upload(self):
        """A fresh one-time upload token for StartSystemRestore (checklist 8.4 #5)."""
        now = self.clock()
        self.uploads = [entry for entry in self.uploads if entry[1] > now]
        if len(self.uploads) >= MAX_UPLOADS:
            self.uploads.pop(0)  # the oldest makes room
        token = "".join("%02x" % b for b in urandom(16))
        self.uploads.append([token, now + UPLOAD_LIFETIME_MS])
        return token

    def take_upload(self, token):
        """True, once, for a live token."""
        for entry in self.uploads:
            if compare_digest(entry[0], token):
                self.uploads.remove(entry)
                return entry[1] > self.clock()
        return False
