"""Persistent settings: one JSON file in the state directory, replaced atomically on change."""

import json
import os

from . import log
from .compat import write_atomic
from .ids import uuid4

FILENAME = "settings.json"


class Settings:
    """Key/value settings that survive restarts and power loss (tmp + rename on every change)."""

    def __init__(self, state_dir=None):
        self.path = state_dir and state_dir + "/" + FILENAME
        self.values = {}
        if self.path:
            self._load()
        # The discovery endpoint reference must stay the same across restarts (checklist 7,
        # 8.5 GetEndpointReference): made once, on first start.
        if "endpoint_uuid" not in self.values:
            self.update(endpoint_uuid=uuid4())

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return  # first start
        try:
            values = json.loads(data)
            if not isinstance(values, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeError) as exc:
            # Never refuse to start a device over its own state file: keep the bad copy aside.
            log.error("settings file %s is unreadable (%s); moved aside, starting fresh",
                      self.path, exc)
            os.rename(self.path, self.path + ".corrupt")
            return
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)

    def update(self, **changes):
        """Apply changes and persist them atomically."""
        self.values.update(changes)
        if self.path:
            write_atomic(self.path, json.dumps(self.values).encode())
