"""The sans-IO device application: one HTTP request in, one streamed response out.

Dispatch follows checklist 5.1: the endpoint path picks the service, the QName of the first
Body child picks the operation from the table generated from the official WSDLs
(agent/operations.py). An element that is no operation of that service is env:Sender /
ter:UnknownAction; an operation of the WSDL without a handler is env:Receiver /
ter:ActionNotSupported, never a fake success.
"""

from . import log
from .access import access_class
from .auth import FailureLimiter, LockedOut, Policy, Unauthorized
from .compat import print_exception, urandom, utc_seconds
from .digest import DigestAuth
from .errors import RemoteProtocolError
from .services.device import DeviceService
from .services.deviceio import DeviceIOService
from .services.events import EventService
from .soap import (TER, SoapFault, read_envelope, sender, write_envelope,
                   write_fault, write_upgrade)
from .wsse import WSSE, UsernameTokenVerifier
from .xmlwrite import XmlWriter

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

# Header blocks the agent processes (checklist 5.1 "We must understand wsse:Security and the
# WS-Addressing headers"): credentials are checked by the access policy, and the addressing
# headers are read where an operation needs them.
WSA = "http://www.w3.org/2005/08/addressing"
UNDERSTOOD = (
    (WSSE, "Security"),
    (WSA, "Action"), (WSA, "MessageID"), (WSA, "To"), (WSA, "ReplyTo"), (WSA, "FaultTo"),
    (WSA, "From"), (WSA, "RelatesTo"),
)


class Reply:
    """A response ready to stream: status, extra headers, and `write(sink)` for the body."""

    def __init__(self, status, write, content_type=SOAP_CONTENT_TYPE, headers=()):
        self.status = status
        self.write = write
        self.headers = [("Content-Type", content_type)] + list(headers)


def soap_reply(body, declare=(), header=None, status=200):
    """A SOAP envelope whose Body content `body(w)` writes."""
    def write(sink):
        write_envelope(XmlWriter(sink), body, header, declare)
    return Reply(status, write)


def fault_reply(fault):
    """A SOAP fault with the HTTP status its code calls for (checklist 5.3)."""
    header = write_upgrade if fault.code == "VersionMismatch" else None
    return soap_reply(lambda w: write_fault(w, fault), (TER,), header, fault.status)


def text_reply(status, text, headers=()):
    """An HTTP-level answer with no SOAP in it (checklist Table 6)."""
    data = text.encode()
    return Reply(status, lambda sink: sink(data), "text/plain; charset=utf-8", headers)


class Deferred:
    """An answer that comes later (a serial reply, a long-poll): a handler returns one instead
    of a body writer, and settles it from a loop callback with `resolve(write_body)` or
    `fail(fault)`. The connection waits for it and serves nothing else meanwhile (HTTP/1.1
    answers in order); if the client goes away first, `cancel()` runs `on_cancel` so the
    handler can drop what it holds. Nothing blocks: the loop keeps serving other connections.
    """

    def __init__(self, on_cancel=None):
        self.on_cancel = on_cancel
        self.declare = ()     # set by App.dispatch: the service's namespaces
        self.reply = None
        self.settled = False  # resolved, failed or cancelled
        self._waiter = None

    def resolve(self, write_body):
        self._settle(soap_reply(write_body, self.declare))

    def fail(self, fault):
        self._settle(fault_reply(fault))

    def cancel(self):
        if not self.settled:
            self.settled = True
            if self.on_cancel is not None:
                self.on_cancel()

    def when_settled(self, waiter):
        """`waiter(reply)` once the reply exists (at once if it already does)."""
        self._waiter = waiter
        if self.reply is not None:
            waiter(self.reply)

    def _settle(self, reply):
        if self.settled:
            return  # already answered, or the client is gone
        self.settled = True
        self.reply = reply
        if self._waiter is not None:
            self._waiter(reply)


class RequestContext:
    """What a handler may know about the request besides its XML.

    `host` is the "host[:port]" the client addressed (used to build XAddrs, checklist 8.2),
    `scheme` "http" or "https", `now` the device's UTC time in seconds.
    """

    def __init__(self, host, scheme="http", now=0, peer=None, envelope=None, request=None):
        self.host = host
        self.scheme = scheme
        self.now = now
        self.peer = peer
        self.envelope = envelope
        self.request = request
        self.user = None  # the authenticated user name, set by the access policy

    def url(self, path):
        return self.scheme + "://" + self.host + path


class App:
    """Maps HTTP requests to services (each a plain object with one method per operation)."""

    def __init__(self, services, *, policy, limits=None):
        self.by_path = {}
        for service in services:
            self.by_path[service.path] = service
        self.policy = policy
        self.limits = limits or {}

    def handle(self, request, ctx):
        """A Reply, or a Deferred one (agent.session waits for it)."""
        path = request.target.split("?", 1)[0]
        service = self.by_path.get(path)
        if service is None:
            return text_reply(404, "Not Found\n")
        if request.method != "POST":
            return text_reply(405, "SOAP endpoint: use POST\n", [("Allow", "POST")])
        charset = request.content_type_params.get("charset", "utf-8").strip('"').lower()
        if charset not in ("utf-8", "utf8"):
            return text_reply(415, "Only UTF-8 is supported (checklist 5.6)\n")
        if not request.body and request.header("authorization") is None:
            # An empty POST holds no SOAP message: it is a client probing for the HTTP
            # authentication scheme (curl --digest sends one before the real request).
            return text_reply(401, "Unauthorized\n", self.policy.challenges())
        try:
            envelope = read_envelope(request.body, UNDERSTOOD, **self.limits)
        except SoapFault as fault:
            log.info("refused request to %s: %s", path, fault.reason)
            return fault_reply(fault)
        ctx.envelope = envelope
        ctx.request = request
        try:
            return self.dispatch(service, envelope, ctx)
        except SoapFault as fault:
            return fault_reply(fault)
        except Unauthorized as exc:  # checklist 5.4: no or bad HTTP Digest credentials
            return text_reply(401, "Unauthorized\n", exc.headers)
        except LockedOut as exc:
            return text_reply(429, "Too many authentication failures\n",
                              [("Retry-After", str(exc.retry_after))])
        except RemoteProtocolError as exc:
            return fault_reply(SoapFault.from_error(exc))
        except Exception as exc:  # a bug of ours: log it, tell the client no more than Table 5
            log.error("handler for %s failed: %r", envelope.body.name, exc)
            print_exception(exc)
            return fault_reply(SoapFault("Receiver", "Action"))

    def dispatch(self, service, envelope, ctx):
        body = envelope.body
        access = access_class(service.key, body.ns, body.name)
        if access is None:
            raise sender("UnknownAction")
        # Credentials and Table 7 come before "not implemented", so an anonymous caller learns
        # nothing about operations it may not call.
        ctx.user = self.policy.check(access, ctx)
        handler = getattr(service, body.name, None)
        if handler is None:
            raise SoapFault("Receiver", "ActionNotSupported")
        write_body = handler(body, ctx)
        if isinstance(write_body, Deferred):
            write_body.declare = service.declare
            return write_body
        return soap_reply(write_body, service.declare)


# HTTP Digest realm (RFC 7616 3.3): names the protection space; clients show it to the user.
REALM = "onvif-agent"


def build_app(device, clock=utc_seconds, policy=None):
    """The services of this device, wired together behind the access policy."""
    others = (DeviceIOService(device), EventService(device))
    return App((DeviceService(device, others),) + others,
               policy=policy or default_policy(device, clock))


def default_policy(device, clock=utc_seconds):
    """Checklist 5.4 authentication (HTTP Digest and UsernameToken) then Table 7."""
    users = device.users

    def password_of(name):
        entry = users.lookup(name)
        return entry[0] if entry else None
    digest = DigestAuth(password_of, realm=REALM, secret=urandom(32), clock=clock)
    # PasswordText exposes the password to anyone on the wire: only over HTTPS, unless the
    # board file says its network is trusted (issue 4).
    wsse = UsernameTokenVerifier(password_of, clock=clock,
                                 allow_text=device.board.get("allow_password_text") is True)
    return Policy(users, digest, wsse, FailureLimiter(clock))
