"""The command-line contract (issue 3): options, clean stop, and one-line errors with exit 2."""

import json
import signal
import socket
import subprocess
import sys

import pytest

from tests.agentproc import ROOT, AgentProcess


def run(*args, timeout=20):
    return subprocess.run([sys.executable, "-m", "agent"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *words):
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("onvif-agent: error: ")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("args,word", [
    (["--frobnicate"], "--frobnicate"),
    (["--http-port", "eighty"], "--http-port"),
    (["--http-port", "70000"], "--http-port"),
    (["--log-level", "loud"], "--log-level"),
    (["--board"], "--board"),
    (["--board", "no-such-board"], "no-such-board"),
])
def test_bad_options(args, word, tmp_path):
    assert_one_line_error(run("--state-dir", str(tmp_path), *args), word)


def test_unreadable_and_invalid_board_files(tmp_path):
    assert_one_line_error(run("--state-dir", str(tmp_path), "--board", str(tmp_path / "x.json")),
                          "cannot read")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_one_line_error(run("--state-dir", str(tmp_path), "--board", str(bad)), "JSON")
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"name": "x"}))
    assert_one_line_error(run("--state-dir", str(tmp_path), "--board", str(incomplete)), "hal")


def test_busy_port(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        port = holder.getsockname()[1]
        assert_one_line_error(run("--state-dir", str(tmp_path), "--bind", "127.0.0.1",
                                  "--http-port", str(port)), str(port))
    finally:
        holder.close()


def test_help_and_version():
    assert run("--help").stdout.startswith("usage: onvif-agent")
    assert run("--version").stdout.startswith("onvif-agent ")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_and_state_persists(sig, tmp_path):
    proc = AgentProcess(tmp_path)
    assert any("board desktop" in line for line in proc.banner)
    status, stderr = proc.stop(sig)
    assert status == 0, stderr
    assert "Traceback" not in stderr
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["endpoint_uuid"]
    # the port is free again: sockets were closed
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", proc.port))


def test_board_by_path(tmp_path):
    board = tmp_path / "myboard.json"
    board.write_text(json.dumps({"name": "bench-board", "hal": "sim"}))
    proc = AgentProcess(tmp_path, "--board", str(board))
    try:
        assert any("board bench-board" in line for line in proc.banner)
    finally:
        proc.stop()


def test_bad_scopes_in_a_board_file(tmp_path):
    board = tmp_path / "scoped.json"
    board.write_text(json.dumps({"name": "x", "hal": "sim", "scopes": ["not a uri"]}))
    assert_one_line_error(run("--state-dir", str(tmp_path), "--board", str(board)))


def test_hardware_that_cannot_be_opened_is_one_line(tmp_path):
    """A USB relay board that is not plugged in: the agent says so and exits 2."""
    board = tmp_path / "relays.json"
    board.write_text(json.dumps({"name": "relays", "hal": "usbrelay",
                                 "device": str(tmp_path / "ttyUSB9"),
                                 "relays": [{"token": "R1", "channel": 1}]}))
    # (--log-level warning: the linux network backend's start-up info line is not an error)
    assert_one_line_error(run("--state-dir", str(tmp_path), "--bind", "127.0.0.1",
                              "--http-port", "0", "--https-port", "off", "--discovery-port", "off",
                              "--log-level", "warning", "--board", str(board)),
                          "board relays", "ttyUSB9")


def test_sim_command_without_a_running_agent(tmp_path):
    result = run("sim", "state", "--state-dir", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
