"""Factory default and restore under SIGKILL (issue 8): a child stages the action and runs its
steps (agent.maintenance) and is killed after a given number of file operations; then start-up
recovery runs, and the state directory must hold exactly the old or exactly the new state,
never a mix: settings, users, event ring and network state agree.

The child reports each file operation (a temporary file written and synced, a rename, a
removal). In lockstep it waits for the parent after each report, so every boundary between
two operations is tried; free-running, the kill lands wherever the child got to after the
reported count (possibly inside the next operation).
"""

import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from agent import compat, maintenance
from agent.backup import CONFIG
from agent.settings import Settings
from agent.users import Users
from tests.agentproc import ROOT

OLD_SETTINGS = {"endpoint_uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "discovery_instance": 4,
                "scopes": ["onvif://www.onvif.org/location/lab"], "timezone": "CET-1CEST",
                "deviceio": {"relays": {"R1": {"mode": "Bistable", "delay_ms": 1000,
                                               "idle_state": "closed"}}},
                "net_protocols": {"HTTP": [8080]}, "metadata_version": 3}
OLD_USERS = {"users": [{"name": "admin", "password": "Adm1n-secret-pw", "level": "Administrator"},
                       {"name": "op", "password": "0perator-pw", "level": "Operator"}]}
OLD_NETWORK = b'[{"token": "eth0", "ipv4": {"dhcp": false}}]'
DEFAULT_NETWORK = b'[{"token": "eth0", "ipv4": {"dhcp": true}}]'
RESTORED = {"scopes": ["onvif://www.onvif.org/location/restored"], "timezone": "UTC0",
            "discovery_mode": "NonDiscoverable"}

ACTIONS = {
    "hard": maintenance.factory_action(True, 1800000000),
    "soft": maintenance.factory_action(False, 1800000000),
    "restore": maintenance.restore_action(RESTORED, CONFIG),
}


class FileNetwork:
    """A network backend whose state is one file, like the sim backend's STATE/network.json."""

    def __init__(self, state_dir):
        self.path = state_dir + "/network.json"

    def factory_reset(self, hard):
        if hard:
            compat.write_atomic(self.path, DEFAULT_NETWORK)


def prepare(state_dir):
    os.makedirs(state_dir)
    files = {"settings.json": json.dumps(OLD_SETTINGS).encode(),
             "users.json": json.dumps(OLD_USERS).encode(), "events.ring": b"\x00ring" * 100,
             "initial-admin-password": b"Adm1n-secret-pw\n", "network.json": OLD_NETWORK}
    for name, data in files.items():
        with open(os.path.join(state_dir, name), "wb") as f:
            f.write(data)


def snapshot(state_dir):
    """Every file but write_atomic's temporaries (which only the next write reuses)."""
    found = {}
    for name in sorted(os.listdir(state_dir)):
        if not name.endswith(".tmp"):
            with open(os.path.join(state_dir, name), "rb") as f:
                found[name] = f.read()
    return found


def run(state_dir, kind):
    """Stage and complete the action: what the child does when nobody kills it."""
    maintenance.stage(state_dir, ACTIONS[kind])
    for step in maintenance.steps(state_dir, ACTIONS[kind], FileNetwork(state_dir)):
        step()


def child(state_dir, kind, lockstep):
    """Run the action `kind` (or "recover": start-up recovery alone), reporting every file
    operation on stdout; in lockstep, wait for a line after each."""
    def reported(name, function):
        def operation(*args):
            function(*args)
            print(name, args[-1].rsplit("/", 1)[-1] if args and isinstance(args[-1], str)
                  else "", flush=True)
            if lockstep:
                sys.stdin.readline()
        return operation
    compat.fsync = reported("synced", compat.fsync)
    compat.replace = reported("renamed", compat.replace)
    os.remove = reported("removed", os.remove)
    print("ready", flush=True)
    if lockstep:
        sys.stdin.readline()
    if kind == "recover":
        maintenance.recover(state_dir, FileNetwork(state_dir))
    else:
        run(state_dir, kind)
    print("done", flush=True)


class Child:
    def __init__(self, state_dir, kind, lockstep):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_maintenance_powerloss", state_dir, kind] +
            ["lockstep"] * lockstep, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines = []

    def kill_after(self, count, lockstep):
        """SIGKILL once `count` file operations have been reported (or at the end)."""
        for line in self.proc.stdout:
            self.lines.append(line.split())
            if line.startswith("done") or len(self.lines) > count:
                break
            if lockstep:
                self.proc.stdin.write("\n")
                self.proc.stdin.flush()
        self.proc.kill()
        self.proc.wait()
        assert self.proc.returncode in (0, -9), self.proc.stderr.read()
        return self.lines[1:]  # the file operations, after "ready"

    def committed(self):
        return ["renamed", maintenance.PENDING] in self.lines


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """(old state, new state) of each action, from uninterrupted runs."""
    states = {}
    for kind in ACTIONS:
        state_dir = str(tmp_path_factory.mktemp(kind) / "state")
        prepare(state_dir)
        old = snapshot(state_dir)
        run(state_dir, kind)
        states[kind] = old, snapshot(state_dir)
    return states


def recover_and_check(state_dir, kind, expected, committed):
    old, new = expected[kind]
    maintenance.recover(state_dir, FileNetwork(state_dir))
    state = snapshot(state_dir)
    assert state == new if committed else state in (old, new)
    # Both files read back as they are (nothing moved aside as corrupt), and they agree: a
    # factory default leaves no users for the first-start administrator to replace.
    settings, users = Settings(state_dir).values, Users(state_dir).list()
    assert not [name for name in os.listdir(state_dir) if name.endswith(".corrupt")]
    if state == new and kind != "restore":
        assert users == [] and "last_reset" in settings
    else:
        assert users == [("admin", "Administrator"), ("op", "Operator")]
    return state == new


def test_the_uninterrupted_runs_do_what_they_should(expected):
    old, new = expected["hard"]
    assert json.loads(new["settings.json"]) == {
        "endpoint_uuid": OLD_SETTINGS["endpoint_uuid"], "discovery_instance": 4,
        "last_reset": 1800000000}
    assert sorted(new) == ["network.json", "settings.json"]
    assert new["network.json"] == DEFAULT_NETWORK
    old, new = expected["soft"]
    assert sorted(json.loads(new["settings.json"])) == [
        "discovery_instance", "endpoint_uuid", "last_reset", "net_protocols"]
    assert new["network.json"] == OLD_NETWORK
    old, new = expected["restore"]
    restored = json.loads(new["settings.json"])
    assert restored["scopes"] == RESTORED["scopes"] and "deviceio" not in restored
    assert restored["net_protocols"] == {"HTTP": [8080]}
    assert [name for name in old if old[name] != new.get(name)] == ["settings.json"]


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_killed_between_any_two_file_operations(tmp_path, kind, expected):
    outcomes = set()
    count = 0
    while True:
        state_dir = str(tmp_path / ("%s-%d" % (kind, count)))
        prepare(state_dir)
        child = Child(state_dir, kind, lockstep=True)
        operations = child.kill_after(count, lockstep=True)
        outcomes.add(recover_and_check(state_dir, kind, expected, child.committed()))
        shutil.rmtree(state_dir)
        if ["done"] in operations:
            break
        count += 1
    assert count >= 4 and outcomes == {False, True}, (count, outcomes)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
def test_killed_free_running_and_recovery_killed_too(tmp_path, kind, expected):
    """The kill lands wherever the child got to; sometimes recovery itself is then killed
    (a second child, started on the half-done directory) before the final recovery."""
    rng = random.Random(kind)
    for trial in range(8):
        state_dir = str(tmp_path / ("%s-%d" % (kind, trial)))
        prepare(state_dir)
        child = Child(state_dir, kind, lockstep=False)
        child.kill_after(rng.randint(0, 10), lockstep=False)
        if child.committed() and rng.random() < 0.5:
            Child(state_dir, "recover", lockstep=False).kill_after(rng.randint(0, 6), False)
        recover_and_check(state_dir, kind, expected, child.committed())
        shutil.rmtree(state_dir)


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], lockstep=sys.argv[3:] == ["lockstep"])
