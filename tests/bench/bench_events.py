"""Benchmark of the event service (issue 7): prints the figures the README's table carries.

* Input edge -> PullMessages response: a long-poll waits on a pull point; the input is flipped
  (handed to the agent's loop from this thread); the time until the response has arrived
  (p50/p99).
* Input edge -> Notify received: the same for a push subscription whose consumer is an HTTP
  server in this process.
* Memory per pull point (tracemalloc, Python allocations of the agent's side, with its
  Initialized messages queued).
* Concurrent long-polls held while GetSystemDateAndTime's p50 stays within 2x its idle p50.

The agent runs in a thread of this process (tests/eventrig.py) with the simulator's input
debounce at 0, so the figures are the agent's own path. One run, same machine for all.
Run: .venv/bin/python tests/bench/bench_events.py [--rounds N]
"""

import http.server
import pathlib
import sys
import threading
import time
import tracemalloc

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.subscriptions import MAX_PULL_POINTS  # noqa: E402
from tests.eventrig import DATE, Rig, pull, subscribe  # noqa: E402


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def edge_to_pull(rig, rounds):
    client = rig.client()
    path = client.pull_point()
    latencies = []
    for _ in range(rounds):
        client.send(pull("PT60S"), path)
        time.sleep(0.002)  # let the request reach the loop and wait there
        flipped = rig.toggle_input()
        response = client.receive()
        latencies.append((time.perf_counter() - flipped) * 1000)
        assert b"DigitalInput" in response.body, response.body
    client.close()
    return latencies


class Consumer(http.server.BaseHTTPRequestHandler):
    arrivals = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.arrivals.append(time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def edge_to_notify(rig, rounds):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Consumer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = rig.client()
    address = "http://127.0.0.1:%d/notify" % server.server_address[1]
    assert client.call(subscribe(address)).status == 200
    deadline = time.monotonic() + 5
    while not Consumer.arrivals and time.monotonic() < deadline:
        time.sleep(0.01)  # the Initialized states come first
    if not Consumer.arrivals:
        raise RuntimeError("the Initialized states never reached the consumer")
    time.sleep(0.2)
    latencies = []
    for _ in range(rounds):
        before = len(Consumer.arrivals)
        flipped = rig.toggle_input()
        deadline = time.monotonic() + 5
        while len(Consumer.arrivals) == before:
            if time.monotonic() > deadline:
                raise RuntimeError("no Notify within 5 s of an input edge")
            time.sleep(0.0002)
        latencies.append((Consumer.arrivals[before] - flipped) * 1000)
    server.shutdown()
    client.close()
    return latencies


def memory_per_pull_point(rig, count=40):
    client = rig.client()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(count):
        client.call("<tev:CreatePullPointSubscription/>")
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename")
                if "/agent/" in s.traceback[0].filename)
    client.close()
    return grown / count


def date_p50(rig, client, n=200):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.call(DATE, "/onvif/device_service").status == 200
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.5)


def long_polls_within_twice_idle(rig):
    probe = rig.client()
    idle = date_p50(rig, probe)
    held, best, steps = [], 0, []
    for target in (10, 20, 30, 40, MAX_PULL_POINTS - 2):
        while len(held) < target:
            client = rig.client()
            client.send(pull("PT60S"), client.pull_point())
            held.append(client)
        p50 = date_p50(rig, probe)
        steps.append((target, p50))
        if p50 <= 2 * idle:
            best = target
    for client in held + [probe]:
        client.close()
    return idle, best, steps


def main():
    rounds = 200
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    rig = Rig()
    try:
        pull_ms = edge_to_pull(rig, rounds)
        print("input edge -> PullMessages response: p50 %.2f ms, p99 %.2f ms (%d edges)"
              % (percentile(pull_ms, 0.5), percentile(pull_ms, 0.99), rounds))
        notify_ms = edge_to_notify(rig, rounds)
        print("input edge -> Notify received: p50 %.2f ms, p99 %.2f ms (%d edges)"
              % (percentile(notify_ms, 0.5), percentile(notify_ms, 0.99), rounds))
    finally:
        rig.close()
    rig = Rig()
    try:
        print("memory per pull point: %.0f bytes (Python allocations, 4 Initialized messages "
              "queued)" % memory_per_pull_point(rig))
    finally:
        rig.close()
    rig = Rig()
    try:
        idle, best, steps = long_polls_within_twice_idle(rig)
        print("concurrent long-polls with GetSystemDateAndTime p50 within 2x idle (%.2f ms): "
              "%d of %d tried (%s)" % (idle, best, steps[-1][0], ", ".join(
                  "%d: %.2f ms" % step for step in steps)))
    finally:
        rig.close()


if __name__ == "__main__":
    main()
