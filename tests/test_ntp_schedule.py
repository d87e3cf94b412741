"""The NTP client's schedule on a fake clock (agent.ntp_client, portable): the poll interval, the
per-query deadline, the back-off after rounds without an answer, kiss-o'-death rests and
refusals, Manual mode, names without a resolver, and no socket left open. The real sockets are
tests/test_ntp_client.py's; here a scripted socket answers, so the same runs in MicroPython."""

import errno
import unittest

from agent import log, ntp_client
from agent.bus import EventBus
from agent.clock import LAST_SYNCHRONIZATION, DeviceClock
from agent.loop import POLLIN, Loop
from agent.ntp_client import MAX_REST_MS, POLL_MS, QUERY_TIMEOUT_MS, RETRY_MS, NtpClient
from agent.settings import Settings
from tests import ntp_packets
from tests.support import Clock, Lines
from tests.test_loop import FakePoller

HOST_MS = 1764000000000  # the host's UTC clock when the loop's clock reads 0
AHEAD_MS = 3600250
A, B = "192.0.2.1", "192.0.2.2"


class FakeUdp:
    """A connected UDP socket whose replies the test scripts."""

    def __init__(self, sockaddr):
        self.sockaddr = sockaddr
        self.sent = []
        self.inbox = []
        self.closed = False

    def send(self, data):
        self.sent.append(data)

    def recv(self, size):
        if not self.inbox:
            raise OSError(errno.EAGAIN)
        item = self.inbox.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self):
        self.closed = True


class ScheduleTest(unittest.TestCase):
    def setUp(self):
        self.lines = Lines()
        log.set_stream(self.lines)
        self.numeric = ntp_client.numeric_addresses
        # Literals without the socket module (the WebAssembly MicroPython has none).
        ntp_client.numeric_addresses = lambda host, port: [(2, (host, port))]
        self.now = Clock(0)
        self.poller = FakePoller()
        self.loop = Loop(clock=self.now, poller=self.poller)
        self.settings = Settings()
        self.settings.update(clock_mode="NTP", ntp_servers=[A, B])
        self.clock = DeviceClock(self.settings, host_clock=lambda: self.host_ms() // 1000,
                                 host_ms=self.host_ms)
        self.messages = []
        bus = EventBus(self.clock)
        bus.listen(self.messages.append)
        self.sockets = []
        self.client = NtpClient(self.loop, self.clock, self.settings, bus, udp=self.udp)

    def tearDown(self):
        self.client.close()
        ntp_client.numeric_addresses = self.numeric
        log.set_stream(None)

    def host_ms(self):
        return HOST_MS + self.now.now

    def udp(self, family, sockaddr):
        sock = FakeUdp(sockaddr)
        self.sockets.append(sock)
        return sock

    # -- helpers ---------------------------------------------------------------------------

    def asked(self):
        """The servers asked so far, in order."""
        return [sock.sockaddr[0] for sock in self.sockets]

    def deliver(self, *items):
        """The last socket receives `items` (datagrams or OSErrors) and the loop reads them."""
        sock = self.sockets[-1]
        sock.inbox.extend(items)
        self.poller.ready.append((sock, POLLIN))
        self.loop.run_once(0)

    def reply(self, offset_ms=AHEAD_MS, **fields):
        now = self.host_ms() + offset_ms
        return ntp_packets.reply(self.sockets[-1].sent[-1][40:48], now, now, **fields)

    def kiss(self, code):
        return self.reply(stratum=0, leap=3, ref_id=code.encode())

    def advance(self, ms):
        self.now.now += ms
        self.loop.run_once(0)

    def open_sockets(self):
        return [s for s in self.sockets if not s.closed]

    # -- tests -----------------------------------------------------------------------------

    def test_a_reply_sets_the_clock_then_the_next_poll_comes_poll_ms_later(self):
        self.client.start()
        self.assertEqual(self.asked(), [A])
        self.assertEqual(self.sockets[0].sockaddr, (A, 123))
        self.assertEqual(self.sockets[0].sent[0][0], 0x23)
        self.deliver(self.reply())
        self.assertEqual(self.clock.ms(), self.host_ms() + AHEAD_MS)
        self.assertEqual([m.topic for m in self.messages], [LAST_SYNCHRONIZATION])
        self.assertEqual((self.open_sockets(), self.poller.registered), ([], {}))
        self.advance(POLL_MS - 1)
        self.assertEqual(self.asked(), [A])
        self.advance(1)
        self.assertEqual(self.asked(), [A, A])

    def test_deadline_then_the_next_server(self):
        self.client.start()
        self.advance(QUERY_TIMEOUT_MS - 1)
        self.assertEqual(self.asked(), [A])
        self.advance(1)
        self.assertEqual(self.asked(), [A, B])
        self.assertTrue(self.sockets[0].closed)
        self.assertEqual(list(self.poller.registered), [self.sockets[1]])
        self.deliver(self.reply())
        self.assertEqual(self.client.synchronized, 1)

    def test_a_late_reply_of_a_timed_out_query_is_not_read(self):
        self.client.start()
        late = self.reply()
        self.advance(QUERY_TIMEOUT_MS)
        self.sockets[0].inbox.append(late)
        self.poller.ready.append((self.sockets[0], POLLIN))
        self.loop.run_once(0)
        self.assertEqual(self.client.synchronized, 0)

    def test_refused_and_invalid_replies_move_on_at_once(self):
        self.client.start()
        self.deliver(OSError(errno.ECONNREFUSED))
        self.assertEqual(self.asked(), [A, B])
        self.deliver(self.reply(leap=3))
        self.assertEqual(self.client.synchronized, 0)
        self.assertEqual(self.open_sockets(), [])

    def test_replies_not_echoing_the_cookie_are_ignored(self):
        self.client.start()
        forged = bytearray(self.reply(offset_ms=-99000))
        forged[24] ^= 0xFF
        self.deliver(bytes(forged), self.reply())
        self.assertEqual(self.asked(), [A])
        self.assertEqual(self.clock.offset_ms(), AHEAD_MS)

    def test_rounds_without_answer_back_off_up_to_the_poll_interval(self):
        self.client.start()
        starts = []
        for _ in range(8):
            self.advance(QUERY_TIMEOUT_MS)  # A times out, then B
            self.advance(QUERY_TIMEOUT_MS)
            asked = len(self.asked())
            waited = 0
            while len(self.asked()) == asked:
                self.advance(1000)
                waited += 1000
            starts.append(waited)
        expected = [min(POLL_MS, RETRY_MS << i) for i in range(8)]
        self.assertEqual(starts, expected)
        self.assertEqual(len([line for line in self.lines.lines
                              if "no server answered" in line]), 1, "one warning")

    def test_a_success_resets_the_back_off(self):
        self.client.start()
        self.advance(QUERY_TIMEOUT_MS)
        self.advance(QUERY_TIMEOUT_MS)
        self.advance(RETRY_MS)
        self.deliver(self.reply())
        self.advance(POLL_MS)
        self.advance(QUERY_TIMEOUT_MS)
        self.advance(QUERY_TIMEOUT_MS)
        asked = len(self.asked())
        self.advance(RETRY_MS)
        self.assertEqual(len(self.asked()), asked + 1)

    def dropped_for_good(self, code):
        self.client.start()
        self.deliver(self.kiss(code))
        self.deliver(self.reply())
        for _ in range(3):
            self.client.sync_now()
            self.deliver(self.reply())
        self.assertEqual(self.asked(), [A, B, B, B, B])
        self.assertTrue(self.lines.has("kiss-o'-death " + code))

    def test_deny_drops_the_server_for_good(self):
        self.dropped_for_good("DENY")

    def test_rstr_drops_the_server_for_good(self):
        self.dropped_for_good("RSTR")

    def rests_after_a_rate_kiss(self, rest):
        """A RATE kiss now: the server is not asked for `rest` ms, then it is."""
        self.deliver(self.kiss("RATE"))
        asked = len(self.asked())
        self.advance(rest - 1)
        self.client.sync_now()
        self.assertEqual(len(self.asked()), asked, "resting")
        self.advance(1)
        self.client.sync_now()
        self.assertEqual(len(self.asked()), asked + 1)

    def test_rate_rests_the_server_longer_each_time(self):
        self.settings.update(ntp_servers=[A])
        self.client.start()
        rest = ntp_client.RATE_REST_MS
        for _ in range(8):
            self.rests_after_a_rate_kiss(rest)
            rest = min(MAX_REST_MS, rest * 2)
        self.assertEqual(rest, MAX_REST_MS)
        # A good answer ends the rests: the next kiss starts again from RATE_REST_MS.
        self.deliver(self.reply())
        self.client.sync_now()
        self.rests_after_a_rate_kiss(ntp_client.RATE_REST_MS)

    def test_unknown_kiss_codes_only_skip_this_reply(self):
        self.settings.update(ntp_servers=[A])
        self.client.start()
        self.deliver(self.kiss("INIT"))
        self.client.sync_now()
        self.assertEqual(self.asked(), [A, A])

    def test_manual_mode_asks_nothing_and_stops_the_timer(self):
        self.settings.update(clock_mode="Manual")
        self.client.start()
        self.advance(10 * POLL_MS)
        self.assertEqual(self.asked(), [])
        self.settings.update(clock_mode="NTP")
        self.client.sync_now()
        self.deliver(self.reply())
        self.settings.update(clock_mode="Manual")
        self.advance(POLL_MS)
        self.advance(10 * POLL_MS)
        self.assertEqual(self.asked(), [A], "the timer saw Manual and stopped")

    def test_manual_mode_mid_round_asks_no_further_server(self):
        self.client.start()
        self.settings.update(clock_mode="Manual")
        self.advance(QUERY_TIMEOUT_MS)
        self.advance(10 * POLL_MS)
        self.assertEqual(self.asked(), [A])

    def test_a_reply_arriving_in_manual_mode_is_not_used(self):
        self.client.start()
        self.settings.update(clock_mode="Manual")
        self.deliver(self.reply())
        self.assertEqual((self.client.synchronized, self.clock.offset_ms()), (0, 0))

    def test_names_without_a_resolver_are_skipped_with_one_line(self):
        self.settings.update(ntp_servers=["ntp.example", A])
        for _ in range(3):
            self.client.sync_now()
        self.assertEqual(self.asked(), [A, A, A])
        self.assertEqual(len([line for line in self.lines.lines
                              if "ntp.example skipped" in line]), 1)

    def test_names_through_a_resolver_answering_later(self):
        pending = []
        self.client.resolve = lambda host, port, done: pending.append((host, port, done))
        self.settings.update(ntp_servers=["ntp.example:1123", A])
        self.client.start()
        self.assertEqual((self.asked(), pending[0][:2]), ([], ("ntp.example", 1123)))
        pending[0][2]([(2, ("198.51.100.5", 1123))], None)
        self.assertEqual(self.asked(), ["198.51.100.5"])
        self.deliver(self.reply())
        self.assertEqual(self.client.synchronized, 1)

    def test_a_resolver_too_slow_or_failing_moves_on(self):
        pending = []
        self.client.resolve = lambda host, port, done: pending.append(done)
        self.settings.update(ntp_servers=["slow.example", "fails.example", A])
        self.client.start()
        self.advance(QUERY_TIMEOUT_MS)
        pending[0]([(2, ("198.51.100.5", 123))], None)  # too late: ignored
        self.assertEqual(self.asked(), [])
        pending[1]([], OSError("no such name"))
        self.assertEqual(self.asked(), [A])

    def test_unusable_server_strings_are_passed_over(self):
        self.settings.update(ntp_servers=["host:99999", A])
        self.client.start()
        self.assertEqual(self.asked(), [A])

    def test_dhcp_servers_when_asked(self):
        self.client.dhcp_servers = lambda: ["198.51.100.7", A]
        self.assertEqual(self.client.servers(), [A, B])
        self.settings.update(ntp_from_dhcp=True)
        self.assertEqual(self.client.servers(), [A, B, "198.51.100.7"])

    def test_close_leaves_nothing_behind(self):
        self.client.start()
        self.client.close()
        self.assertEqual((self.open_sockets(), self.poller.registered), ([], {}))
        self.advance(10 * POLL_MS)
        self.assertEqual(self.asked(), [A])


if __name__ == "__main__":
    unittest.main()
