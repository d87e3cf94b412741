"""Benchmark of the NTP client (issue 8): prints the figures the README's table carries.

* sync accuracy on loopback: the fake NTP server (tests/ntp_server.py) answers at host time plus a
  known offset; after each synchronisation the device clock's offset is compared with it. On
  loopback the path is symmetric, so what remains is the client's own error: the millisecond
  rounding of agent.ntp and the time the reply waits for the loop;
* sync_now() to device clock set: one round trip plus the loop's dispatch.

Everything stays on 127.0.0.1. Run: .venv/bin/python tests/bench/bench_ntp.py [--syncs N]
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from agent import log  # noqa: E402
from agent.bus import EventBus  # noqa: E402
from agent.clock import DeviceClock  # noqa: E402
from agent.loop import Loop  # noqa: E402
from agent.ntp_client import NtpClient  # noqa: E402
from agent.settings import Settings  # noqa: E402
from tests.ntp_server import FakeNtpServer  # noqa: E402
from tests.support import Quiet  # noqa: E402

OFFSET_MS = 3600250


def measure(syncs):
    """(errors in ms, sync_now-to-set times in ms) of `syncs` synchronisations."""
    log.set_stream(Quiet())
    loop = Loop()
    with tempfile.TemporaryDirectory() as state, FakeNtpServer(OFFSET_MS) as server:
        settings = Settings(state)
        settings.update(clock_mode="NTP", ntp_servers=[server.address])
        clock = DeviceClock(settings)
        client = NtpClient(loop, clock, settings, EventBus(clock))
        errors, times = [], []
        for i in range(syncs):
            start = time.perf_counter()
            client.sync_now()
            while client.synchronized <= i:
                loop.run_once(100)
            times.append((time.perf_counter() - start) * 1000)
            errors.append(clock.offset_ms() - OFFSET_MS)
        client.close()
    loop.close()
    return errors, times


def main():
    syncs = int(sys.argv[sys.argv.index("--syncs") + 1]) if "--syncs" in sys.argv else 200
    errors, times = measure(syncs)
    worst = max(abs(e) for e in errors)
    print("NTP sync accuracy on loopback: median error %+d ms, worst %d ms (%d syncs, "
          "server %+.3f s)" % (statistics.median(errors), worst, syncs, OFFSET_MS / 1000))
    print("NTP sync_now -> device clock set: p50 %.2f ms, p95 %.2f ms"
          % (statistics.median(times), statistics.quantiles(times, n=20)[-1]))


if __name__ == "__main__":
    main()
