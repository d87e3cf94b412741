"""Benchmark of WS-Discovery (issue 5): prints the figures the README's table carries.

* Probe-to-ProbeMatches time of a directed (unicast) Probe on loopback: unicast replies carry no
  random delay (WS-Discovery 2005/04 5.3), so this is the agent's own time plus the round trip.
* Garbage datagrams per second the loop absorbs while a SOAP client on the same agent keeps its
  normal latency: another process floods the discovery port with junk at a fixed rate while this
  one times keep-alive GetSystemDateAndTime requests, for rising rates; "normal" is a p50 within
  NORMAL of the same client's without a flood. The agent's own counters (logged when it stops)
  say how many datagrams it read and dropped in all.

Everything stays on loopback (the agent binds 127.0.0.1 and discovers there only).
Run: .venv/bin/python tests/bench/bench_discovery.py [--seconds S]
"""

import multiprocessing
import pathlib
import re
import socket
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.agentproc import AgentProcess  # noqa: E402
from tests.bench.bench_server import REQUEST, keep_alive  # noqa: E402

PROBE = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.'
         'xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/'
         'discovery"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe'
         '</a:Action><a:MessageID>urn:uuid:00000000-0000-4000-8000-%012d</a:MessageID><a:To>'
         'urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe/>'
         '</s:Body></s:Envelope>')


def probe_times(port, n):
    """Round-trip seconds of n directed Probes, each answered before the next."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    times = []
    for i in range(n):
        message_id = "%012d" % i
        t0 = time.perf_counter()
        sock.sendto((PROBE % i).encode(), ("127.0.0.1", port))
        while True:  # skip the SOAP-over-UDP repeat of the previous answer
            reply = sock.recv(65536)
            if message_id.encode() in reply:
                break
        times.append(time.perf_counter() - t0)
        time.sleep(0.06)  # stay under the reply rate limit (20/s): we measure latency, not it
    return times


NORMAL = 1.25  # a SOAP p50 at most 25 % above the quiet one counts as unaffected
RATES = (1000, 2000, 4000, 8000, 16000)  # garbage datagrams per second tried, in turn


def flood(port, rate, seconds, sent):
    """Send junk at `rate` datagrams per second for `seconds`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = [b"", b"\x00" * 512, b"<not-soap/>", b"<s:Envelope" * 100, PROBE.encode()[:300]]
    start = time.monotonic()
    count = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        if count >= elapsed * rate:
            time.sleep(0.001)
            continue
        try:
            sock.sendto(junk[count % len(junk)], ("127.0.0.1", port))
        except OSError:
            pass  # the receive buffer is full: the kernel drops, the loop reads on
        count += 1
    sent.value = count


def latency_under_flood(agent, rate, seconds):
    """(SOAP p50 seconds while junk arrives at `rate`, datagrams actually sent)."""
    sent = multiprocessing.Value("i", 0)
    flooder = multiprocessing.Process(target=flood, args=(agent.discovery_port, rate, seconds,
                                                          sent))
    flooder.start()
    time.sleep(0.2)
    loaded = []
    while flooder.is_alive():
        loaded.extend(keep_alive(agent.port, [REQUEST] * 100))
    flooder.join()
    return statistics.median(loaded), sent.value


def main():
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 5
    state = tempfile.mkdtemp(prefix="bench-discovery-")
    agent = AgentProcess(state, "--https-port", "off", "--log-level", "info")
    try:
        times = probe_times(agent.discovery_port, 50)
        print("directed Probe -> ProbeMatches on loopback: p50 %.2f ms, p99 %.2f ms (%d probes)"
              % (statistics.median(times) * 1000, sorted(times)[-1] * 1000, len(times)))
        quiet = statistics.median(keep_alive(agent.port, [REQUEST] * 1000))
        print("GetSystemDateAndTime keep-alive p50 without a flood: %.2f ms" % (quiet * 1000))
        kept = 0
        for rate in RATES:
            loaded, sent = latency_under_flood(agent, rate, seconds)
            normal = loaded <= quiet * NORMAL
            print("  junk at %5d/s (%d sent): SOAP p50 %.2f ms, %s" % (
                rate, sent, loaded * 1000, "normal" if normal else "slowed"))
            if not normal:
                break
            kept = rate
    finally:
        _, log = agent.stop()
    stats = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", log.split(
        "WS-Discovery stopped:")[-1].splitlines()[0]))
    print("garbage absorbed with the SOAP client's latency normal (p50 within %.2fx): %d "
          "datagrams/s; the agent read and dropped %d junk datagrams in all"
          % (NORMAL, kept, stats.get("received", 0) - stats.get("replied", 0)))


if __name__ == "__main__":
    main()
