"""HTTPS (issue 4, checklist 11): the device certificate, TLS on the selector loop, the CLI.

Real loopback sockets throughout. A socket timeout on a good client is the hang detector; no test
asserts a wall-clock time.
"""

import datetime
import ipaddress
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from agent import cli, log, tls
from agent.app import build_app
from agent.device import Device
from agent.loop import Loop
from agent.server import HttpServer
from agent.settings import Settings
from tests import schema
from tests.agentproc import AgentProcess
from tests.soapclient import SOAP_TYPE, envelope, http_request, split_response
from tests.test_cli import assert_one_line_error, run

HANG = 5.0  # seconds after which a client that got no answer counts as stalled
GET_TIME = envelope("<tds:GetSystemDateAndTime/>")
GET_SERVICES = envelope("<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability>"
                        "</tds:GetServices>")


class Lines:
    """A log stream keeping every line, written from the loop's thread."""

    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.append(s)


def load_cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


# -- the device certificate --------------------------------------------------------------------

def test_device_certificate_is_made_once_with_a_private_key(tmp_path):
    directory = str(tmp_path / "tls")
    cert_path, key_path = tls.device_certificate(
        directory, "door-1", ["192.0.2.7", "127.0.0.1", "2001:db8::7", "fe80::7"])
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    cert = load_cert(cert_path)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["door-1", "door-1.local", "localhost"]
    # IPv6 too (clients reach the device over it); link-local left out (meaningless without
    # its zone).
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "192.0.2.7", "2001:db8::7")]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=3650)
    assert cert.not_valid_before_utc < datetime.datetime.now(datetime.timezone.utc)

    before = [open(p, "rb").read() for p in (cert_path, key_path)]
    assert tls.device_certificate(directory, "door-1", ["198.51.100.1"]) == (cert_path, key_path)
    assert [open(p, "rb").read() for p in (cert_path, key_path)] == before, "not regenerated"
    assert sorted(os.listdir(directory)) == ["cert.pem", "key.pem"], "no temporary file left"


def test_device_certificate_without_a_usable_host_name(tmp_path):
    cert_path, _ = tls.device_certificate(str(tmp_path), "not_a_dns_name", [])
    cert = load_cert(cert_path)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                       ipaddress.ip_address("::1")]


def test_an_expired_or_broken_pair_is_made_again(tmp_path):
    directory = str(tmp_path)
    cert_path, key_path = tls.device_certificate(directory, "h", [])
    first = load_cert(cert_path).serial_number
    tls.device_certificate(directory, "h", [], now=time.time() + 3651 * 86400)
    second = load_cert(cert_path).serial_number
    assert second != first
    with open(key_path, "wb") as f:  # a power loss between the two files: a mismatched key
        f.write(ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    tls.device_certificate(directory, "h", [])
    assert load_cert(cert_path).serial_number != second
    tls.server_context(cert_path, key_path)  # and the new pair matches


@pytest.mark.parametrize("year", [2049, 2050, 2100])  # UTCTime until 2049, then GeneralizedTime
def test_expiry_is_read_without_cryptography(year):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    end = datetime.datetime(year, 12, 31, 23, 59, 58, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime(2020, 1, 1)).not_valid_after(end)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert tls._not_after(pem) == end.timestamp()


def test_without_cryptography_https_is_off_with_one_log_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)  # `import cryptography` fails
    sink = Lines()
    log.set_stream(sink)
    try:
        assert cli.https_context({}, str(tmp_path)) == (None, None)
    finally:
        log.set_stream(None)
    assert len(sink.lines) == 1
    assert "HTTPS off" in sink.lines[0] and "cryptography" in sink.lines[0]
    assert not (tmp_path / "tls").exists()


# -- the server on a loop, in process --------------------------------------------------------

@pytest.fixture(scope="module")
def device_cert(tmp_path_factory):
    return tls.device_certificate(str(tmp_path_factory.mktemp("tls")), "agent-test",
                                  ["127.0.0.1"])


class Servers:
    def __init__(self, https, http, sink, cert):
        self.https, self.http, self.sink, self.cert = https, http, sink, cert

    def log(self):
        return "".join(self.sink.lines)


@pytest.fixture
def servers(device_cert):
    """HTTPS and HTTP servers on one loop with short deadlines, the loop on a thread."""
    sink = Lines()
    log.set_stream(sink)
    loop = Loop()
    loop.enable_wakeup()
    app = build_app(Device({"name": "t", "hal": "sim"}, Settings(), hostname=lambda: "h"))
    limits = dict(bind="127.0.0.1", port=0, request_timeout_ms=1500, idle_timeout_ms=1500,
                  send_timeout_ms=1500)
    https = HttpServer(loop, app, tls_context=tls.server_context(*device_cert), **limits)
    http = HttpServer(loop, app, **limits)
    https.start()
    http.start()
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    yield Servers(https, http, sink, device_cert[0])
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    https.close()
    http.close()
    loop.close()
    log.set_stream(None)


def client_context(servers):
    """A client trusting the device certificate and checking its IP SAN (check_hostname)."""
    return ssl.create_default_context(cafile=servers.cert)


def tls_connect(servers, context=None):
    raw = socket.create_connection(("127.0.0.1", servers.https.port), timeout=HANG)
    try:
        return (context or client_context(servers)).wrap_socket(raw, server_hostname="127.0.0.1")
    except BaseException:
        raw.close()
        raise


def read_responses(sock, count):
    data, got = b"", []
    while len(got) < count:
        response, data = split_response(data)
        if response is not None:
            got.append(response)
            continue
        chunk = sock.recv(65536)
        assert chunk, "closed after %d responses" % len(got)
        data += chunk
    return got


def ask(sock, body=GET_TIME):
    sock.sendall(http_request("/onvif/device_service", body))
    response = read_responses(sock, 1)[0]
    assert response.status == 200
    schema.validate_envelope(response.body)
    return response


def client_hello():
    """The bytes of a real TLS ClientHello, made without a socket."""
    outgoing = ssl.MemoryBIO()
    hello = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing,
                                                  server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        hello.do_handshake()
    return outgoing.read()


def test_get_system_date_and_time_over_tls(servers):
    with tls_connect(servers) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
        assert ask(s).body_child.name == "GetSystemDateAndTimeResponse"


def test_xaddrs_over_tls_are_https(servers):
    with tls_connect(servers) as s:
        body = ask(s, GET_SERVICES).body
    addrs = re.findall(rb"XAddr>([^<]+)<", body)
    assert addrs and all(a.startswith(b"https://device.test:8080/") for a in addrs)


def test_keep_alive_and_pipelining_over_tls(servers):
    names = ["GetHostname", "GetWsdlUrl", "GetEndpointReference"]
    with tls_connect(servers) as s:
        ask(s)
        # Three requests in one write arrive in one TLS record: all must be decrypted and answered.
        s.sendall(b"".join(http_request("/onvif/device_service", envelope("<tds:%s/>" % n))
                           for n in names))
        got = [r.body_child.name for r in read_responses(s, 3)]
        assert got == [n + "Response" for n in names]
        ask(s)


def test_tls_1_2_with_aead_suites_only(servers):
    context = client_context(servers)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(servers, context) as s:
        assert s.version() == "TLSv1.2" and "GCM" in s.cipher()[0]
        ask(s)
    context.set_ciphers("ECDHE+AES128+SHA1:AES128-SHA")  # CBC and RSA key exchange (Core 2.x)
    with pytest.raises(ssl.SSLError):
        tls_connect(servers, context)
    with tls_connect(servers) as s:
        ask(s)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_1_client_is_refused(servers):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this OpenSSL offer TLS 1.1 at all
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        tls_connect(servers, context)
    # The ClientHello reached the server, which refused it (not the client refusing to send).
    assert "UNSUPPORTED_PROTOCOL" in servers.log()
    with tls_connect(servers) as s:
        ask(s)


def test_stalled_handshakes_are_dropped_while_others_are_served(servers):
    hello = client_hello()
    silent = socket.create_connection(("127.0.0.1", servers.https.port), timeout=HANG)
    half = socket.create_connection(("127.0.0.1", servers.https.port), timeout=HANG)
    try:
        half.sendall(hello[:len(hello) // 2])
        with tls_connect(servers) as s:
            ask(s)
        with socket.create_connection(("127.0.0.1", servers.http.port), timeout=HANG) as s:
            ask(s)
        assert silent.recv(1) == b""  # dropped at the handshake deadline, before HANG
        assert half.recv(1) == b""
    finally:
        silent.close()
        half.close()
    assert "TLS handshake not complete in time" in servers.log()


@pytest.mark.parametrize("garbage", [bytes(range(256)) * 4, http_request("/", GET_TIME)],
                         ids=["bytes", "plain-http"])
def test_garbage_instead_of_a_client_hello_is_closed(servers, garbage):
    with socket.create_connection(("127.0.0.1", servers.https.port), timeout=HANG) as s:
        s.sendall(garbage)
        try:
            while s.recv(4096):
                pass  # at most an alert record, then the end
        except ConnectionResetError:
            pass  # closed with part of the garbage unread: as good as an end
    assert "TLS handshake with" in servers.log()
    with tls_connect(servers) as s:
        ask(s)


def test_fifty_concurrent_handshakes_all_complete(servers):
    count = 50
    barrier = threading.Barrier(count)
    context = client_context(servers)
    outcome = []

    def client():
        raw = socket.create_connection(("127.0.0.1", servers.https.port), timeout=HANG * 2)
        try:
            barrier.wait(HANG)  # every TCP connection is up: the handshakes overlap
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                ask(s)
            outcome.append("ok")
        except Exception as exc:
            outcome.append(repr(exc))
            raw.close()
    threads = [threading.Thread(target=client) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == ["ok"] * count


# -- the real agent process ------------------------------------------------------------------

@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    with AgentProcess(state) as proc:
        proc.cert = str(state / "tls" / "cert.pem")
        yield proc


def post(url, body, cert):
    r = requests.post(url, data=body, headers={"Content-Type": SOAP_TYPE}, verify=cert,
                      timeout=HANG)
    assert r.status_code == 200
    schema.validate_envelope(r.content)
    return r


def test_agent_serves_https_with_its_device_certificate(agent):
    assert agent.https_url.startswith("https://127.0.0.1:%d/" % agent.https_port)
    assert b"GetSystemDateAndTimeResponse" in post(agent.https_url, GET_TIME, agent.cert).content
    addrs = re.findall(rb"XAddr>([^<]+)<", post(agent.https_url, GET_SERVICES, agent.cert).content)
    assert addrs and all(a.startswith(b"https://127.0.0.1:%d/" % agent.https_port)
                         for a in addrs)
    plain = requests.post(agent.url, data=GET_SERVICES, headers={"Content-Type": SOAP_TYPE},
                          timeout=HANG).content
    assert re.findall(rb"XAddr>([^<]+)<", plain)[0].startswith(b"http://127.0.0.1:%d/"
                                                               % agent.port)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_over_https(agent):
    out = subprocess.run(["curl", "-s", "--http1.1", "--max-time", str(HANG), "--cacert",
                          agent.cert, "-H", "Content-Type: " + SOAP_TYPE, "--data-binary", "@-",
                          agent.https_url], input=GET_TIME, capture_output=True, check=True)
    assert b"GetSystemDateAndTimeResponse" in out.stdout
    schema.validate_envelope(out.stdout)


def make_rsa_pair(directory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "user-supplied")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "user.crt", directory / "user.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert, str(cert_path), str(key_path)


def test_user_supplied_rsa_certificate_is_served_as_given(tmp_path):
    cert, cert_path, key_path = make_rsa_pair(tmp_path)
    state = tmp_path / "state"
    with AgentProcess(state, "--tls-cert", cert_path, "--tls-key", key_path) as proc:
        served = ssl.get_server_certificate(("127.0.0.1", proc.https_port), timeout=HANG)
        assert ssl.PEM_cert_to_DER_cert(served) == cert.public_bytes(serialization.Encoding.DER)
        post(proc.https_url, GET_TIME, cert_path)  # ECDHE-RSA with AEAD
    assert not (state / "tls").exists(), "no device certificate made"


def test_https_off_and_without_cryptography(tmp_path):
    with AgentProcess(tmp_path / "a", "--https-port", "off") as proc:
        assert proc.https_url is None
    blocker = tmp_path / "blocker" / "cryptography"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    proc = AgentProcess(tmp_path / "b", env={"PYTHONPATH": str(blocker.parent)})
    try:
        assert proc.https_url is None
        post(proc.url, GET_TIME, None)
    finally:
        status, stderr = proc.stop()
    assert status == 0
    off = [line for line in stderr.splitlines() if "HTTPS off" in line]
    assert len(off) == 1 and "cryptography" in off[0], stderr


@pytest.mark.parametrize("args,word", [
    (["--https-port", "secure"], "--https-port"),
    (["--tls-cert", "x.pem"], "--tls-key"),
    (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "/nonexistent.pem"),
])
def test_bad_tls_options(args, word, tmp_path):
    assert_one_line_error(run("--state-dir", str(tmp_path), "--http-port", "0", *args), word)


def test_busy_https_port(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        assert_one_line_error(run("--state-dir", str(tmp_path), "--bind", "127.0.0.1",
                                  "--http-port", "0", "--https-port", str(port)), str(port))
