"""The NTP client on the real loop against fake NTP servers on loopback UDP (agent.ntp_client):
the device clock follows the server, time-outs and refusals move on to the next server, replies
that do not echo our cookie are ignored, kiss-o'-death codes are honoured, names resolve off the
loop, and nothing is asked in Manual mode."""

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
from tests.support import Lines

AHEAD_MS = 3600250  # +1 h 0.25 s


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(ntp_client, "QUERY_TIMEOUT_MS", 300)
    lines = Lines()
    log.set_stream(lines)
    log.set_level("debug")
    yield lines
    log.set_stream(None)
    log.set_level("info")


class Rig:
    def __init__(self, state, servers, resolve=False, mode="NTP"):
        self.loop = Loop()
        self.loop.enable_wakeup()
        self.settings = Settings(str(state))
        self.settings.update(clock_mode=mode, ntp_servers=servers)
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


def test_device_clock_follows_the_server(rig, tmp_path):
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


def test_next_poll_is_scheduled(rig, monkeypatch):
    monkeypatch.setattr(ntp_client, "POLL_MS", 200)
    with FakeNtpServer(AHEAD_MS) as server:
        r = rig([server.address])
        r.client.start()
        assert r.synced(3)
        assert server.requests == 3


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


def test_invalid_reply_moves_on(rig):
    with FakeNtpServer() as unsynced, FakeNtpServer(AHEAD_MS) as good:
        unsynced.answer = lambda request: unsynced.on_time(request, leap=3, stratum=16)
        r = rig([unsynced.address, good.address])
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50


@pytest.mark.parametrize("code", ["RATE", "DENY", "RSTR"])
def test_kiss_o_death(rig, code, fast):
    with FakeNtpServer() as kisser, FakeNtpServer(AHEAD_MS) as good:
        kisser.answer = lambda request: kisser.on_time(request, stratum=0, leap=3,
                                                       ref_id=code.encode())
        r = rig([kisser.address, good.address])
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50
        r.client.sync_now()
        assert r.synced(2)
        assert (kisser.requests, good.requests) == (1, 2), "the kisser is not asked again"
        assert fast.has("kiss-o'-death " + code)


def test_rate_rest_ends(rig, monkeypatch):
    monkeypatch.setattr(ntp_client, "RATE_REST_MS", 200)
    with FakeNtpServer() as kisser:
        kisser.answer = lambda request: kisser.on_time(request, stratum=0, ref_id=b"RATE")
        r = rig([kisser.address])
        r.client.start()
        assert r.run(lambda: kisser.requests == 1)
        r.loop.run_once(50)
        r.client.sync_now()
        r.loop.run_once(50)
        assert kisser.requests == 1, "resting"
        time.sleep(0.25)
        r.client.sync_now()
        assert r.run(lambda: kisser.requests == 2)


def test_rounds_without_answer_are_retried_with_back_off(rig, monkeypatch, fast):
    monkeypatch.setattr(ntp_client, "RETRY_MS", 100)
    r = rig([closed_port()])
    r.client.start()
    assert r.run(lambda: r.client._failures >= 3, 2.0)
    assert r.client.synchronized == 0
    assert sum("no server answered" in line for line in fast.lines) == 1, "one warning"
    assert r.messages == []


def test_manual_mode_asks_nothing_and_stops(rig, monkeypatch):
    monkeypatch.setattr(ntp_client, "POLL_MS", 100)
    with FakeNtpServer(AHEAD_MS) as server:
        r = rig([server.address], mode="Manual")
        r.client.start()
        r.run(lambda: False, 0.3)
        assert server.requests == 0
        r.settings.update(clock_mode="NTP")
        r.client.sync_now()
        assert r.synced()
        r.settings.update(clock_mode="Manual")  # as SetSystemDateAndTime does, then sync_now
        r.client.sync_now()
        asked = server.requests
        r.run(lambda: False, 0.4)
        assert server.requests == asked


def test_switch_to_manual_during_a_query_keeps_the_device_time(rig):
    def late(request):
        time.sleep(0.15)
        return server.on_time(request)
    with FakeNtpServer(AHEAD_MS, answer=late) as server:
        r = rig([server.address])
        r.client.start()
        r.settings.update(clock_mode="Manual")  # SetSystemDateAndTime without sync_now yet
        r.run(lambda: False, 0.5)
        assert server.requests == 1
        assert r.client.synchronized == 0
        assert abs(r.skew_ms()) <= 50


def test_host_names_resolve_in_a_thread(rig):
    with FakeNtpServer(AHEAD_MS) as server:
        port = server.address.rsplit(":", 1)[1]
        r = rig(["localhost:" + port], resolve=True)
        r.client.start()
        assert r.synced()
        assert abs(r.skew_ms() - AHEAD_MS) <= 50


def test_without_a_resolver_names_are_skipped_with_one_line(rig, fast):
    with FakeNtpServer(AHEAD_MS) as server:
        r = rig(["ntp.invalid", server.address])
        r.client.start()
        assert r.synced()
        r.client.sync_now()
        assert r.synced(2)
        assert sum("ntp.invalid skipped" in line for line in fast.lines) == 1


def test_unresolvable_and_slow_names_move_on(rig):
    """A resolver failing, and one never answering (the deadline covers resolution); both
    fakes, so no test ever sends a DNS query."""
    asked = []

    def resolve(host, port, done):
        asked.append(host)
        if host == "fails.invalid":
            r.loop.call_later(0, lambda: done([], OSError("no such name")))
    with FakeNtpServer(AHEAD_MS) as server:
        r = rig(["fails.invalid", "hangs.invalid", server.address])
        r.client.resolve = resolve
        r.client.start()
        assert r.synced()
        assert asked == ["fails.invalid", "hangs.invalid"]


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_literal(rig):
    with FakeNtpServer(AHEAD_MS, host="::1") as server:
        assert server.address.startswith("[::1]:")
        r = rig([server.address])
        r.client.start()
        assert r.synced()


def test_servers_from_dhcp_when_asked(tmp_path):
    settings = Settings(str(tmp_path))
    settings.update(ntp_servers=["192.0.2.1"])
    client = NtpClient(Loop(), DeviceClock(settings), settings, None,
                       dhcp_servers=lambda: ["198.51.100.7", "192.0.2.1"])
    assert client.servers() == ["192.0.2.1"]
    settings.update(ntp_from_dhcp=True)
    assert client.servers() == ["192.0.2.1", "198.51.100.7"]
