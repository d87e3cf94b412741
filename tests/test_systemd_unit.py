"""The Raspberry Pi / BeagleBone service (issue 9): tools/install-service renders
tools/systemd/onvif-agent.service.in, and the result must be a unit systemd accepts, hardened,
whose command line the agent itself accepts."""

import os
import shlex
import shutil
import subprocess

import pytest

from agent.cli import parse_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = os.path.join(ROOT, "tools", "install-service")
ANALYZE = shutil.which("systemd-analyze")


def render(*args):
    return subprocess.run([INSTALL, "--print"] + list(args), check=True, capture_output=True,
                          text=True).stdout


def settings(unit):
    """Key -> list of values of the unit's assignments (comments and sections left out)."""
    found = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture
def prefix(tmp_path):
    """A fake installation prefix whose bin/onvif-agent exists (systemd-analyze checks it)."""
    (tmp_path / "bin").mkdir()
    executable = tmp_path / "bin" / "onvif-agent"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    return str(tmp_path)


def test_the_unit_runs_the_agent_with_options_it_accepts(prefix):
    unit = settings(render("--board", "pi-door", "--prefix", prefix, "--groups", "gpio dialout"))
    command = shlex.split(unit["ExecStart"][0])
    assert command[0] == prefix + "/bin/onvif-agent"
    options = parse_args(command[1:])
    # Ports 80/443 as a non-root user (the CLI's non-root defaults would be 8080/8443) and the
    # state where StateDirectory= makes it.
    assert (options["board"], options["state-dir"]) == ("pi-door", "/var/lib/onvif-agent")
    assert (options["http-port"], options["https-port"]) == (80, 443)
    assert unit["StateDirectory"] == ["onvif-agent"]
    assert unit["WorkingDirectory"] == ["/var/lib/onvif-agent"]
    assert unit["User"] == ["onvif-agent"] and unit["SupplementaryGroups"] == ["gpio dialout"]
    assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    assert unit["Restart"] == ["on-failure"]


def test_only_groups_this_machine_has_are_named(prefix):
    unit = settings(render("--board", "desktop", "--prefix", prefix))
    existing = [g for g in ("gpio", "dialout")
                if subprocess.run(["getent", "group", g], capture_output=True).returncode == 0]
    if existing:
        assert unit["SupplementaryGroups"] == [" ".join(existing)]
    else:
        assert "SupplementaryGroups" not in unit  # a missing group would stop the service


def test_a_board_file_is_named_by_its_absolute_path(prefix, tmp_path):
    board = tmp_path / "door.json"
    shutil.copy(os.path.join(ROOT, "boards", "pi-door.json"), board)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        unit = settings(render("--board", "door.json", "--prefix", prefix))
    finally:
        os.chdir(cwd)
    assert parse_args(shlex.split(unit["ExecStart"][0])[1:])["board"] == str(board)


def test_an_unknown_board_is_refused():
    result = subprocess.run([INSTALL, "--print", "--board", "no-such-board"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no board no-such-board" in result.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("board", ["pi-door", "beaglebone-black", "usbrelay-4"])
def test_systemd_verifies_the_unit_and_rates_it_hardened(board, prefix, tmp_path):
    path = tmp_path / "onvif-agent.service"
    path.write_text(render("--board", board, "--prefix", prefix, "--groups", "dialout"))
    verify = subprocess.run([ANALYZE, "verify", str(path)], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr  # unknown keys warn
    security = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", str(path)],
                              capture_output=True, text=True)
    last = security.stdout.strip().splitlines()[-1]
    assert "Overall exposure level" in last, security.stdout + security.stderr
    exposure = float(last.split(":")[1].split()[0])
    assert exposure <= 2.5, last  # "OK" in systemd's scale; a default unit rates 9.6 UNSAFE
