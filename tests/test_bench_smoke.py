"""The benchmarks still run and print every figure the README's table carries.

Only that they work is checked here: figures are read by people, never asserted (the machines
are shared and noisy).
"""

import subprocess
import sys

from tests.agentproc import ROOT
from tests.mpy import require_micropython


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "bench" / script)] + list(args),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_server_benchmark_prints_its_figures():
    require_micropython()
    out = run("bench_server.py", "--requests", "50")
    for figure in ("keep-alive        ratio agent/ceiling", "fresh connection  ratio agent/ceiling",
                   "idle RSS of the agent", "MicroPython heap, .py sources: core imported",
                   "MicroPython heap, .mpy (mpy-cross 1.22): core imported",
                   "status page: GET / ("):
        assert figure in out, out
    assert "not measured" not in out, out


def test_xml_parser_benchmark_prints_its_figures():
    assert "ratio ours/expat" in run("bench_xmlparse.py")


def test_discovery_benchmark_prints_its_figures():
    out = run("bench_discovery.py", "--seconds", "0.5")
    assert "directed Probe -> ProbeMatches on loopback" in out, out
    assert "garbage absorbed with the SOAP client's latency normal" in out, out


def test_ntp_benchmark_prints_its_figures():
    out = run("bench_ntp.py", "--syncs", "20")
    for figure in ("NTP sync accuracy on loopback", "NTP sync_now -> device clock set"):
        assert figure in out, out


def test_deviceio_benchmark_prints_its_figures():
    out = run("bench_deviceio.py", "--requests", "20")
    assert "SetRelayOutputState request -> HAL call" in out, out
    for baud in ("9600", "115200"):
        assert "SendReceiveSerialCommand at %s baud: line time" % baud in out, out


def test_events_benchmark_prints_its_figures():
    out = run("bench_events.py", "--rounds", "10")
    for figure in ("input edge -> PullMessages response", "input edge -> Notify received",
                   "memory per pull point", "concurrent long-polls with GetSystemDateAndTime"):
        assert figure in out, out


def test_ringstore_benchmark_prints_its_figures():
    out = run("bench_ringstore.py", "--appends", "200")
    assert "appends/s of 256-byte payloads" in out, out


def test_bundle_benchmark_prints_its_figures():
    require_micropython()
    out = run("bench_bundle.py")
    for board in ("esp32", "pico2-w"):
        for figure in ("MicroPython bundle, board %s: flash" % board,
                       "MicroPython bundle, board %s: RAM held after boot" % board):
            assert figure in out, out
