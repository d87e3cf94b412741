"""What the application answers: a Reply streamed at once, or a Deferred one settled later."""

from .soap import TER, SoapFault, write_envelope, write_fault, write_upgrade
from .xmlwrite import XmlWriter

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"


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
        self.header = None    # and its response header writer, if it has one
        self.settled = False  # resolved, failed or cancelled
        self._result = None   # the body writer or the SoapFault, once settled
        self._waiters = []

    @property
    def reply(self):
        """The Reply, once there is one. Built when asked for: a handler may resolve before
        it returns, before App.dispatch has set `declare` and `header`."""
        if self._result is None:
            return None
        if isinstance(self._result, SoapFault):
            return fault_reply(self._result)
        return soap_reply(self._result, self.declare, self.header)

    def resolve(self, write_body):
        self._settle(write_body)

    def fail(self, fault):
        self._settle(fault)

    @property
    def fault(self):
        """The SoapFault it failed with, if it did."""
        return self._result if isinstance(self._result, SoapFault) else None

    def cancel(self):
        if not self.settled:
            self.settled = True
            if self.on_cancel is not None:
                self.on_cancel()
            self._notify(None)

    def when_settled(self, waiter):
        """`waiter(reply)` once the reply exists (at once if it already does), `waiter(None)`
        if the client went away first. The session waits to send the reply, the access log to
        record how the request ended."""
        if self._result is not None:
            waiter(self.reply)
        else:
            self._waiters.append(waiter)

    def _settle(self, result):
        if self.settled:
            return  # already answered, or the client is gone
        self.settled = True
        self._result = result
        self._notify(self.reply)

    def _notify(self, reply):
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter(reply)
