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
from .replies import Deferred, fault_reply, soap_reply, text_reply
from .services.device import DeviceService
from .services.deviceio import DeviceIOService
from .services.events import EventService, SubscriptionManager
from .services.status_page import status_resources
from .services.system_http import system_resources
from .soap import SoapFault, read_envelope, sender
from .systemlog import record_access
from .wsse import WSSE, UsernameTokenVerifier

# Header blocks the agent processes (checklist 5.1 "We must understand wsse:Security and the
# WS-Addressing headers"): credentials are checked by the access policy, and the addressing
# headers are read where an operation needs them.
WSA = "http://www.w3.org/2005/08/addressing"
UNDERSTOOD = (
    (WSSE, "Security"),
    (WSA, "Action"), (WSA, "MessageID"), (WSA, "To"), (WSA, "ReplyTo"), (WSA, "FaultTo"),
    (WSA, "From"), (WSA, "RelatesTo"),
)


# What a SOAP endpoint reads (text/xml: SOAP 1.1, answered with VersionMismatch by agent.soap).
SOAP_TYPES = ("application/soap+xml", "text/xml")


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
        self.resource = None  # the rest of the path under a prefix service (a subscription id)

    def url(self, path):
        return self.scheme + "://" + self.host + path


class App:
    """Maps HTTP requests to services (each a plain object with one method per operation)."""

    def __init__(self, services, *, policy, limits=None, on_answer=None):
        self.by_path = {}
        self.prefixes = []  # services answering every path under theirs (subscriptions)
        for service in services:
            if getattr(service, "prefix", False):
                self.prefixes.append(service)
            else:
                self.by_path[service.path] = service
        self.policy = policy
        self.limits = limits or {}
        # on_answer(ctx, service key, operation, reply, fault or None) after each dispatched
        # request: the access log (agent.systemlog, checklist 8.4 #11).
        self.on_answer = on_answer

    def handle(self, request, ctx):
        """A Reply, or a Deferred one (agent.session waits for it)."""
        path = request.target.split("?", 1)[0]
        service = self.by_path.get(path)
        if service is None:
            for candidate in self.prefixes:
                if path.startswith(candidate.path) and len(path) > len(candidate.path):
                    service, ctx.resource = candidate, path[len(candidate.path):]
        if service is None:
            return text_reply(404, "Not Found\n")
        if getattr(service, "http", None) is not None:
            return self.serve_resource(service, request, ctx)
        if request.method != "POST":
            return text_reply(405, "SOAP endpoint: use POST\n", [("Allow", "POST")])
        if request.content_type not in SOAP_TYPES:
            return text_reply(415, "SOAP endpoint: send application/soap+xml\n")
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
        reply, fault = self.answer(service, envelope, ctx)
        if self.on_answer is not None:
            self.on_answer(ctx, service.key, envelope.body.name, reply, fault)
        return reply

    def answer(self, service, envelope, ctx):
        """(The Reply or Deferred, the SoapFault it answers or None)."""
        try:
            return self.dispatch(service, envelope, ctx), None
        except SoapFault as exc:
            fault = exc
        except (Unauthorized, LockedOut) as exc:
            return refusal(exc), None
        except RemoteProtocolError as exc:
            fault = SoapFault.from_error(exc)
        except Exception as exc:  # a bug of ours: log it, tell the client no more than Table 5
            log.error("handler for %s failed: %r", envelope.body.name, exc)
            print_exception(exc)
            fault = SoapFault("Receiver", "Action")
        return fault_reply(fault), fault

    def serve_resource(self, service, request, ctx):
        """A plain HTTP resource (agent.services.system_http: `method`, `access` class and
        `http(request, ctx)` giving a Reply), behind the same access policy as SOAP."""
        if request.method != service.method:
            return text_reply(405, "Use %s\n" % service.method, [("Allow", service.method)])
        ctx.request = request
        try:
            ctx.user = self.policy.check(service.access, ctx)
            reply = service.http(request, ctx)
        except (Unauthorized, LockedOut) as exc:
            reply = refusal(exc)
        except SoapFault:  # Table 7 refused this user: no SOAP to carry the fault in
            reply = text_reply(403, "Forbidden\n")
        except Exception as exc:  # a bug of ours, as in answer(): logged, never the loop's end
            log.error("resource %s failed: %r", service.path, exc)
            print_exception(exc)
            reply = text_reply(500, "Internal error\n")
        # A `quiet` resource (the status page's state, polled every second) would flush the
        # bounded access log in minutes: only its refusals are recorded.
        if self.on_answer is not None and not (getattr(service, "quiet", False) and
                                               reply.status == 200):
            self.on_answer(ctx, service.key, request.method + " " + service.path, reply, None)
        return reply

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
        header = service.response_header(body, ctx)
        if isinstance(write_body, Deferred):
            write_body.declare, write_body.header = service.declare, header
            return write_body
        return soap_reply(write_body, service.declare, header)


def refusal(exc):
    """The HTTP answer to an Unauthorized (checklist 5.4: 401 with fresh challenges) or
    LockedOut (429) from the access policy."""
    if isinstance(exc, LockedOut):
        return text_reply(429, "Too many authentication failures\n",
                          [("Retry-After", str(exc.retry_after))])
    return text_reply(401, "Unauthorized\n", exc.headers)


# HTTP Digest realm (RFC 7616 3.3): names the protection space; clients show it to the user.
REALM = "onvif-agent"


def build_app(device, clock=utc_seconds, policy=None):
    """The services of this device, wired together behind the access policy."""
    others = (DeviceIOService(device), EventService(device))
    # The subscription manager answers at each subscription's own address and is announced by
    # the subscribe responses, not by GetServices; the system resources by GetSystemUris and
    # StartSystemRestore; the installer status page (issue 9) sits at "/".
    return App((DeviceService(device, others),) + others + (SubscriptionManager(device),) +
               tuple(system_resources(device)) + tuple(status_resources(device)),
               policy=policy or default_policy(device, clock), on_answer=record_access)


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
