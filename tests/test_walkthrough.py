"""The README's desktop walkthrough, as a user runs it: the agent on the desktop board,
tools/watch-events (Home Assistant's client library and parsers) watching it, a simulated input
toggled with `onvif-agent sim input`, and the change arriving as Home Assistant would show it."""

import select
import subprocess
import sys
import time

from tests.agentproc import ROOT, AgentProcess
from tests.test_deviceio_e2e import sim
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD


def read_until(proc, wanted, seconds=20):
    """The watcher's lines up to the first containing `wanted` (fails after `seconds`)."""
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if wanted in line:
                return lines
    raise AssertionError("no %r in %s; stderr: %s" % (wanted, lines, proc.stderr.read()
                                                      if proc.poll() is not None else ""))


def test_an_input_toggled_in_the_simulator_reaches_the_client(tmp_path):
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(tmp_path / "state", env=env) as agent:
        watcher = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "watch-events"), "127.0.0.1", str(agent.port),
             ADMIN, ADMIN_PASSWORD], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            # The current states first (Initialized), as Home Assistant creates its entities.
            before = read_until(watcher, 'IN1 "Digital Input" = False')
            sim(agent, "input", "IN1", "closed")
            after = read_until(watcher, 'IN1 "Digital Input" = True')
        finally:
            watcher.kill()
            watcher.wait()
    assert 'Device/Trigger/DigitalInput IN1 "Digital Input" = False' in before
    assert after[-1] == 'Device/Trigger/DigitalInput IN1 "Digital Input" = True'
