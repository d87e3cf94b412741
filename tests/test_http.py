"""agent.http on both runtimes: limits at and one past each bound, framing, pipelining, fuzz."""

import unittest

from agent.errors import LocalProtocolError
from agent.http import (CLOSED, MAX_BODY, MAX_HEAD, MAX_HEADERS, NEED_DATA, HttpConnection,
                        HttpError, Request, ResponseStream)
from tests.support import Rng

SOAP = "application/soap+xml; charset=utf-8"


def post(body=b"<x/>", ctype=SOAP, extra="", version="HTTP/1.1"):
    return ("POST /onvif/device_service %s\r\nHost: dev\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\n%s\r\n" % (version, ctype, len(body), extra)).encode() + body


GET = b"GET /a HTTP/1.1\r\nHost: dev\r\n\r\n"


def drain(conn, answer=True):
    """Pull events until NEED_DATA/CLOSED, answering each request with a 2-byte body."""
    events = []
    while True:
        event = conn.next_event()
        events.append(event)
        if event is NEED_DATA or event is CLOSED:
            return events
        if answer:
            conn.start_response(200, [], 2)
            conn.send_data(b"ok")
            conn.end_response()


def parse(data, eof=False, **limits):
    """The events of a fresh connection fed `data`, or the HttpError it raises."""
    conn = HttpConnection(**limits)
    conn.receive(data)
    if eof:
        conn.receive(b"")
    try:
        return drain(conn)
    except HttpError as exc:
        return exc


def status(data, **limits):
    result = parse(data, **limits)
    return result.status if isinstance(result, HttpError) else None


def one(data, **limits):
    conn = HttpConnection(**limits)
    conn.receive(data)
    event = conn.next_event()
    assert isinstance(event, Request), event
    return event


def padded_head(size, start="GET / HTTP/1.1\r\nHost: dev\r\n"):
    """A request head of exactly `size` bytes (through the blank line)."""
    fixed = len(start) + len("X-Pad: \r\n\r\n")
    return (start + "X-Pad: " + "p" * (size - fixed) + "\r\n\r\n").encode()


class ParsingTest(unittest.TestCase):
    def test_post_fields(self):
        req = one(post(b"<e/>", extra="X-A: 1\r\nx-a: 2\r\n"))
        self.assertEqual((req.method, req.target, req.version), ("POST", "/onvif/device_service", "HTTP/1.1"))
        self.assertEqual(req.body, b"<e/>")
        self.assertEqual(req.header("X-A"), "1")
        self.assertEqual(req.header("missing"), None)
        self.assertEqual(req.headers[0], ("host", "dev"))
        self.assertEqual(req.content_type, "application/soap+xml")
        self.assertEqual(req.content_type_params, {"charset": "utf-8"})
        self.assertTrue(req.keep_alive)

    def test_content_type_parameters(self):
        req = one(post(ctype='Application/SOAP+XML ; Charset=UTF-8; action="urn:x;y \\"q\\""'))
        self.assertEqual(req.content_type, "application/soap+xml")
        self.assertEqual(req.content_type_params, {"charset": "UTF-8", "action": 'urn:x;y "q"'})
        self.assertEqual(Request("GET", "/").content_type, "")
        self.assertEqual(Request("GET", "/").content_type_params, {})

    def test_value_whitespace_and_obs_text(self):
        req = one(b"GET / HTTP/1.1\r\nHost:dev\r\nX-Name: \t caf\xe9\t \r\n\r\n")
        self.assertEqual(req.header("host"), "dev")
        self.assertEqual(req.header("x-name"), "caf\xe9")
        # valid UTF-8 too stays one character per byte (MicroPython would decode it as UTF-8)
        self.assertEqual(one(b"GET / HTTP/1.1\r\nHost: d\r\nX: \xc3\xa9\r\n\r\n").header("x"), "\xc3\xa9")

    def test_request_built_directly(self):
        req = Request("POST", "/", "HTTP/1.0", [("connection", "keep-alive"), ("content-type", "text/xml")])
        self.assertEqual((req.keep_alive, req.content_type, req.header("Content-Type")),
                         (True, "text/xml", "text/xml"))
        self.assertFalse(Request("GET", "/", "HTTP/1.0").keep_alive)
        self.assertTrue(Request("GET", "/").keep_alive)

    def test_text_xml_and_absolute_form(self):
        req = one(post(ctype="text/xml").replace(b"/onvif/device_service", b"http://dev/onvif/x"))
        self.assertEqual(req.target, "http://dev/onvif/x")

    def test_leading_empty_line_is_skipped(self):
        self.assertEqual(one(b"\r\n" + GET).target, "/a")
        self.assertEqual(status(b"\r\n\r\n" + GET), 400)

    def test_http10_without_host(self):
        self.assertEqual(one(b"GET / HTTP/1.0\r\n\r\n").version, "HTTP/1.0")

    def test_get_with_body(self):
        self.assertEqual(one(b"GET / HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\nabc").body, b"abc")

    def test_content_length_leading_zeros(self):
        self.assertEqual(one(post(b"ab").replace(b"Length: 2", b"Length: 0002")).body, b"ab")

    def test_empty_post(self):
        self.assertEqual(one(post(b"")).body, b"")


class BadRequestTest(unittest.TestCase):
    def assert400(self, data):
        self.assertEqual(status(data), 400, data)

    def test_malformed_request_lines(self):
        for line in (b"GET  / HTTP/1.1", b"GET / HTTP/1.1 ", b"GET /", b"", b"G@T / HTTP/1.1",
                     b"GET * HTTP/1.1", b"GET a HTTP/1.1", b"GET /\x7f HTTP/1.1",
                     b"GET /caf\xc3\xa9 HTTP/1.1", b"GET / http/1.1", b"GET / HTTP/1.10",
                     b"GET / HTTP/11", b"GET\t/ HTTP/1.1", b"GET /\t HTTP/1.1", b"GET ftp://x HTTP/1.1"):
            self.assert400(line + b"\r\nHost: d\r\n\r\n")

    def test_malformed_header_lines(self):
        for line in (b"NoColon", b": empty-name", b"Name : space-before-colon", b" Folded: x",
                     b"X-A: 1\r\n continued", b"X-A: 1\r\n\tcontinued", b"N\xe9: non-ascii",
                     b"(bad): token", b"X-A: nul\x00", b"X-A: bell\x07", b"X-A: del\x7f"):
            self.assert400(b"GET / HTTP/1.1\r\nHost: d\r\n" + line + b"\r\n\r\n")

    def test_bare_cr_and_lf(self):
        self.assert400(b"GET / HTTP/1.1\rHost: d\r\n\r\n")
        self.assert400(b"GET / HTTP/1.1\r\nHost: d\nX: y\r\n\r\n")
        self.assert400(b"GET / HTTP/1.1\r\nHost: d\r\nX: a\rb\r\n\r\n")

    def test_bare_lf_fails_on_arrival(self):
        for first, second in ((b"GET / HTTP/1.1\r", b"\nHost: d\n"), (b"GET / HTTP/1.1\n", b"")):
            conn = HttpConnection()
            conn.receive(first)
            if second:
                self.assertIs(conn.next_event(), NEED_DATA)  # a CRLF split across reads is fine
                conn.receive(second)
            with self.assertRaises(HttpError) as cm:
                conn.next_event()
            self.assertEqual(cm.exception.status, 400)

    def test_host(self):
        self.assert400(b"GET / HTTP/1.1\r\n\r\n")
        self.assert400(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        self.assert400(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n")

    def test_content_length_values(self):
        for value in (b"-1", b"1a", b"+5", b"1_0", b"", b"0x5", b"5, 5", b"\xd9\xa1"):
            self.assert400(post(b"").replace(b"Length: 0", b"Length: " + value))

    def test_duplicate_and_conflicting_content_length(self):
        self.assert400(post(b"ab", extra="Content-Length: 2\r\n"))
        self.assert400(post(b"ab", extra="Content-Length: 3\r\n"))

    def test_both_length_and_chunked(self):
        self.assert400(post(b"", extra="Transfer-Encoding: chunked\r\n"))

    def test_transfer_encoding_shapes(self):
        head = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\n"
        for te in (b"chunked, chunked", b"chunked, gzip", b"", b"chunked,"):
            self.assert400(head + b"Transfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n")
        self.assert400(head.replace(b"1.1", b"1.0") + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_bad_chunks(self):
        head = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in (b"g\r\n", b"-1\r\n", b"\r\n", b" 1\r\nx\r\n", b"0x1\r\nx\r\n", b"1\r\nxy\r\n",
                     b"1\r\nx\n0\r\n\r\n", b"1\n\r\nx\r\n", b";ext\r\n", b"+1\r\nx\r\n"):
            self.assert400(head + body + b"0\r\n\r\n")

    def test_incomplete_input_at_eof(self):
        for data in (b"GET / HT", post(b"abc")[:-1], b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml"
                     b"\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n"):
            result = parse(data, eof=True)
            self.assertEqual(result.status, 400)

    def test_clean_eof(self):
        self.assertEqual(parse(b"", eof=True), [CLOSED])
        self.assertEqual(parse(GET, eof=True)[1:], [CLOSED])


class StatusTest(unittest.TestCase):
    def test_version_505(self):
        for version in (b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9"):
            self.assertEqual(status(b"GET / " + version + b"\r\nHost: d\r\n\r\n"), 505)

    def test_transfer_coding_501(self):
        head = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\n"
        for te in (b"gzip, chunked", b"gzip", b"identity"):
            self.assertEqual(status(head + b"Transfer-Encoding: " + te + b"\r\n\r\n"), 501)

    def test_post_without_length_411(self):
        self.assertEqual(status(b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\n\r\n"), 411)
        self.assertIsInstance(parse(b"GET / HTTP/1.1\r\nHost: d\r\n\r\n")[0], Request)

    def test_method_405_with_allow(self):
        for method in (b"PUT", b"get", b"DELETE", b"OPTIONS"):
            result = parse(method + b" / HTTP/1.1\r\nHost: d\r\n\r\n")
            self.assertEqual(result.status, 405)
            self.assertEqual(result.headers, [("Allow", "GET, POST")])
        result = parse(b"GET / HTTP/1.1\r\nHost: d\r\n\r\n", methods=("POST",))
        self.assertEqual(result.headers, [("Allow", "POST")])

    def test_media_type_415(self):
        for ctype in ("text/plain", "application/xml", "application/soap+xml+x", ""):
            self.assertEqual(status(post(ctype=ctype)), 415, ctype)
        self.assertEqual(status(post(ctype="text/plain"), post_content_types=("text/plain",)), None)
        self.assertEqual(status(post(b"").replace(b"Content-Type: %s\r\n" % SOAP.encode(), b"")), 415)


class LimitTest(unittest.TestCase):
    def test_head_at_limit_and_one_past(self):
        for limit in (256, MAX_HEAD):
            self.assertIsInstance(parse(padded_head(limit), max_head=limit)[0], Request)
            self.assertEqual(status(padded_head(limit + 1), max_head=limit), 431)

    def test_head_limit_fails_at_once_byte_by_byte(self):
        data = padded_head(101)
        conn = HttpConnection(max_head=100)
        for i in range(99):
            conn.receive(data[i:i + 1])
            self.assertIs(conn.next_event(), NEED_DATA)
        conn.receive(data[99:100])
        with self.assertRaises(HttpError) as cm:
            conn.next_event()
        self.assertEqual(cm.exception.status, 431)

    def test_request_line_too_long_414(self):
        line = b"GET /" + b"a" * 200 + b" HTTP/1.1"
        self.assertEqual(status(line + b"\r\n\r\n", max_head=100), 414)
        self.assertEqual(status(line[:100], max_head=100), 414)
        self.assertEqual(status(line[:99], max_head=100), None)

    def test_header_count(self):
        for limit in (3, MAX_HEADERS):
            fields = "".join("X-%d: v\r\n" % i for i in range(limit - 1))
            ok = ("GET / HTTP/1.1\r\nHost: d\r\n" + fields + "\r\n").encode()
            self.assertIsInstance(parse(ok, max_headers=limit)[0], Request)
            past = ok.replace(b"Host", b"X-More: v\r\nHost")
            self.assertEqual(status(past, max_headers=limit), 431)

    def test_content_length_at_limit_and_one_past(self):
        for limit in (10, MAX_BODY):
            self.assertEqual(parse(post(b"x" * limit), max_body=limit)[0].body, b"x" * limit)
            head = post(b"x" * (limit + 1))
            head = head[:head.index(b"\r\n\r\n") + 4]  # decided before any body byte arrives
            self.assertEqual(status(head, max_body=limit), 413)
        self.assertEqual(status(post(b"").replace(b"Length: 0", b"Length: 99999999999999999999")), 413)

    def test_chunked_total_at_limit_and_one_past(self):
        head = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.assertEqual(parse(head + b"4\r\nabcd\r\n6\r\nefghij\r\n0\r\n\r\n", max_body=10)[0].body,
                         b"abcdefghij")
        # the size line that passes the limit is refused before its data arrives
        self.assertEqual(status(head + b"4\r\nabcd\r\n7\r\n", max_body=10), 413)
        self.assertEqual(status(head + b"0000000000000000001\r\n"), None)
        self.assertEqual(status(head + b"fffffffffffffffff\r\n"), 413)

    def test_chunk_header_and_trailer_limits(self):
        head = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
        ext = b"1;" + b"e" * 95 + b"\r\n"  # 99 bytes before the CRLF ends it: at the limit
        self.assertEqual(parse(head + ext + b"x\r\n0\r\n\r\n", max_head=100)[0].body, b"x")
        self.assertEqual(status(head + b"1;" + b"e" * 98, max_head=100), 400)
        trailer = b"T: " + b"t" * 93 + b"\r\n\r\n"  # 100 bytes
        self.assertEqual(parse(head + b"0\r\n" + trailer, max_head=100)[0].body, b"")
        self.assertEqual(status(head + b"0\r\n" + b"T: " + b"t" * 97, max_head=100), 431)

    def test_pipelined_backlog_is_bounded(self):
        conn = HttpConnection(max_head=100, max_body=100)
        conn.receive(GET)
        self.assertIsInstance(conn.next_event(), Request)
        conn.receive(b"x" * 200)
        self.assertIs(conn.next_event(), NEED_DATA)
        conn.receive(b"x")
        with self.assertRaises(HttpError) as cm:
            conn.next_event()
        self.assertEqual(cm.exception.status, 413)


class ChunkedBodyTest(unittest.TestCase):
    HEAD = b"POST / HTTP/1.1\r\nHost: d\r\nContent-Type: text/xml\r\nTransfer-Encoding: Chunked\r\n\r\n"
    BODY = b"5;name=value\r\nhello\r\nA \r\n, chunked!\r\n00\r\nX-Trailer: 1\r\nY: 2\r\n\r\n"

    def test_body_extensions_and_trailers(self):
        self.assertEqual(parse(self.HEAD + self.BODY)[0].body, b"hello, chunked!")

    def test_every_split_point(self):
        data = self.HEAD + self.BODY + GET
        for cut in range(len(data) + 1):
            conn = HttpConnection()
            events = []
            for piece in (data[:cut], data[cut:]):
                if piece:  # receive(b"") would mean end of input
                    conn.receive(piece)
                    events += drain(conn)
            requests = [e for e in events if isinstance(e, Request)]
            self.assertEqual([r.body for r in requests], [b"hello, chunked!", b""], cut)


class ContinueTest(unittest.TestCase):
    def head(self, version="HTTP/1.1", length=5):
        data = post(b"x" * length, extra="Expect: 100-continue\r\n", version=version)
        return data[:len(data) - length]

    def test_interim_response_once(self):
        conn = HttpConnection()
        conn.receive(self.head())
        self.assertIs(conn.next_event(), NEED_DATA)
        self.assertEqual(conn.pending_output(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertEqual(conn.pending_output(), b"")
        conn.receive(b"xxxxx")
        self.assertEqual(conn.next_event().body, b"xxxxx")
        self.assertEqual(conn.pending_output(), b"")

    def test_not_sent_when_body_already_here_or_http10(self):
        for data in (self.head() + b"xxxxx", self.head() + b"x", self.head("HTTP/1.0")):
            conn = HttpConnection()
            conn.receive(data)
            conn.next_event()
            self.assertEqual(conn.pending_output(), b"")

    def test_not_sent_when_a_head_check_fails(self):
        conn = HttpConnection(max_body=4)
        conn.receive(self.head())
        with self.assertRaises(HttpError):
            conn.next_event()
        self.assertEqual(conn.pending_output(), b"")

    def test_dropped_once_the_response_starts(self):
        conn = HttpConnection()
        conn.receive(self.head(length=0))  # no body, nothing to wait for
        self.assertIsInstance(conn.next_event(), Request)
        self.assertEqual(conn.pending_output(), b"")
        conn = HttpConnection()
        conn.receive(self.head())
        conn.next_event()
        conn.receive(b"xxxxx")
        conn.next_event()
        conn.start_response(417, [], 0)
        self.assertEqual(conn.pending_output(), b"")


class KeepAliveTest(unittest.TestCase):
    def respond(self, request_bytes, headers=(), content_length=0):
        conn = HttpConnection()
        conn.receive(request_bytes)
        req = conn.next_event()
        out = conn.start_response(200, list(headers), content_length)
        close = conn.must_close
        out += conn.end_response()
        return req, out, close, conn.next_event()

    def test_http11_default_keeps(self):
        req, out, close, after = self.respond(GET)
        self.assertTrue(req.keep_alive)
        self.assertFalse(close)
        self.assertFalse(b"Connection" in out)
        self.assertIs(after, NEED_DATA)

    def test_http11_close(self):
        req, out, close, after = self.respond(b"GET / HTTP/1.1\r\nHost: d\r\nConnection: Keep-Alive, CLOSE\r\n\r\n")
        self.assertFalse(req.keep_alive)
        self.assertTrue(close)
        self.assertIn(b"\r\nConnection: close\r\n", out)
        self.assertIs(after, CLOSED)

    def test_http10_default_closes(self):
        req, out, close, after = self.respond(b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual((req.keep_alive, close, after), (False, True, CLOSED))
        self.assertIn(b"\r\nConnection: close\r\n", out)

    def test_http10_keep_alive(self):
        req, out, close, after = self.respond(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual((req.keep_alive, close, after), (True, False, NEED_DATA))
        self.assertIn(b"\r\nConnection: keep-alive\r\n", out)

    def test_http10_unknown_length_is_close_delimited(self):
        conn = HttpConnection()
        conn.receive(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        conn.next_event()
        head = conn.start_response(200, [("Content-Type", "text/plain")])
        self.assertTrue(conn.must_close)
        self.assertFalse(b"chunked" in head)
        self.assertIn(b"Connection: close", head)
        self.assertEqual(conn.send_data(b"abc") + conn.end_response(), b"abc")
        self.assertIs(conn.next_event(), CLOSED)

    def test_application_asks_to_close(self):
        for request in (GET, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"):
            req, out, close, after = self.respond(request, [("Connection", "close")])
            self.assertEqual((close, after), (True, CLOSED))
            self.assertEqual(out.count(b"Connection"), 1)


class PipeliningTest(unittest.TestCase):
    PAIR = post(b"<a/>") + GET

    def run_split(self, pieces):
        conn = HttpConnection()
        requests, outputs = [], []
        for piece in pieces:
            if not piece:
                continue
            conn.receive(piece)
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                requests.append(event)
                self.assertIs(conn.next_event(), NEED_DATA)  # the next one waits for our answer
                outputs.append(conn.start_response(200, [], 2) + conn.send_data(b"ok") + conn.end_response())
        self.assertEqual([(r.method, r.body) for r in requests], [("POST", b"<a/>"), ("GET", b"")])
        self.assertEqual(outputs, [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] * 2)

    def test_every_split_point(self):
        for cut in range(len(self.PAIR) + 1):
            self.run_split([self.PAIR[:cut], self.PAIR[cut:]])

    def test_byte_by_byte(self):
        self.run_split([self.PAIR[i:i + 1] for i in range(len(self.PAIR))])

    def test_second_request_waits_for_end_response(self):
        conn = HttpConnection()
        conn.receive(self.PAIR)
        self.assertEqual(conn.next_event().method, "POST")
        conn.start_response(200, [], None)
        self.assertIs(conn.next_event(), NEED_DATA)
        conn.send_data(b"x")
        self.assertIs(conn.next_event(), NEED_DATA)
        conn.end_response()
        self.assertEqual(conn.next_event().method, "GET")

    def test_many_pipelined_in_one_read(self):
        result = parse(GET * 50 + post(b"z") * 50, eof=True)
        self.assertEqual(len(result), 101)
        self.assertIs(result[-1], CLOSED)


class BufferedTest(unittest.TestCase):
    """`buffered` tells the server whether a request is part-way in (its deadline runs)."""

    def test_tracks_unanswered_request_bytes(self):
        conn = HttpConnection()
        self.assertFalse(conn.buffered)
        conn.receive(GET[:5])
        self.assertIs(conn.next_event(), NEED_DATA)
        self.assertTrue(conn.buffered)
        conn.receive(GET[5:])
        conn.next_event()
        self.assertFalse(conn.buffered)
        conn.receive(GET[:5])  # a pipelined request starts arriving
        self.assertTrue(conn.buffered)

    def test_body_still_owed_counts(self):
        conn = HttpConnection()
        data = post(b"<a/>")
        conn.receive(data[:-2])
        self.assertIs(conn.next_event(), NEED_DATA)
        self.assertTrue(conn.buffered)


class ResponseTest(unittest.TestCase):
    def ready(self, data=GET):
        conn = HttpConnection()
        conn.receive(data)
        conn.next_event()
        return conn

    def test_chunked_framing(self):
        conn = self.ready()
        out = conn.start_response(200, [("Content-Type", "text/plain")])
        out += conn.send_data(b"hello") + conn.send_data(b"") + conn.send_data(b"x" * 26) + conn.end_response()
        self.assertEqual(out, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"5\r\nhello\r\n1a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n")

    def test_no_content(self):
        conn = self.ready()
        self.assertEqual(conn.start_response(204, []) + conn.end_response(), b"HTTP/1.1 204 No Content\r\n\r\n")

    def test_unknown_status_has_empty_reason(self):
        self.assertTrue(self.ready().start_response(299, [], 0).startswith(b"HTTP/1.1 299 \r\n"))

    def test_misuse_is_local_error(self):
        conn = HttpConnection()
        self.assertRaises(LocalProtocolError, conn.start_response, 200, [], 0)
        conn = self.ready()
        self.assertRaises(LocalProtocolError, conn.send_data, b"x")
        self.assertRaises(LocalProtocolError, conn.start_response, 100, [])
        self.assertRaises(LocalProtocolError, conn.start_response, 200, [("Content-Length", "1")])
        self.assertRaises(LocalProtocolError, conn.start_response, 200, [("X", "a\r\nY: b")])
        conn.start_response(200, [], 2)
        self.assertRaises(LocalProtocolError, conn.start_response, 200, [], 0)
        self.assertRaises(LocalProtocolError, conn.send_data, b"abc")
        self.assertRaises(LocalProtocolError, conn.end_response)
        conn = HttpConnection()
        conn.receive(b"")
        self.assertRaises(LocalProtocolError, conn.receive, b"x")

    def test_error_response(self):
        conn = HttpConnection()
        conn.receive(b"PUT / HTTP/1.1\r\nHost: d\r\n\r\n")
        with self.assertRaises(HttpError) as cm:
            conn.next_event()
        out = conn.error_response(cm.exception)
        head, body = out.split(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"))
        self.assertIn(b"\r\nAllow: GET, POST\r\n", head + b"\r\n")
        self.assertIn(b"\r\nConnection: close", head)
        self.assertIn(b"\r\nContent-Length: %d" % len(body), head)
        self.assertTrue(conn.must_close)
        conn.receive(GET)  # dropped: the connection is closing
        self.assertIs(conn.next_event(), CLOSED)
        self.assertEqual(conn._buf, b"")

    def test_error_response_hides_internal_errors(self):
        conn = self.ready()
        out = conn.error_response(KeyError("/secret/path"))
        self.assertTrue(out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"))
        self.assertFalse(b"secret" in out)

    def test_error_response_after_head_sent_is_empty(self):
        conn = self.ready()
        conn.start_response(200, [])
        self.assertEqual(conn.error_response(RuntimeError("late")), b"")
        self.assertTrue(conn.must_close)


class ResponseStreamTest(unittest.TestCase):
    def stream(self, request, chunks, buffer_size=16):
        conn = HttpConnection()
        conn.receive(request)
        conn.next_event()
        sent = []
        stream = ResponseStream(conn, 200, [("Content-Type", "text/xml")], sent.append, buffer_size)
        for chunk in chunks:
            stream.write(chunk)
        stream.close()
        return conn, sent

    def test_small_body_gets_content_length_in_one_send(self):
        for body in ([b"abc", b"", b"def"], [b"x" * 16]):
            conn, sent = self.stream(GET, body)
            data = b"".join(body)
            self.assertEqual(sent, [b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                                    % len(data) + data])
            self.assertFalse(conn.must_close)

    def test_large_body_is_chunked_in_buffer_sized_pieces(self):
        conn, sent = self.stream(GET, [b"ab"] * 20)  # 40 bytes, 16-byte buffer
        self.assertEqual(sent[0], b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked"
                                  b"\r\n\r\n12\r\n" + b"ab" * 9 + b"\r\n")
        self.assertEqual(sent[1:], [b"12\r\n" + b"ab" * 9 + b"\r\n", b"4\r\nabab\r\n", b"0\r\n\r\n"])
        self.assertFalse(conn.must_close)
        self.assertIs(conn.next_event(), NEED_DATA)

    def test_one_past_buffer_switches_to_chunked(self):
        conn, sent = self.stream(GET, [b"x" * 17])
        self.assertIn(b"Transfer-Encoding: chunked", sent[0])
        self.assertEqual(sent[-1], b"0\r\n\r\n")

    def test_http10_large_body_is_close_delimited(self):
        conn, sent = self.stream(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", [b"x" * 40])
        self.assertEqual(sent, [b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close"
                                b"\r\n\r\n" + b"x" * 40])
        self.assertTrue(conn.must_close)

    def test_http10_small_body_keeps_alive(self):
        conn, sent = self.stream(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", [b"x" * 3])
        self.assertIn(b"Content-Length: 3\r\nConnection: keep-alive\r\n", sent[0])
        self.assertFalse(conn.must_close)


class FuzzTest(unittest.TestCase):
    """Any input yields events or HttpError: never IndexError, ValueError or UnicodeError."""

    SEEDS = (post(b"<s:Envelope/>"), GET, ChunkedBodyTest.HEAD + ChunkedBodyTest.BODY,
             b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n")
    ALPHABET = b"\r\n\r\n\r\n :;,\t\x00\x7f\xe9\xc3\x800123456789abcdefABCDEF-GETPOSTHTP/1.chunked"

    def run_input(self, rng, data):
        conn = HttpConnection(max_head=256, max_body=256, max_headers=8)
        step = 1 + rng.below(len(data) + 1)
        try:
            for i in range(0, len(data), step):
                conn.receive(data[i:i + step])
                conn.pending_output()
                drain(conn)
            conn.receive(b"")
            drain(conn)
        except HttpError as exc:
            self.assertIn(exc.status, (400, 405, 411, 413, 414, 415, 431, 501, 505))
            self.assertTrue(conn.error_response(exc).startswith(b"HTTP/1.1 %d " % exc.status))

    def test_random_bytes(self):
        rng = Rng(1)
        for _ in range(1000):
            self.run_input(rng, rng.bytes(rng.below(300), self.ALPHABET))
        for _ in range(300):
            self.run_input(rng, rng.bytes(rng.below(300), bytes(range(256))))

    def test_mutated_requests(self):
        rng = Rng(2)
        for _ in range(2000):
            data = bytearray(self.SEEDS[rng.below(len(self.SEEDS))] * (1 + rng.below(2)))
            for _ in range(1 + rng.below(4)):
                at = rng.below(len(data))
                op = rng.below(3)
                if op == 0:
                    data[at] = self.ALPHABET[rng.below(len(self.ALPHABET))]
                elif op == 1:
                    data = data[:at] + rng.bytes(1 + rng.below(3), self.ALPHABET) + data[at:]
                else:
                    data = data[:at] + data[at + 1 + rng.below(4):]
            self.run_input(rng, bytes(data))


if __name__ == "__main__":
    unittest.main()
