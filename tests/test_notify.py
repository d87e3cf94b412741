"""The Notify sender over real loopback sockets (checklist 10.3): delivery, keep-alive, retries,
deadlines, and a dead or slow consumer never delaying another one or the agent's HTTP server.

Consumers are small threaded servers on 127.0.0.1 (or ::1); the sender's loop runs in the test's
thread, spun until a condition holds or a bound passes (a failed bound is the hang detector).
The sans-IO rules (addresses, answers, queue, retry timing) are tests/test_notify_policy.py.
"""

import socket
import threading
import time

import pytest

from agent import compat, log
from agent.app import build_app
from agent.device import Device
from agent.loop import Loop
from agent.notify import ConsumerRefused, NotifySender, parse_consumer
from agent.server import HttpServer
from agent.settings import Settings
from tests.soapclient import envelope, http_request
from tests.support import Lines

BOUND = 5.0  # seconds any one expected outcome may take before the test counts as hung
LIFETIME = 3 * BOUND  # a consumer's connections end by themselves then: a blocked sender fails
BODY = b"<env:Envelope>notify</env:Envelope>"
OK_KEEP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
OK_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
ERROR_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
SILENT = None  # read the request, never answer
HANG_UP = b""  # read the request, close without an answer


class FakeConsumer:
    """A notification consumer on loopback. `answers` is a list used in turn, one entry per
    request (the last repeats): response bytes, SILENT, HANG_UP, or a callable(conn)."""

    def __init__(self, answers, host="127.0.0.1"):
        self.answers = list(answers)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = "http://%s:%d/notify?id=7" % ("[%s]" % host if ":" in host else host, self.port)
        self.requests = []  # (connection number, head, body)
        self.connections = 0
        self.eofs = 0  # connections the sender closed
        self.lock = threading.Lock()
        self.running = True
        self.ends = time.monotonic() + LIFETIME
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def close(self):
        self.running = False
        for thread in self.threads:
            thread.join(BOUND)
        self.listener.close()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.connections += 1
                number = self.connections
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn, number):
        conn.settimeout(0.1)
        data = b""
        try:
            while self.running and time.monotonic() < self.ends:
                head, sep, rest = data.partition(b"\r\n\r\n")
                length = _content_length(head) if sep else None
                if length is None or len(rest) < length:
                    chunk = _recv(conn)
                    if chunk == b"":
                        with self.lock:
                            self.eofs += 1
                        return
                    data += chunk or b""
                    continue
                data = rest[length:]
                with self.lock:
                    self.requests.append((number, head.decode(), rest[:length]))
                    answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
                if answer is HANG_UP:
                    return
                if callable(answer):
                    answer(conn)
                elif answer is not SILENT:
                    conn.sendall(answer)
                    if b"Connection: close" in answer:
                        return
        finally:
            conn.close()


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _recv(conn):
    """Bytes, b"" at the peer's close, None when nothing came within the poll interval."""
    try:
        return conn.recv(65536)
    except socket.timeout:
        return None
    except OSError:
        return b""


def trickle(conn):
    """An answer one byte every 50 ms: slower than any response deadline in these tests."""
    try:
        for byte in OK_KEEP:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)
    except OSError:
        pass  # the sender gave up and closed


@pytest.fixture
def world():
    """A loop, a sender factory, consumers to close, results to look at; the log captured."""
    lines = Lines()
    log.set_stream(lines)
    loop = Loop()
    loop.enable_wakeup()
    made = {"senders": [], "consumers": []}

    class World:
        pass

    w = World()
    w.loop, w.log, w.results = loop, lines, {}

    def sender(**kw):
        kw.setdefault("allow_local", True)
        kw.setdefault("retry_delay_ms", 20)
        s = NotifySender(loop, **kw)
        made["senders"].append(s)
        return s

    def consumer(answers, host="127.0.0.1"):
        c = FakeConsumer(answers, host)
        made["consumers"].append(c)
        return c

    def post(s, consumer_address, name, body=BODY):
        w.results[name] = None
        return s.post(consumer_address, body, lambda ok, reason: w.results.__setitem__(
            name, (ok, reason)))

    def spin(until, bound=BOUND):
        deadline = time.monotonic() + bound
        while not until():
            assert time.monotonic() < deadline, "not done within %s s" % bound
            loop.run_once(20)

    w.sender, w.consumer, w.post, w.spin = sender, consumer, post, spin
    yield w
    for s in made["senders"]:
        s.close()
    for c in made["consumers"]:
        c.close()
    loop.close()
    log.set_stream(None)


def done(w, *names):
    return lambda: all(w.results[n] is not None for n in names)


def deliver(w, answers, **sender_options):
    """One Notify to a fresh consumer answering `answers`: (its result, the consumer)."""
    consumer = w.consumer(answers)
    sender = w.sender(**sender_options)
    w.post(sender, sender.parse(consumer.url), "n")
    w.spin(done(w, "n"))
    return w.results["n"], consumer


def test_a_notify_arrives_as_one_soap_post(world):
    result, consumer = deliver(world, [OK_KEEP])
    assert result == (True, "HTTP 200")
    (_, head, body), = consumer.requests
    lines = head.split("\r\n")
    assert lines[0] == "POST /notify?id=7 HTTP/1.1"
    assert "Host: 127.0.0.1:%d" % consumer.port in lines
    assert ('Content-Type: application/soap+xml; charset=utf-8; action="http://docs.oasis-open.org'
            '/wsn/bw-2/NotificationConsumer/Notify"') in lines
    assert body == BODY


def test_keep_alive_carries_the_next_notifications_in_order_on_one_connection(world):
    consumer = world.consumer([OK_KEEP])
    sender = world.sender()
    target = sender.parse(consumer.url)
    for i in range(3):
        world.post(sender, target, i, b"<n>%d</n>" % i)
    world.spin(done(world, 0, 1, 2))
    assert [r[0] for r in world.results.values()] == [True] * 3
    assert [(n, body) for n, _, body in consumer.requests] == [
        (1, b"<n>0</n>"), (1, b"<n>1</n>"), (1, b"<n>2</n>")]


def test_a_consumer_closing_after_each_answer_gets_a_new_connection_each_time(world):
    consumer = world.consumer([OK_CLOSE])
    sender = world.sender()
    target = sender.parse(consumer.url)
    for i in range(3):
        world.post(sender, target, i)
    world.spin(done(world, 0, 1, 2))
    assert list(world.results.values()) == [(True, "HTTP 200")] * 3
    assert [n for n, _, _ in consumer.requests] == [1, 2, 3]


def test_a_500_is_retried_then_dropped_and_logged(world):
    result, consumer = deliver(world, [ERROR_500], retries=2)
    assert result == (False, "HTTP 500")
    assert len(consumer.requests) == 3
    assert world.log.has("Notify to 127.0.0.1:%d dropped after 3 attempts: HTTP 500"
                         % consumer.port)
    assert not world.log.has("/notify"), "a webhook path may be a secret: never logged"


def test_a_retry_that_succeeds_reports_success(world):
    result, consumer = deliver(world, [ERROR_500, OK_KEEP], retries=2)
    assert result == (True, "HTTP 200")
    assert len(consumer.requests) == 2


def test_a_refusal_by_the_consumer_is_not_retried(world):
    result, consumer = deliver(world, [NOT_FOUND], retries=2)
    assert result == (False, "HTTP 404")
    assert len(consumer.requests) == 1


def test_a_consumer_not_listening_is_dropped_after_the_retries(world):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    sender = world.sender(retries=1)
    world.post(sender, sender.parse("http://127.0.0.1:%d/" % port), "n")
    world.spin(done(world, "n"))
    assert world.results["n"] == (False, "ECONNREFUSED")
    assert world.log.has("dropped after 2 attempts: ECONNREFUSED")


def test_a_consumer_that_never_accepts_meets_the_connect_deadline(world):
    # A listener whose one-place backlog is taken: the kernel drops further SYNs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.socket()
    filler.setblocking(False)
    filler.connect_ex(("127.0.0.1", port))
    try:
        sender = world.sender(retries=0, connect_timeout_ms=200)
        world.post(sender, sender.parse("http://127.0.0.1:%d/" % port), "n")
        world.spin(done(world, "n"))
        assert world.results["n"] == (False, "no connection within 200 ms")
    finally:
        filler.close()
        listener.close()


def test_a_consumer_that_never_answers_meets_the_response_deadline(world):
    result, consumer = deliver(world, [SILENT], retries=0, response_timeout_ms=200)
    assert result == (False, "no complete answer within 200 ms")
    world.spin(lambda: consumer.eofs == 1)  # the connection was closed, not leaked


def test_a_consumer_answering_too_slowly_meets_the_response_deadline(world):
    result, _ = deliver(world, [trickle], retries=0, response_timeout_ms=300)
    assert result == (False, "no complete answer within 300 ms")


def test_a_consumer_hanging_up_without_an_answer_fails_the_attempt(world):
    result, _ = deliver(world, [HANG_UP], retries=0)
    assert result == (False, "connection closed without an answer")


def test_a_kept_connection_the_consumer_closed_meanwhile_is_reopened_uncounted(world):
    # The consumer closes as the second request reaches it (its idle timeout racing ours).
    consumer = world.consumer([OK_KEEP, HANG_UP, OK_KEEP])
    sender = world.sender(retries=0)
    target = sender.parse(consumer.url)
    world.post(sender, target, 1)
    world.spin(done(world, 1))
    world.post(sender, target, 2)
    world.spin(done(world, 2))
    assert world.results[2] == (True, "HTTP 200")
    assert [n for n, _, _ in consumer.requests] == [1, 1, 2]


def test_forget_closes_the_connection_and_reports_nothing(world):
    consumer = world.consumer([SILENT])
    sender = world.sender(response_timeout_ms=200)
    target = sender.parse(consumer.url)
    world.post(sender, target, "n")
    world.spin(lambda: consumer.requests)
    sender.forget(target)
    world.spin(lambda: consumer.eofs == 1)
    deadline = time.monotonic() + 0.4  # past the response deadline the forgotten post had
    while time.monotonic() < deadline:
        world.loop.run_once(20)
    assert world.results["n"] is None
    assert len(consumer.requests) == 1


def _ask_the_agent(port, answers):
    """One SOAP request to the agent; its status line goes into `answers` (the body is not
    parsed: schema-checking it would take longer than the loop has to answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
        s.sendall(http_request("/onvif/device_service", envelope("<tds:GetSystemDateAndTime/>")))
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answers.append(data.split(b"\r\n")[0])


def test_a_dead_consumer_delays_neither_another_consumer_nor_the_agent(world):
    silent = world.consumer([SILENT])
    good = world.consumer([OK_KEEP])
    sender = world.sender(response_timeout_ms=10000, connect_timeout_ms=10000)
    app = build_app(Device({"name": "t", "hal": "sim"}, Settings(), hostname=lambda: "h"))
    server = HttpServer(world.loop, app, bind="127.0.0.1", port=0)
    server.start()
    try:
        stuck = sender.parse(silent.url)
        for i in range(3):
            world.post(sender, stuck, "stuck%d" % i)
        world.spin(lambda: silent.requests)
        world.post(sender, sender.parse(good.url), "good")
        world.spin(done(world, "good"), bound=2.0)
        assert world.results["good"] == (True, "HTTP 200")
        answers = []
        client = threading.Thread(target=_ask_the_agent, args=(server.port, answers), daemon=True)
        client.start()
        world.spin(lambda: answers, bound=2.0)
        assert answers == [b"HTTP/1.1 200 OK"]
        assert [world.results["stuck%d" % i] for i in range(3)] == [None] * 3, "still waiting"
        assert sender.queued(stuck) == 3
        assert (silent.connections, len(silent.requests)) == (1, 1), "one at a time, in order"
    finally:
        server.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_consumer_gets_its_notify_and_is_refused_as_loopback_by_default(world):
    consumer = world.consumer([OK_KEEP], host="::1")
    assert consumer.url.startswith("http://[::1]:")
    sender = world.sender()
    world.post(sender, sender.parse(consumer.url), "n")
    world.spin(done(world, "n"))
    assert world.results["n"] == (True, "HTTP 200")
    assert "Host: [::1]:%d" % consumer.port in consumer.requests[0][1]
    with pytest.raises(ConsumerRefused, match="loopback"):
        world.sender(allow_local=False).parse(consumer.url)


def test_a_strict_sender_never_connects_to_a_local_address(world):
    consumer = world.consumer([OK_KEEP])
    strict = world.sender(allow_local=False)
    with pytest.raises(ConsumerRefused, match="127.0.0.1 is loopback"):
        strict.parse(consumer.url)
    # A Consumer parsed elsewhere with local addresses allowed is still checked at send time.
    world.post(strict, parse_consumer(consumer.url, allow_local=True), "n")
    world.spin(done(world, "n"))
    assert world.results["n"] == (False, "127.0.0.1 is loopback; such consumers are not allowed")
    assert consumer.connections == 0


needs_threads = pytest.mark.skipif(
    not hasattr(compat, "start_thread"),
    reason="agent.compat.start_thread is missing: names cannot be resolved off the loop")


def test_each_resolved_address_is_tried_in_turn(world):
    consumer = world.consumer([OK_KEEP])  # on 127.0.0.1 only: 127.0.0.2 refuses
    asked = []

    def resolve(host, port, answer):
        asked.append((host, port))
        world.loop.call_later(0, lambda: answer(["127.0.0.2", "127.0.0.1"]))
    sender = world.sender(resolve=resolve, retries=0)
    world.post(sender, sender.parse("http://consumer.test:%d/n" % consumer.port), "n")
    world.spin(done(world, "n"))
    assert world.results["n"] == (True, "HTTP 200")
    assert asked == [("consumer.test", consumer.port)]
    assert "Host: consumer.test:%d" % consumer.port in consumer.requests[0][1]


@needs_threads
def test_a_name_is_resolved_off_the_loop(world):
    consumer = world.consumer([OK_KEEP])
    sender = world.sender()
    target = sender.parse("http://localhost:%d/n" % consumer.port)
    assert target.is_name
    world.post(sender, target, "n")
    world.spin(done(world, "n"))
    assert world.results["n"] == (True, "HTTP 200")
    assert "Host: localhost:%d" % consumer.port in consumer.requests[0][1]


@needs_threads
def test_a_name_resolving_to_loopback_is_refused_after_resolution(world):
    consumer = world.consumer([OK_KEEP])
    strict = world.sender(allow_local=False)
    # Parsed elsewhere with local addresses allowed: only the resolved addresses can tell.
    target = parse_consumer("http://localhost:%d/n" % consumer.port, allow_local=True)
    world.post(strict, target, "n")
    world.spin(done(world, "n"))
    ok, reason = world.results["n"]
    assert not ok and "127.0.0.1" in reason and "is loopback" in reason, reason
    assert consumer.connections == 0
