"""In-memory SOAP client for portable tests: bytes into a real Session, responses parsed back.

Runs on both runtimes. Under pytest, tests/conftest.py adds the official-schema validator to
RESPONSE_CHECKS, so every SOAP response a portable test receives is also schema-checked there.
"""

from agent.session import Session
from agent.xmltree import parse

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"
TT = "http://www.onvif.org/ver10/schema"
TER = "http://www.onvif.org/ver10/error"
SOAP_TYPE = "application/soap+xml; charset=utf-8"

# Callables taking the raw body bytes of every SOAP response (filled in by tests/conftest.py).
RESPONSE_CHECKS = []

# A fixed clock for reproducible answers: 2026-11-21T10:20:30Z.
FIXED_NOW = 1795256430


def envelope(body, header=""):
    """A SOAP 1.2 request around `body` (XML text using the tds/tmd/tev/tt prefixes)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<s:Envelope xmlns:s="%s" xmlns:tds="%s" xmlns:tmd="%s" xmlns:tev="%s" xmlns:tt="%s">'
            '%s<s:Body>%s</s:Body></s:Envelope>'
            % (SOAP12, TDS, TMD, TEV, TT, "<s:Header>%s</s:Header>" % header if header else "",
               body)).encode()


def http_request(path, body, content_type=SOAP_TYPE, host="device.test:8080",
                 method="POST", headers=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host]
    if content_type:
        lines.append("Content-Type: " + content_type)
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    lines.extend("%s: %s" % h for h in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Response:
    """One parsed HTTP response; `xml` is the SOAP envelope tree when the body is SOAP."""

    def __init__(self, status, headers, body, header_lines=()):
        self.status = status
        self.headers = headers
        self.header_lines = header_lines
        self.body = body
        self.xml = None
        if headers.get("content-type", "").startswith("application/soap+xml"):
            for check in RESPONSE_CHECKS:
                check(body)
            self.xml = parse(body)

    def header_list(self, name):
        """Every (name, value) of a header that may repeat (e.g. WWW-Authenticate)."""
        return [(n, v) for n, v in self.header_lines if n == name]

    @property
    def body_child(self):
        """The first element inside env:Body."""
        return self.xml.find(SOAP12, "Body").children[0]

    def fault(self):
        """(code local name, [subcode local names]) of a SOAP fault, or None."""
        fault = self.xml.find(SOAP12, "Body").find(SOAP12, "Fault")
        if fault is None:
            return None
        code = fault.find(SOAP12, "Code")
        names = []
        while code is not None:
            ns, local = code.resolve_qname(code.findtext(SOAP12, "Value").strip())
            names.append(local)
            code = code.find(SOAP12, "Subcode")
        return names[0], names[1:]


def split_response(data, eof=False):
    """(first complete HTTP response, the bytes after it), or (None, data) if incomplete.

    A response without length or chunking runs to the end of the stream: complete at `eof`.
    """
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, data
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    header_lines = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        header_lines.append((name.strip().lower(), value.strip()))
    headers = dict(header_lines)
    if status == 100:
        return split_response(rest, eof)
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            return None, data
        return Response(status, headers, rest[:n], header_lines), rest[n:]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size_line, sep, after = rest.partition(b"\r\n")
            if not sep:
                return None, data
            size = int(size_line.split(b";")[0], 16)
            if len(after) < size + 2:
                return None, data
            body += after[:size]
            rest = after[size + 2:]
            if size == 0:
                return Response(status, headers, body, header_lines), rest
    if not eof:
        return None, data
    return Response(status, headers, rest, header_lines), b""


def parse_responses(data):
    """Every complete response in `data` (a stream that has ended)."""
    responses = []
    while data:
        response, data = split_response(data, eof=True)
        responses.append(response)
    return responses


class InMemoryClient:
    """Talks to an App through one Session, the way a socket client would."""

    def __init__(self, app, clock=lambda: FIXED_NOW, local_host="192.0.2.10:8080"):
        self.out = []
        self.session = Session(app, self.out.append, local_host=local_host, clock=clock)

    def exchange(self, data):
        """Feed raw bytes; answer everything complete; return the parsed responses."""
        self.session.receive(data)
        while self.session.step():
            pass
        raw = b"".join(self.out)
        del self.out[:]
        return parse_responses(raw)

    def start(self, path, body, **kw):
        """Send one request that may be answered later (a Deferred: a long-poll, a serial
        command); returns a function giving the responses that arrived since, each once."""
        self.session.receive(http_request(path, body, **kw))
        while self.session.step():
            pass

        def arrived():
            responses = parse_responses(b"".join(self.out))
            del self.out[:]
            return responses
        return arrived

    def post(self, path, body, **kw):
        responses = self.exchange(http_request(path, body, **kw))
        assert len(responses) == 1, responses
        return responses[0]

    def call(self, body, path="/onvif/device_service", header="", **kw):
        """One SOAP request; returns the Response."""
        return self.post(path, envelope(body, header), **kw)
