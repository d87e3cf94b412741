"""agent.http against independent implementations (CPython only): h11 and http.client.

Requests rendered by h11's client and by http.client must parse exactly as h11's own server
parses them; responses we frame must parse in h11's client and in http.client; and on mutated
requests that both h11 and we accept, both must read the same request.
"""

import http.client
import io
import random

import h11
import pytest

from agent.http import CLOSED, NEED_DATA, HttpConnection, HttpError, Request, ResponseStream

SOAP = b"application/soap+xml; charset=utf-8"
ENVELOPE = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>'


def ours(data):
    """All requests our parser reads from `data` (answering each so the next one is read)."""
    conn = HttpConnection()
    conn.receive(data)
    requests = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is CLOSED:
            return requests
        requests.append((event.method, event.target, event.version, event.headers, event.body))
        conn.start_response(200, [], 0)
        conn.end_response()


def h11_server(data):
    """The same, read by h11's server side (raising h11.RemoteProtocolError)."""
    return h11_server_reads(data, [])


def h11_server_reads(data, requests):
    """Appends to `requests` what h11's server side reads from `data` before any error."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    current = body = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            if conn.their_state is h11.DONE and conn.our_state is h11.SEND_RESPONSE:
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()
                continue
            return requests
        if isinstance(event, h11.Request):
            current, body = event, []
        elif isinstance(event, h11.Data):
            body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            headers = [(k.decode("ascii"), v.decode("latin-1")) for k, v in current.headers]
            requests.append((current.method.decode("ascii"), current.target.decode("ascii"),
                             "HTTP/" + current.http_version.decode("ascii"), headers, b"".join(body)))
        elif isinstance(event, h11.ConnectionClosed):
            return requests


def h11_client_bytes(method, target, headers, chunks=()):
    conn = h11.Connection(h11.CLIENT)
    out = conn.send(h11.Request(method=method, target=target, headers=headers))
    for chunk in chunks:
        out += conn.send(h11.Data(data=chunk))
    return out + conn.send(h11.EndOfMessage())


class FakeSocket:
    """Captures what http.client sends and serves it a canned response."""

    def __init__(self, response=b""):
        self.sent = bytearray()
        self.response = response

    def sendall(self, data):
        self.sent += data

    def makefile(self, mode, *args, **kwargs):
        return io.BytesIO(self.response)

    def close(self):
        pass


def http_client_bytes(method, target, body=None, headers=None, chunked=False):
    conn = http.client.HTTPConnection("dev.example", 8080)
    conn.sock = FakeSocket()
    conn.request(method, target, body=body, headers=headers or {}, encode_chunked=chunked)
    return bytes(conn.sock.sent)


H11_REQUESTS = [
    ("GET", "/onvif/device_service", [("Host", "dev")], ()),
    ("POST", "/onvif/device_service", [("Host", "dev"), ("Content-Type", SOAP),
                                       ("Content-Length", str(len(ENVELOPE)))], (ENVELOPE,)),
    ("POST", "/onvif/events", [("Host", "dev:80"), ("Content-Type", b"text/xml"),
                               ("Transfer-Encoding", "chunked"), ("X-Obs", b"caf\xe9")],
     (ENVELOPE[:10], ENVELOPE[10:], b"x" * 5000)),
    ("GET", "http://dev/onvif/device_service?x=1", [("Host", "dev"), ("Connection", "close")], ()),
]


@pytest.mark.parametrize("method,target,headers,chunks", H11_REQUESTS)
def test_h11_client_requests_parse_like_h11_server(method, target, headers, chunks):
    data = h11_client_bytes(method, target, headers, chunks)
    parsed = ours(data)
    assert parsed == h11_server(data)
    assert parsed[0][4] == b"".join(chunks)


@pytest.mark.parametrize("method,body,headers,chunked", [
    ("GET", None, {}, False),
    ("POST", ENVELOPE, {"Content-Type": SOAP.decode()}, False),
    ("POST", [ENVELOPE[:7], ENVELOPE[7:]], {"Content-Type": "text/xml"}, True),
    ("POST", b"", {"Content-Type": "text/xml", "Expect": "100-continue"}, False),
])
def test_http_client_requests_parse_like_h11_server(method, body, headers, chunked):
    data = http_client_bytes(method, "/onvif/device_service", body, headers, chunked)
    parsed = ours(data)
    assert parsed == h11_server(data)
    assert parsed[0][4] == (b"".join(body) if isinstance(body, list) else body or b"")


def respond(request_bytes, status, headers, body_pieces, content_length):
    conn = HttpConnection()
    conn.receive(request_bytes)
    assert isinstance(conn.next_event(), Request)
    out = conn.start_response(status, headers, content_length)
    for piece in body_pieces:
        out += conn.send_data(piece)
    return out + conn.end_response()


def h11_client_reads(request_bytes, response_bytes):
    """Status, headers and body of `response_bytes` as h11's client sees them."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "dev")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(response_bytes)
    if request_bytes.startswith(b"GET / HTTP/1.0") or b"Connection: close" in response_bytes:
        conn.receive_data(b"")
    response, body = None, b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return response.status_code, dict(response.headers), body
        else:
            raise AssertionError(event)


def http_client_reads(method, response_bytes):
    response = http.client.HTTPResponse(FakeSocket(response_bytes), method=method)
    response.begin()
    return response.status, response.getheader("Content-Type"), response.read()


GET11 = b"GET / HTTP/1.1\r\nHost: dev\r\n\r\n"


@pytest.mark.parametrize("pieces,content_length", [
    ([ENVELOPE], len(ENVELOPE)),  # Content-Length
    ([ENVELOPE[:3], b"", ENVELOPE[3:], b"y" * 70000], None),  # chunked
    ([], 0),
    ([], None),
])
def test_our_responses_parse_in_h11_and_http_client(pieces, content_length):
    body = b"".join(pieces)
    if content_length is not None:
        content_length = len(body)
    out = respond(GET11, 200, [("Content-Type", "application/soap+xml")], pieces, content_length)
    status, headers, got = h11_client_reads(GET11, out)
    assert (status, got) == (200, body)
    assert headers[b"content-type"] == b"application/soap+xml"
    assert http_client_reads("GET", out) == (200, "application/soap+xml", body)


def test_http10_close_delimited_response_parses():
    request = b"GET / HTTP/1.0\r\n\r\n"
    out = respond(request, 200, [("Content-Type", "text/xml")], [b"abc", b"def"], None)
    assert h11_client_reads(request, out)[2] == b"abcdef"
    assert http_client_reads("GET", out) == (200, "text/xml", b"abcdef")


@pytest.mark.parametrize("size", [0, 100, 4096, 4097, 50000])
def test_response_stream_output_parses(size):
    conn = HttpConnection()
    conn.receive(GET11)
    conn.next_event()
    sent = []
    stream = ResponseStream(conn, 200, [("Content-Type", "text/xml")], sent.append)
    body = bytes(i % 251 for i in range(size))
    for i in range(0, size, 333):
        stream.write(body[i:i + 333])
    stream.close()
    out = b"".join(sent)
    assert (b"Transfer-Encoding: chunked" in out) == (size > 4096)
    assert h11_client_reads(GET11, out)[2] == body
    assert http_client_reads("GET", out)[2] == body


def test_error_response_parses():
    conn = HttpConnection()
    conn.receive(b"PUT / HTTP/1.1\r\nHost: dev\r\n\r\n")
    with pytest.raises(HttpError) as info:
        conn.next_event()
    out = conn.error_response(info.value)
    status, headers, body = h11_client_reads(GET11, out)
    assert status == 405 and headers[b"allow"] == b"GET, POST"
    assert http_client_reads("GET", out)[0] == 405


def test_continue_then_response_parse_in_h11():
    client = h11.Connection(h11.CLIENT)
    data = client.send(h11.Request(method="POST", target="/", headers=[
        ("Host", "dev"), ("Content-Type", "text/xml"), ("Content-Length", "3"),
        ("Expect", "100-continue")]))
    server = HttpConnection()
    server.receive(data)
    assert server.next_event() is NEED_DATA
    client.receive_data(server.pending_output())
    assert isinstance(client.next_event(), h11.InformationalResponse)
    server.receive(client.send(h11.Data(data=b"abc")) + client.send(h11.EndOfMessage()))
    assert server.next_event().body == b"abc"
    client.receive_data(server.start_response(200, [], 2) + server.send_data(b"ok") + server.end_response())
    assert client.next_event().status_code == 200


def mutate(rng, data):
    data = bytearray(data)
    alphabet = b"\r\n :;,\t\x00\xe9aZ09-/.HTP"
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data))
        op = rng.randrange(3)
        if op == 0:
            data[at] = rng.choice(alphabet)
        elif op == 1:
            data[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 4)))
        else:
            del data[at:at + rng.randrange(1, 4)]
    return bytes(data)


def test_differential_against_h11_on_mutated_requests():
    """Where both accept a request they must read it alike; we are never laxer than h11."""
    rng = random.Random(7)
    seeds = [h11_client_bytes(*args) for args in H11_REQUESTS[:3]]
    seeds.append(http_client_bytes("POST", "/x", [b"ab", b"cd"], {"Content-Type": "text/xml"}, True))
    both = 0
    for _ in range(3000):
        data = mutate(rng, rng.choice(seeds))
        try:
            mine = ours(data)
        except HttpError:
            continue
        theirs = []
        try:
            h11_server_reads(data, theirs)
        except h11.RemoteProtocolError:
            pass  # h11 may refuse trailing bytes that we still wait on: compare what both read
        assert mine == theirs[:len(mine)], data
        both += len(mine)
    assert both > 300
