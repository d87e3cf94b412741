"""Start the real agent (`python -m agent`) as a subprocess on loopback, for end-to-end tests."""

import os
import pathlib
import re
import signal
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
URL = re.compile(r"device service: ((https?)://([0-9.]+):(\d+)/onvif/device_service)")
DISCOVERY = re.compile(r"ws-discovery: udp port (\d+)")


class AgentProcess:
    """A running agent; `url` is its device service, `port` its HTTP port.

    HTTPS listens on a free port too: `https_url` and `https_port`, or None when it is off (the
    agent prints its https URLs before the http ones). WS-Discovery runs on a free UDP port,
    `discovery_port`, and on loopback only, so no test ever multicasts beyond this machine; a
    test gives other options (and `prefix`, e.g. `ip netns exec NS`) where it needs otherwise;
    `bind=None` leaves the agent on its default addresses (every interface, both IP versions).
    """

    def __init__(self, state_dir, *args, env=None, bind="127.0.0.1", prefix=()):
        self.state_dir = state_dir
        self.proc = subprocess.Popen(
            list(prefix) + [sys.executable, "-m", "agent"] + (["--bind", bind] if bind else []) +
            ["--http-port", "0", "--https-port", "0", "--discovery-port", "0",
             "--state-dir", str(state_dir)] + list(args),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **(env or {})))
        self.banner = []
        self.https_url = self.https_port = self.discovery_port = None
        for line in self.proc.stdout:
            self.banner.append(line)
            match = URL.search(line)
            found = DISCOVERY.search(line)
            if found:
                self.discovery_port = int(found.group(1))
            elif match and match.group(2) == "https":
                self.https_url, self.https_port = match.group(1), int(match.group(4))
            elif match:
                self.url, self.port = match.group(1), int(match.group(4))
                return
        self.proc.wait(10)
        raise RuntimeError("agent did not start: %s" % self.proc.stderr.read())

    def stop(self, sig=signal.SIGTERM):
        """Stop it with `sig`; returns (exit status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return self.proc.returncode, self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
