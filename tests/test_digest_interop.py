"""agent.digest against real clients (CPython only): requests' HTTPDigestAuth and curl --digest.

A small http.server on 127.0.0.1 answers 401 with DigestAuth's challenges and checks every
Authorization header with DigestAuth.verify, so the headers these clients actually build (quoting,
parameter order, nc, uri with a query) are what is verified.

Measured with curl 7.88.1: offered SHA-256 then MD5 (our order), curl answers the first challenge
(SHA-256) and reports "Ignoring duplicate digest auth header" for the second. requests 2.x joins
the two headers into one and its parser keeps the last value of each parameter, so it answers MD5.
"""

import http.server
import shutil
import subprocess
import threading

import pytest
import requests
from requests.auth import HTTPDigestAuth

from agent.digest import DigestAuth, DigestFailure
from tests.support import Clock

REALM = "onvif-agent@urn:uuid:5f0c8d1e-0000-4000-8000-000000000001"
USERS = {"admin": "pa55word", "op": 'with "quotes" and \\ and spaces'}
PATH = "/onvif/device_service"
CURL = shutil.which("curl")


class DigestServer:
    """http.server answering through DigestAuth; `seen` logs (algorithm, nc, outcome) per try."""

    def __init__(self, offer=("SHA-256", "MD5"), **options):
        self.clock = Clock(1000.0)
        self.auth = DigestAuth(USERS.get, realm=REALM, secret=b"interop-test-secret-32-bytes....",
                               clock=self.clock, **options)
        self.offer = offer
        self.seen = []
        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def answer(self, method, target, authorization):
        """(status, headers, body) for one request."""
        with self.lock:
            stale = False
            if authorization is not None:
                algorithm = _param(authorization, "algorithm") or "MD5"
                try:
                    user = self.auth.verify(method, target, authorization)
                except DigestFailure as failure:
                    self.seen.append((algorithm, _param(authorization, "nc"), failure.reason))
                    stale = failure.stale
                else:
                    self.seen.append((algorithm, _param(authorization, "nc"), "ok"))
                    return 200, [], ("hello %s" % user).encode()
            headers = [h for h in self.auth.challenges(stale)
                       if any("algorithm=%s," % a in h[1] for a in self.offer)]
            return 401, headers, b"authenticate"

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, headers, body = server.answer(self.command, self.path,
                                                      self.headers.get("Authorization"))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = handle_one

            def log_message(self, *args):
                pass

        return Handler


def _param(header, name):
    """A parameter's value in a client's Authorization header, unquoted (no escapes needed here)."""
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.split()[-1:] == [name]:
            return value.strip('"')
    return None


@pytest.fixture
def serve():
    servers = []

    def start(**options):
        servers.append(DigestServer(**options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# --- requests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("offer", [("MD5",), ("SHA-256",)])
def test_requests_each_algorithm(serve, offer):
    server = serve(offer=offer)
    with requests.Session() as session:
        reply = session.get(server.url + PATH, auth=HTTPDigestAuth("admin", "pa55word"), timeout=10)
    assert reply.status_code == 200 and reply.text == "hello admin", server.seen
    assert server.seen == [(offer[0], "00000001", "ok")]


def test_requests_when_both_are_offered_answers_md5(serve):
    server = serve()
    reply = requests.get(server.url + PATH, auth=HTTPDigestAuth("admin", "pa55word"), timeout=10)
    assert reply.status_code == 200, server.seen
    assert server.seen == [("MD5", "00000001", "ok")]


def test_requests_post_with_query_and_awkward_password(serve):
    server = serve(offer=("SHA-256",))
    reply = requests.post(server.url + PATH + "?a=1&b=%20", data=b"<x/>" * 100,
                          auth=HTTPDigestAuth("op", USERS["op"]), timeout=10)
    assert reply.status_code == 200 and reply.text == "hello op", server.seen


def test_requests_reuses_the_nonce_with_growing_nc(serve):
    server = serve(offer=("MD5",))
    auth = HTTPDigestAuth("admin", "pa55word")
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(server.url + PATH, auth=auth, timeout=10).status_code == 200
    assert server.seen == [("MD5", "00000001", "ok"), ("MD5", "00000002", "ok"),
                           ("MD5", "00000003", "ok")]


def test_requests_recovers_from_a_stale_nonce(serve):
    server = serve(offer=("SHA-256",), nonce_lifetime_s=60)
    auth = HTTPDigestAuth("admin", "pa55word")
    with requests.Session() as session:
        assert session.get(server.url + PATH, auth=auth, timeout=10).status_code == 200
        server.clock.now += 61
        assert session.get(server.url + PATH, auth=auth, timeout=10).status_code == 200
    assert [outcome for _, _, outcome in server.seen] == ["ok", "nonce expired", "ok"]


def test_requests_wrong_password_is_refused(serve):
    server = serve(offer=("MD5",))
    reply = requests.get(server.url + PATH, auth=HTTPDigestAuth("admin", "nope"), timeout=10)
    assert reply.status_code == 401
    assert server.seen == [("MD5", "00000001", "wrong password")]


def test_requests_build_digest_header_directly():
    """requests' header builder fed our challenge, without any HTTP in between."""
    auth = DigestAuth(USERS.get, realm=REALM, secret=b"x" * 32, clock=Clock(1000.0))
    for index in (0, 1):  # SHA-256, then MD5, each with a nonce of its own
        offered = auth.challenges()[index]
        client = HTTPDigestAuth("admin", "pa55word")
        client.init_per_thread_state()
        client._thread_local.chal = requests.utils.parse_dict_header(offered[1][len("Digest "):])
        value = client.build_digest_header("POST", "http://device" + PATH)
        assert auth.verify("POST", PATH, value) == "admin"


# --- curl -------------------------------------------------------------------------------------

def curl(server, *args):
    if CURL is None:
        pytest.skip("curl is not installed: the end-to-end curl --digest checks did NOT run")
    return subprocess.run([CURL, "-sS", "-v", "--digest", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=30)


def test_curl_picks_the_first_challenge_sha256(serve):
    server = serve()
    proc = curl(server, "-u", "admin:pa55word", server.url + PATH)
    assert proc.returncode == 0 and proc.stdout == "hello admin", proc.stderr
    assert server.seen == [("SHA-256", "00000001", "ok")]
    assert "Ignoring duplicate digest auth header" in proc.stderr


@pytest.mark.parametrize("offer", [("MD5",), ("SHA-256",)])
def test_curl_post_each_algorithm(serve, offer):
    server = serve(offer=offer)
    proc = curl(server, "-u", "op:" + USERS["op"], "--data-binary", "<x/>",
                "-H", "Content-Type: application/soap+xml", server.url + PATH + "?q=1")
    assert proc.returncode == 0 and proc.stdout == "hello op", (proc.stderr, server.seen)
    assert server.seen == [(offer[0], "00000001", "ok")]


def test_curl_wrong_password(serve):
    server = serve()
    proc = curl(server, "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:nope",
                server.url + PATH)
    assert proc.stdout == "401", proc.stderr
    assert server.seen == [("SHA-256", "00000001", "wrong password")]
