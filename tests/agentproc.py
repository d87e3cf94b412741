"""Start the real agent (`python -m agent`) as a subprocess on loopback, for end-to-end tests."""

import os
import pathlib
import re
import signal
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
URL = re.compile(r"device service: ((https?)://127\.0\.0\.1:(\d+)/onvif/device_service)")


class AgentProcess:
    """A running agent; `url` is its device service, `port` its HTTP port.

    HTTPS listens on a free port too: `https_url` and `https_port`, or None when it is off (the
    agent prints its https URLs before the http ones).
    """

    def __init__(self, state_dir, *args, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "--bind", "127.0.0.1", "--http-port", "0",
             "--https-port", "0", "--state-dir", str(state_dir)] + list(args),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, **(env or {})))
        self.banner = []
        self.https_url = self.https_port = None
        for line in self.proc.stdout:
            self.banner.append(line)
            match = URL.search(line)
            if match and match.group(2) == "https":
                self.https_url, self.https_port = match.group(1), int(match.group(3))
            elif match:
                self.url, self.port = match.group(1), int(match.group(3))
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
