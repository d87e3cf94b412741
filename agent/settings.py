"""Persistent settings: one JSON file in the state directory, replaced atomically on change."""

import json
import os

from . import log
from .compat import write_atomic
from .errors import ConfigError
from .ids import uuid4

FILENAME = "settings.json"


def read_json_file(path, what):
    """The JSON value in the file at `path` (`what`: "board file", "settings file"); a missing,
    unreadable or malformed file is one ConfigError naming it."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except OSError as exc:
        raise ConfigError("cannot read %s %s: %s" % (what, path, exc))
    except ValueError as exc:
        raise ConfigError("%s %s is not valid JSON: %s" % (what, path, exc))


def read_state(path, what, parse):
    """`parse(bytes)` of the state file at `path`; None on first start, or when the file is
    unreadable: then it is moved aside to PATH.corrupt and logged, since a device never refuses
    to start over its own state file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return parse(data)
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:
        log.error("%s %s is unreadable (%s): moved aside to %s.corrupt, starting fresh",
                  what, path, exc, path)
        os.rename(path, path + ".corrupt")
        return None


def _parse_object(data):
    values = json.loads(data)
    if not isinstance(values, dict):
        raise ValueError("not an object")
    return values


class StateFile:
    """A JSON object kept in one file that survives restarts and power loss: replaced whole and
    atomically (tmp + rename) on every change. `path` None keeps it in memory only; `what`
    names it in the log line of an unreadable file (read_state)."""

    def __init__(self, path, what):
        self.path = path
        self.values = (read_state(path, what, _parse_object) if path else None) or {}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def update(self, **changes):
        """Persist the changes atomically, then apply them: a failed write changes nothing."""
        values = dict(self.values)
        values.update(changes)
        self.replace(values)

    def replace(self, values):
        """Persist `values` as the whole object, then keep them."""
        if self.path:
            write_atomic(self.path, json.dumps(values).encode())
        self.values = values


class Settings(StateFile):
    """The agent's key/value settings, STATE/settings.json."""

    def __init__(self, state_dir=None):
        self.state_dir = state_dir  # None: in memory only
        super().__init__(state_dir and state_dir + "/" + FILENAME, "settings file")
        # The discovery endpoint reference must stay the same across restarts (checklist 7,
        # 8.5 GetEndpointReference): made once, on first start.
        if "endpoint_uuid" not in self.values:
            self.update(endpoint_uuid=uuid4())
