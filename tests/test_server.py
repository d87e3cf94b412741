"""The loop's HTTP server over real loopback sockets: bad clients never stall good ones.

A socket timeout on the good client is the hang detector; no test asserts a wall-clock time.
"""

import socket
import threading
import time

import pytest

from agent import log
from agent.app import build_app
from agent.device import Device
from agent.loop import Loop
from agent.server import HttpServer
from agent.settings import Settings
from tests import schema
from tests.soapclient import envelope, http_request, split_response
from tests.support import Quiet

HANG = 5.0  # seconds after which a client that got no answer counts as stalled


@pytest.fixture
def server():
    """An in-process server with short deadlines, its loop on a background thread."""
    log.set_stream(Quiet())
    loop = Loop()
    loop.enable_wakeup()
    app = build_app(Device({"name": "t", "hal": "sim"}, Settings(), hostname=lambda: "h"))
    srv = HttpServer(loop, app, bind="127.0.0.1", port=0, request_timeout_ms=1500,
                     idle_timeout_ms=1500, send_timeout_ms=1500, max_connections=64)
    srv.start()
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    yield srv
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    srv.close()
    loop.close()
    log.set_stream(None)


def connect(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=HANG)
    return s


_buffers = {}


def read_response(sock):
    """Read exactly one HTTP response, keeping what follows it for the next call."""
    data = _buffers.pop(sock, b"")
    while True:
        response, rest = split_response(data)
        if response is not None:
            _buffers[sock] = rest
            return response
        chunk = sock.recv(65536)
        if not chunk:
            return split_response(data, eof=True)[0]
        data += chunk


def good_request(server):
    """A fresh client's GetSystemDateAndTime, which must be answered well within HANG."""
    with connect(server) as s:
        s.sendall(http_request("/onvif/device_service", envelope("<tds:GetSystemDateAndTime/>")))
        r = read_response(s)
    assert r.status == 200
    schema.validate_envelope(r.body)
    return r


def test_request_over_a_real_socket(server):
    assert good_request(server).body_child.name == "GetSystemDateAndTimeResponse"


def test_malformed_xml_gets_its_fault_and_the_connection_stays_usable(server):
    with connect(server) as s:
        s.sendall(http_request("/onvif/device_service", b"<s:Envelope><oops"))
        r = read_response(s)
        assert r.status == 400 and r.fault() == ("Sender", ["WellFormed"])
        schema.validate_envelope(r.body)
        s.sendall(http_request("/onvif/device_service", envelope("<tds:GetHostname/>")))
        assert read_response(s).status == 200


def test_ten_megabyte_body_is_refused_before_reading_it(server):
    with connect(server) as s:
        s.sendall(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/soap+xml\r\nContent-Length: 10485760\r\n\r\n")
        s.sendall(b"<" * 65536)
        good_request(server)
        assert read_response(s).status == 413


def test_ten_megabyte_chunked_body_is_cut_off(server):
    with connect(server) as s:
        s.sendall(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
        try:
            for _ in range(10):
                s.sendall(chunk)
        except OSError:
            pass  # the server closed on us, as it should
        good_request(server)
        assert read_response(s).status == 413


def test_a_client_sending_one_byte_per_second_is_dropped(server):
    request = http_request("/onvif/device_service", envelope("<tds:GetHostname/>"))
    outcome = []

    def slow():
        with connect(server) as s:
            try:
                for byte in request:
                    s.sendall(bytes([byte]))
                    time.sleep(1.0)
            except OSError:
                outcome.append("dropped")
                return
            outcome.append("finished")
    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    good_request(server)  # served while the slow client dribbles
    thread.join(30)
    assert outcome == ["dropped"]


def test_three_hundred_idle_connections_do_not_lock_out_a_client(server):
    idle = [connect(server) for _ in range(300)]
    try:
        good_request(server)
        assert len(server.connections) <= server.max_connections
    finally:
        for s in idle:
            s.close()


def test_idle_connections_expire(server):
    idle = [connect(server) for _ in range(10)]
    try:
        deadline = time.monotonic() + 10
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.connections == []
        for s in idle:
            assert s.recv(1) == b""  # closed by the server
    finally:
        for s in idle:
            s.close()


def test_a_client_that_never_reads_is_bounded_and_dropped(server):
    request = http_request("/onvif/device_service", envelope("<tds:GetServices>"
                           "<tds:IncludeCapability>true</tds:IncludeCapability>"
                           "</tds:GetServices>"))
    with connect(server) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            for _ in range(2000):
                s.sendall(request)
        except OSError:
            pass  # dropped for not reading: fine
        good_request(server)
        queued = sum(c.pending for c in server.connections)
        assert queued <= server.max_pending_output + 16384


def test_pipelined_requests_are_answered_in_order(server):
    names = ["GetHostname", "GetWsdlUrl", "GetEndpointReference"]
    with connect(server) as s:
        s.sendall(b"".join(http_request("/onvif/device_service", envelope("<tds:%s/>" % n))
                           for n in names))
        got = [read_response(s).body_child.name for _ in names]
    assert got == [n + "Response" for n in names]


def defer_get_hostname(server, after_ms=None):
    """Make GetHostname answer through a Deferred: resolved by a loop timer `after_ms` later,
    or never (None). Returns the list of cancellations observed."""
    service = server.app.by_path["/onvif/device_service"]
    real = service.GetHostname
    cancelled = []

    def later(body, ctx):
        from agent.replies import Deferred
        answer = Deferred(on_cancel=lambda: cancelled.append(1))
        if after_ms is not None:
            server.loop.call_later(after_ms, lambda: answer.resolve(real(body, ctx)))
        return answer
    service.GetHostname = later
    return cancelled


def test_a_deferred_answer_outlives_the_connection_deadlines(server):
    defer_get_hostname(server, after_ms=2500)  # beyond the 1.5 s request and idle deadlines
    with connect(server) as s:
        s.sendall(http_request("/onvif/device_service", envelope("<tds:GetHostname/>")) +
                  http_request("/onvif/device_service", envelope("<tds:GetSystemDateAndTime/>")))
        good_request(server)  # the loop keeps serving others meanwhile
        first = read_response(s)
        assert first.status == 200 and first.body_child.name == "GetHostnameResponse"
        schema.validate_envelope(first.body)
        second = read_response(s)
        assert second.body_child.name == "GetSystemDateAndTimeResponse", "pipelined, in order"


def test_a_client_leaving_while_its_answer_is_pending_cancels_it(server):
    cancelled = defer_get_hostname(server)
    with connect(server) as s:
        s.sendall(http_request("/onvif/device_service", envelope("<tds:GetHostname/>")))
        time.sleep(0.2)
    deadline = time.monotonic() + HANG
    while not cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cancelled == [1]
    good_request(server)


def _no_such_method(sock):
    raise AttributeError("getsockname")  # as on MicroPython's esp32 and rp2 sockets


def test_sockets_that_cannot_tell_their_own_address(server, monkeypatch):
    """MicroPython boards' sockets have no getsockname: a request without Host then gets XAddrs
    on the address and port the server bound."""
    monkeypatch.setattr(socket.socket, "getsockname", property(_no_such_method))
    body = envelope("<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability>"
                    "</tds:GetServices>")
    with connect(server) as s:
        s.sendall(b"POST /onvif/device_service HTTP/1.0\r\nContent-Type: application/soap+xml"
                  b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        r = read_response(s)
    assert r.status == 200, r.body
    tds = "http://www.onvif.org/ver10/device/wsdl"
    xaddrs = [service.findtext(tds, "XAddr") for service in r.body_child.findall(tds, "Service")]
    assert xaddrs and all(x.startswith("http://127.0.0.1:%d/" % server.port) for x in xaddrs), xaddrs
