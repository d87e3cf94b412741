"""The Notify sender's sans-IO rules (checklist 10.3): which consumer addresses are refused (the
SSRF guard, resolved addresses included), the request it sends, how a consumer's answer is read,
the queue bound, retries and deadlines, all without a socket (resolution is faked and never
answered with an address that would need one). Real sockets: tests/test_notify.py."""

import unittest

from agent import log
from agent.loop import Loop
from agent.notify import (MAX_BODY, MAX_HEAD, ConsumerRefused, NotifySender, ResponseError,
                          ResponseReader, address_refusal, parse_consumer, request_bytes,
                          retryable)
from tests.support import Clock
from tests.support import Quiet


class AddressTest(unittest.TestCase):
    def test_local_ipv4_addresses_are_named(self):
        for address, reason in (("127.0.0.1", "loopback"), ("127.255.3.4", "loopback"),
                                ("169.254.10.1", "link-local"), ("224.0.0.251", "multicast"),
                                ("239.255.255.250", "multicast"), ("0.0.0.0", "unspecified"),
                                ("0.1.2.3", "unspecified"), ("255.255.255.255", "broadcast")):
            self.assertEqual(address_refusal(address), reason, address)

    def test_ordinary_addresses_pass(self):
        for address in ("192.168.1.20", "10.0.0.1", "8.8.8.8", "126.255.255.255", "128.0.0.1",
                        "169.253.1.1", "223.255.255.255", "240.0.0.1", "2001:db8::1",
                        "fec0::1", "fe7f::1", "::ffff:8.8.8.8", "::2:0:0"):
            self.assertEqual(address_refusal(address), None, address)

    def test_local_ipv6_addresses_and_ipv4_inside_ipv6_are_named(self):
        for address, reason in (("::1", "loopback"), ("0:0:0:0:0:0:0:1", "loopback"),
                                ("::", "unspecified"), ("fe80::1", "link-local"),
                                ("FEBF::1", "link-local"), ("fe80::1%eth0", "link-local"),
                                ("ff02::1", "multicast"), ("ff05::c", "multicast"),
                                ("::ffff:127.0.0.1", "loopback"), ("::ffff:7f00:1", "loopback"),
                                ("::ffff:169.254.1.1", "link-local"),
                                ("::ffff:224.0.0.1", "multicast"), ("::127.0.0.1", "loopback"),
                                ("::ffff:0.0.0.0", "unspecified")):
            self.assertEqual(address_refusal(address), reason, address)

    def test_malformed_addresses_are_not_addresses(self):
        for text in ("1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.x", "", "1::2::3",
                     "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", ":1::", "1:2:3:4:5:6:7",
                     "::ffff:1.2.3", "::1.2.3.4:5", "g::1", "1.2.3.4::", "example.com"):
            self.assertEqual(address_refusal(text), "not an IP address", text)


class ParseConsumerTest(unittest.TestCase):
    def refused(self, url, **kw):
        with self.assertRaises(ConsumerRefused) as caught:
            parse_consumer(url, **kw)
        return str(caught.exception)

    def test_an_http_address_gives_host_port_path_and_authority(self):
        c = parse_consumer("http://192.168.1.5:8123/api/webhook/abc?x=1#frag")
        self.assertEqual((c.host, c.port, c.path, c.authority, c.is_name),
                         ("192.168.1.5", 8123, "/api/webhook/abc?x=1", "192.168.1.5:8123", False))
        self.assertEqual(c.url, "http://192.168.1.5:8123/api/webhook/abc?x=1#frag")
        c = parse_consumer("HTTP://10.0.0.9")
        self.assertEqual((c.host, c.port, c.path, c.authority), ("10.0.0.9", 80, "/", "10.0.0.9"))
        self.assertEqual(parse_consumer("http://10.0.0.9?q").path, "/?q")
        self.assertEqual(parse_consumer("http://10.0.0.9:/x").port, 80)

    def test_ipv6_literals_lose_their_brackets_and_keep_a_zone_for_the_socket(self):
        c = parse_consumer("http://[2001:DB8::5]:8080/n")
        self.assertEqual((c.host, c.port, c.authority), ("2001:db8::5", 8080, "[2001:db8::5]:8080"))
        c = parse_consumer("http://[fe80::1%25eth0]/n", allow_local=True)
        self.assertEqual((c.host, c.authority), ("fe80::1%eth0", "[fe80::1]"))
        c = parse_consumer("http://[::1]:9/", allow_local=True)
        self.assertEqual((c.host, c.port, c.authority), ("::1", 9, "[::1]:9"))

    def test_local_addresses_are_refused_unless_allowed(self):
        for url, reason in (("http://127.0.0.1:8080/", "loopback"), ("http://[::1]/", "loopback"),
                            ("http://169.254.0.7/", "link-local"),
                            ("http://[fe80::2%25eth0]/", "link-local"),
                            ("http://224.0.0.1/", "multicast"), ("http://[ff02::1]/", "multicast"),
                            ("http://0.0.0.0/", "unspecified"), ("http://[::]:80/", "unspecified"),
                            ("http://[::ffff:127.0.0.1]/", "loopback"),
                            ("http://[::ffff:a9fe:101]/", "link-local")):
            self.assertTrue(reason in self.refused(url), url)
            self.assertEqual(parse_consumer(url, allow_local=True).url, url)

    def test_bad_addresses_are_refused_with_a_reason(self):
        for url, words in (("", "empty"), ("https://10.0.0.1/", "https"),
                           ("ftp://10.0.0.1/", "http://"), ("10.0.0.1:80", "http://"),
                           ("http://user:pw@10.0.0.1/", "user name"),
                           ("http://10.0.0.1:0/", "port"), ("http://10.0.0.1:65536/", "port"),
                           ("http://10.0.0.1:8o/", "port"), ("http://10.0.0.1:123456/", "port"),
                           ("http:///x", "no host"), ("http://:80/", "no host"),
                           ("http://10.0.0.1/a b", "spaces"),
                           ("http://10.0.0.1/\r\nX: y", "spaces"),
                           ("http://10.0.0.1/\u00e9", "ASCII"), ("http://[::1/", "IPv6"),
                           ("http://[1::2::3]/", "IPv6"), ("http://[fe80::1%eth0]/", "IPv6"),
                           ("http://[fe80::1%25]/", "IPv6"), ("http://::1/", "host name"),
                           ("http://a..b/", "host name"), ("http://a_b!/", "host name"),
                           ("http://127.1/", "dotted-quad"), ("http://2130706433/", "dotted-quad"),
                           ("http://0x7f.0.0.1/", "dotted-quad"),
                           ("http://01.2.3.4/", "dotted-quad"),
                           ("http://10.0.0.1/" + "x" * 2100, "longer")):
            self.assertTrue(words in self.refused(url, allow_local=True, names=True), url)

    def test_host_names_need_a_resolver(self):
        c = parse_consumer("http://Consumer.Example:81/x", names=True)
        self.assertEqual((c.host, c.is_name, c.authority), ("consumer.example", True,
                                                             "consumer.example:81"))
        self.assertTrue("cannot resolve" in self.refused("http://consumer.example/", names=False))
        self.assertTrue("loopback" in self.refused("http://localhost:8080/", names=True))
        self.assertTrue("loopback" in self.refused("http://a.localhost./", names=True))
        self.assertTrue(parse_consumer("http://localhost/", allow_local=True, names=True).is_name)

    def test_request_is_one_post_with_the_notify_action(self):
        c = parse_consumer("http://[2001:db8::5]:8080/n?id=3")
        self.assertEqual(request_bytes(c, b"<env/>"),
                         b"POST /n?id=3 HTTP/1.1\r\nHost: [2001:db8::5]:8080\r\n"
                         b"Content-Type: application/soap+xml; charset=utf-8; action=\""
                         b"http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify\"\r\n"
                         b"Content-Length: 6\r\n\r\n<env/>")


def read(data, split=None):
    """Feed `data` to a ResponseReader (in `split`-byte pieces); (complete, reader)."""
    reader = ResponseReader()
    step = split or len(data) or 1
    complete = False
    for at in range(0, len(data), step):
        complete = reader.feed(data[at:at + step])
        if complete:
            break
    return complete, reader


class ResponseReaderTest(unittest.TestCase):
    def test_content_length_answer_keeps_the_connection(self):
        for split in (None, 1, 7):
            complete, r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", split)
            self.assertTrue(complete)
            self.assertEqual((r.status, r.keep_alive), (200, True))
        complete, r = read(b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhel")
        self.assertFalse(complete)

    def test_chunked_answer_in_any_pieces(self):
        data = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n")
        for split in (None, 1, 3):
            complete, r = read(data, split)
            self.assertTrue(complete, split)
            self.assertEqual((r.status, r.keep_alive), (200, True))
        self.assertFalse(read(data[:-2])[0])

    def test_connection_close_and_http10_rules(self):
        empty = b"Content-Length: 0\r\n\r\n"
        for data, keep in ((b"HTTP/1.1 200 OK\r\nConnection: close\r\n" + empty, False),
                           (b"HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n" + empty, False),
                           (b"HTTP/1.0 200 OK\r\n" + empty, False),
                           (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n" + empty, True),
                           (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5"
                            b"\r\n\r\n0\r\n\r\n", False)):
            complete, r = read(data)
            self.assertTrue(complete, data)
            self.assertEqual(r.keep_alive, keep, data)

    def test_an_answer_without_length_runs_until_close(self):
        r = ResponseReader()
        self.assertFalse(r.feed(b"HTTP/1.1 500 Oops\r\n\r\nsome text"))
        self.assertFalse(r.feed(b" more"))
        self.assertTrue(r.feed(b""))
        self.assertEqual((r.status, r.keep_alive), (500, False))
        complete, r = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")
        self.assertFalse(complete)
        self.assertTrue(r.feed(b""))

    def test_interim_answers_are_skipped_and_bodiless_statuses_end_at_the_head(self):
        complete, r = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 4)
        self.assertTrue(complete)
        self.assertEqual((r.status, r.keep_alive), (204, True))

    def test_extra_bytes_after_the_answer_forbid_reuse(self):
        complete, r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")
        self.assertTrue(complete)
        self.assertFalse(r.keep_alive)

    def test_a_long_body_is_skipped_up_to_the_bound_then_the_connection_goes(self):
        r = ResponseReader()
        self.assertFalse(r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 999999\r\n\r\n"))
        piece = b"x" * 4096
        fed = 0
        while not r.feed(piece):
            fed += len(piece)
            self.assertTrue(fed <= MAX_BODY)
        self.assertEqual((r.status, r.keep_alive), (200, False))

    def test_unreadable_answers_raise(self):
        for data in (b"HTTP/1.1 2000 OK\r\n\r\n", b"SMTP ready\r\n\r\n", b"HTTP/1.1 20x OK\r\n\r\n",
                     b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                     b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                     b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                     b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxyz",
                     b"HTTP/1.1 200 OK\r\nX: " + b"y" * MAX_HEAD + b"\r\n\r\n",
                     b"HTTP/1.1 200 OK\r\nX: " + b"y" * MAX_HEAD,
                     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000):
            with self.assertRaises(ResponseError):
                read(data)

    def test_a_close_before_the_end_raises(self):
        cut = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"
        for data, words in ((b"", "without an answer"), (b"HTTP/1.1 200", "before a complete"),
                            (cut, "before a complete")):
            r = ResponseReader()
            if data:
                self.assertFalse(r.feed(data))
            with self.assertRaises(ResponseError) as caught:
                r.feed(b"")
            self.assertTrue(words in str(caught.exception), data)

    def test_only_the_consumers_own_trouble_is_retried(self):
        self.assertEqual([s for s in (400, 403, 404, 408, 413, 429, 500, 503) if retryable(s)],
                         [408, 429, 500, 503])


class Resolver:
    """A fake resolve(host, port, done): records each question, answers only when told."""

    def __init__(self):
        self.asked = []

    def __call__(self, host, port, done):
        self.asked.append((host, port, done))

    def answer(self, result, index=-1):
        self.asked[index][2](result)


class SenderPolicyTest(unittest.TestCase):
    """The sender's queue, retries and deadlines, driven through a host-name consumer whose
    resolution is faked: no socket is ever opened."""

    def setUp(self):
        log.set_stream(Quiet())
        self.clock = Clock()
        self.loop = Loop(clock=self.clock)
        self.resolver = Resolver()
        self.sender = NotifySender(self.loop, connect_timeout_ms=500, retries=2,
                                   retry_delay_ms=100, max_queued=3, resolve=self.resolver)
        self.consumer = self.sender.parse("http://consumer.example:8080/notify")
        self.results = []

    def tearDown(self):
        self.sender.close()
        log.set_stream(None)

    def post(self, body=b"<n/>"):
        return self.sender.post(self.consumer, body,
                                lambda ok, reason: self.results.append((ok, reason)))

    def advance(self, ms):
        self.clock.now += ms
        self.loop.run_once(0)

    def test_the_sender_parses_with_its_own_rules(self):
        self.assertTrue(self.consumer.is_name)
        with self.assertRaises(ConsumerRefused):
            self.sender.parse("http://127.0.0.1:8080/")
        lenient = NotifySender(self.loop, allow_local=True, resolve=self.resolver)
        self.assertEqual(lenient.parse("http://127.0.0.1:8080/").port, 8080)

    def test_a_full_queue_refuses_the_new_notification(self):
        self.assertTrue(self.post(b"1"))
        self.assertTrue(self.post(b"2"))
        self.assertTrue(self.post(b"3"))
        self.assertFalse(self.post(b"4"))
        self.assertEqual(self.sender.queued(self.consumer), 3)
        self.assertEqual(len(self.resolver.asked), 1, "one attempt at a time per consumer")
        self.assertEqual(self.resolver.asked[0][:2], ("consumer.example", 8080))

    def test_a_resolved_local_address_is_refused_without_retry(self):
        self.post()
        self.resolver.answer(["127.0.0.1", "::1"])
        self.advance(0)
        self.assertEqual(len(self.results), 1)
        ok, reason = self.results[0]
        self.assertFalse(ok)
        self.assertTrue("127.0.0.1, ::1 is loopback" in reason, reason)
        self.assertEqual(len(self.resolver.asked), 1)
        self.assertEqual(self.sender.queued(self.consumer), 0)

    def test_resolution_failures_are_retried_then_reported(self):
        self.post()
        self.resolver.answer(OSError("Name or service not known"))
        self.assertEqual(self.results, [])
        self.advance(99)
        self.assertEqual(len(self.resolver.asked), 1, "the retry waits retry_delay_ms")
        self.advance(1)
        self.assertEqual(len(self.resolver.asked), 2)
        self.resolver.answer([])
        self.advance(100)
        self.resolver.answer(OSError("Name or service not known"))
        self.advance(0)
        self.assertEqual(self.results, [(False, "cannot resolve consumer.example: "
                                                "Name or service not known")])

    def test_a_resolver_that_never_answers_meets_the_connect_deadline(self):
        self.post(b"1")
        self.post(b"2")
        self.advance(499)
        self.assertEqual(self.results, [])
        self.advance(1)  # deadline: first failure, retry in 100 ms
        self.resolver.answer(["192.0.2.1"], index=0)  # too late: ignored
        self.advance(100)
        self.advance(500)
        self.advance(100)
        self.advance(500)  # third failure: dropped, and the next one starts at once
        self.advance(0)
        self.assertEqual(self.results, [(False, "no connection within 500 ms")])
        self.assertEqual(len(self.resolver.asked), 4)
        self.assertEqual(self.sender.queued(self.consumer), 1)

    def test_forget_drops_the_queue_silently_and_ignores_a_late_answer(self):
        self.post()
        self.sender.forget(self.consumer)
        self.resolver.answer(["192.0.2.1"])
        self.advance(1000)
        self.assertEqual(self.results, [])
        self.assertEqual(self.sender.queued(self.consumer), 0)

    def test_without_a_resolver_host_names_are_refused_at_parse_time(self):
        bare = NotifySender(self.loop)
        if bare.resolve is None:  # a runtime without threads (MicroPython's WebAssembly build)
            with self.assertRaises(ConsumerRefused):
                bare.parse("http://consumer.example/")
        else:
            self.assertTrue(bare.parse("http://consumer.example/").is_name)
