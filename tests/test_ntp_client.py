"""The NTP client on the real loop and real sockets against fake NTP servers on loopback UDP
(agent.ntp_client): the device clock follows the server, a silent server's deadline and a
refused port move on to the next one, replies that do not echo our cookie are ignored, names
resolve in a thread, IPv6 literals work. The schedule itself (poll, back-off, kiss codes,
Manual mode) is tests/test_ntp_schedule.py's, on a fake clock."""

import socket
import time

import pytest

from agent import log, ntp_client
from agent.bus import EventBus
from agent.clock import LAST_SYNCHRONIZATION, DeviceClock
from agent.compat import utc_ms
from agent.loop import Loop
from agent.ntp_client import NtpClient, threaded_resolver
from agent.settings import Settings
from tests.ntp_server import FakeNtpServer, closed_port
from tests.support import Quiet

AHEAD_MS = 3600250  # +1 h 0.25 s


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(ntp_client, "QUERY_TIMEOUT_MS", 300)
    log.set_stream(Quiet())
    yield
    log.set_stream(None)


class Rig:
    def __init__(self, state, servers, resolve=False):
        self.loop = Loop()
        self.loop.enable_wakeup()
        self.settings = Settings(str(state))
        self.settings.update(clock_mode="NTP", ntp_servers=servers)
        self.clock = DeviceClock(self.settings)
        self.bus = EventBus(self.clock)
        self.messages = []
        self.bus.listen(self.messages.append)
        self.client = NtpClient(self.loop, self.clock, self.settings, self.bus,
                                resolve=threaded_resolver(self.loop) if resolve else None)

    def run(self, until, seconds=3.0):
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            self.loop.run_once(20)
        return until()

    def synced(self, count=1, seconds=3.0):
        return self.run(lambda: self.client.synchronized >= count, seconds)

    def skew_ms(self):
        """Device clock minus host clock, read now."""
        return self.clock.ms() - utc_ms()

    def close(self):
        self.client.close()
        self.loop.close()


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(servers, **kw):
        state = tmp_path / ("state%d" % len(made))
        state.mkdir()
        made.append(Rig(state, servers, **kw))
        return made[-1]
    yield make
    for r in made:
        r.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_device_clock_follows_the_server(rig):
    with FakeNtpServer(AHEAD_MS) as server:
        r = rig([server.address])
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50, r.skew_ms()
        assert r.settings.get("clock_offset") == 3600
        assert abs(r.clock() - (time.time() + AHEAD_MS / 1000)) < 1.1
        assert [m.topic for m in r.messages] == [LAST_SYNCHRONIZATION]
        assert server.requests == 1
        # Re-synchronised on the timer: the server moved 2 s further.
        server.offset_ms = AHEAD_MS + 2000
        r.client.sync_now()
        assert r.synced(2)
        assert abs(r.skew_ms() - AHEAD_MS - 2000) <= 50
        assert [m.operation for m in r.messages] == ["Initialized", "Changed"]


def test_silent_server_then_the_next(rig):
    silent = FakeNtpServer(answer=lambda request: [])
    with silent, FakeNtpServer(AHEAD_MS) as good:
        r = rig([silent.address, good.address])
        started = time.monotonic()
        r.client.start()
        assert r.synced()
        assert 0.25 < time.monotonic() - started < 2.5, "waited for the deadline"
        assert (silent.requests, good.requests) == (1, 1)
        assert abs(r.skew_ms() - AHEAD_MS) <= 50


def test_refused_port_moves_on_at_once(rig, monkeypatch):
    monkeypatch.setattr(ntp_client, "QUERY_TIMEOUT_MS", 5000)
    with FakeNtpServer(AHEAD_MS) as good:
        r = rig([closed_port(), good.address])
        started = time.monotonic()
        r.client.start()
        assert r.synced()
        assert time.monotonic() - started < 2, "no deadline waited: ECONNREFUSED"


def test_reply_with_a_wrong_originate_is_ignored(rig):
    def forged_then_real(request):
        forged = bytearray(request)
        forged[47] ^= 1
        real = server.on_time(request)
        return server.on_time(bytes(forged)) + real

    def forged_only(request):
        return server.on_time(request[:40] + bytes(8))

    with FakeNtpServer(AHEAD_MS) as server:
        server.answer = forged_then_real
        r = rig([server.address])
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50
    with FakeNtpServer(-7000) as server, FakeNtpServer(AHEAD_MS) as good:
        server.answer = forged_only
        r = rig([server.address, good.address])
        r.client.start()
        assert r.synced()
        assert good.requests == 1, "the forged reply was ignored until the deadline"
        assert abs(r.skew_ms() - AHEAD_MS) <= 50


def test_host_names_resolve_in_a_thread(rig):
    with FakeNtpServer(AHEAD_MS) as server:
        port = server.address.rsplit(":", 1)[1]
        r = rig(["localhost:" + port], resolve=True)
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_literal(rig):
    with FakeNtpServer(AHEAD_MS, host="::1") as server:
        assert server.address.startswith("[::1]:")
        r = rig([server.address])
        r.client.start()
        assert r.synced()
