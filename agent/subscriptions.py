"""Event subscriptions (checklist 10.1, 10.3, 10.5): ONVIF pull points and WS-BaseNotification
push subscriptions, fed by the event bus, timed by the loop.

Every subscription has an unguessable address that is never reused, a filter, a bounded queue
(the oldest message is dropped, counted and logged when a client stops reading) and a
termination time; a loop timer destroys it when that passes. A pull point holds at most one
waiting PullMessages, answered as soon as a message arrives or its Timeout ends. With persistent
storage (agent.eventstore) a pull point can Seek: it then reads the stored messages from its
Replay before its queue.
"""

from . import log
from .compat import urandom

MAX_PULL_POINTS = 50          # advertised as MaxPullPoints (>= 2 for Profile C); each can hold a
                              # long-poll connection, within the server's 64
MAX_PUSH_SUBSCRIPTIONS = 8    # advertised as MaxNotificationProducers
QUEUE_LIMIT = 100             # messages kept per subscription for a client that is not reading
MAX_MESSAGE_LIMIT = 100       # a larger MessageLimit is capped, not refused (10.1)
MAX_TIMEOUT_MS = 300000       # PullMessages may wait 5 minutes (10.1: at least 1 minute)
DEFAULT_TERMINATION_S = 60    # without InitialTerminationTime
MAX_TERMINATION_S = 86400     # further than a day ahead is UnacceptableInitialTerminationTime


class Subscription:
    """One pull point or push subscription."""

    def __init__(self, ident, kind, accepts, changed_only, termination):
        self.ident = ident
        self.kind = kind            # "pull" or "push"
        self.accepts = accepts      # message -> bool (topic and content filters)
        self.changed_only = changed_only
        self.termination = termination  # UTC seconds
        self.queue = []
        self.dropped = 0
        self.expiry = None          # loop Timer
        self.waiter = None          # (answer(messages), limit, Timer) of a waiting pull
        self.consumer = None        # push: agent.notify Consumer
        self.url = None             # its address, for SubscriptionReference
        self.replay = None          # pull: agent.eventstore.Replay of its last Seek
        self.alive = True

    def wants(self, message):
        if self.changed_only and message.operation in ("Initialized", "Deleted"):
            return False  # tev:ChangedOnly subscription policy
        return self.accepts(message)


class Subscriptions:
    """All subscriptions of the device. `clock()` is UTC seconds; `push(sub, message)` sends a
    Notify and `on_end(sub)` releases what a push subscription held (both set by
    agent.services.events.enable_push when push is available); `store` is the
    agent.eventstore.EventStore Seek reads, None without persistent storage."""

    def __init__(self, loop, bus, clock, store=None):
        self.loop = loop
        self.bus = bus
        self.clock = clock
        self.store = store
        self.push = None
        self.on_end = None
        self.by_id = {}
        bus.listen(self._publish)

    def count(self, kind):
        return len([s for s in self.by_id.values() if s.kind == kind])

    def create(self, kind, accepts, termination, changed_only=False, consumer=None,
               address=None):
        """A new subscription, already holding (or, for push, sending) one Initialized message
        per live property instance it matches (10.5), unless ChangedOnly. `address(ident)` is
        its URL. The caller checked the limits."""
        ident = "".join("%02x" % b for b in urandom(16))
        sub = Subscription(ident, kind, accepts, changed_only, termination)
        sub.consumer = consumer
        sub.url = address(ident) if address is not None else None
        self.by_id[ident] = sub
        self._schedule_expiry(sub)
        self.synchronize(sub)
        return sub

    def get(self, ident):
        sub = self.by_id.get(ident)
        return sub if sub is not None and sub.alive else None

    def renew(self, sub, termination):
        sub.termination = termination
        self._schedule_expiry(sub)

    def destroy(self, sub, why):
        if not sub.alive:
            return
        sub.alive = False
        del self.by_id[sub.ident]
        if sub.expiry is not None:
            sub.expiry.cancel()
        if sub.waiter is not None:
            self._answer_waiter(sub, [])
        sub.queue = []
        if self.on_end is not None:
            self.on_end(sub)
        log.info("subscription %s… ended: %s", sub.ident[:8], why)

    def synchronize(self, sub):
        """Queue every matching live property instance as Initialized (10.5, and
        SetSynchronizationPoint); none after a Seek (10.1: a Seek ends Initialized states)."""
        if sub.replay is not None:
            return
        for message in self.bus.instances():
            message = self.bus.initialized(message)
            if sub.wants(message):
                self._deliver(sub, message)

    # -- pull points ---------------------------------------------------------------------------

    def pull(self, sub, timeout_ms, limit, answer):
        """Checklist 10.1 PullMessages: `answer(messages)` at once when some are queued, else
        when the first arrives or `timeout_ms` ends (with none). The pull point lives at least
        `timeout_ms` past the call."""
        limit = min(max(limit, 1), MAX_MESSAGE_LIMIT)
        until = self.clock() + timeout_ms / 1000.0
        if sub.termination < until:
            self.renew(sub, until)
        messages = self._take(sub, limit)
        if messages or timeout_ms == 0:  # PT0S: a poll, answered now even when empty
            answer(messages)
            return
        timer = self.loop.call_later(timeout_ms, lambda: self._answer_waiter(sub, []))
        sub.waiter = (answer, limit, timer)

    def cancel_pull(self, sub):
        """The client of a waiting PullMessages went away."""
        if sub.waiter is not None:
            sub.waiter[2].cancel()
            sub.waiter = None

    def seek(self, sub, when, reverse):
        """Checklist 10.1 Seek: the pull point's pending delivery, initial property states
        included, is dropped, and it reads the store from UTC seconds `when` (agent.eventstore.
        Replay: order, direction, EventBuffer/Begin). A waiting PullMessages gets the first."""
        sub.queue = []
        sub.replay = self.store.replay(when, reverse, self.clock())
        if sub.waiter is not None:
            messages = self._take(sub, sub.waiter[1])
            if messages:
                self._answer_waiter(sub, messages)

    def _take(self, sub, limit):
        """Up to `limit` messages: the Replay's first, then the queue's."""
        taken = sub.replay.take(sub.wants, limit) if sub.replay is not None else []
        room = limit - len(taken)
        taken += sub.queue[:room]
        sub.queue = sub.queue[room:]
        return taken

    def _answer_waiter(self, sub, messages):
        answer, _, timer = sub.waiter
        sub.waiter = None
        timer.cancel()
        answer(messages)

    # -- delivery ------------------------------------------------------------------------------

    def _publish(self, message):
        for sub in list(self.by_id.values()):
            if sub.alive and sub.wants(message):
                self._deliver(sub, message)

    def _deliver(self, sub, message):
        if sub.kind == "push":
            if self.push is not None:
                self.push(sub, message)
            return
        if sub.replay is not None and sub.replay.reverse:
            return  # reading backwards after a Seek: later messages lie the other way
        if sub.waiter is not None:
            self._answer_waiter(sub, [message])
            return
        sub.queue.append(message)
        if len(sub.queue) > QUEUE_LIMIT:
            del sub.queue[0]
            sub.dropped += 1
            if sub.dropped == 1 or sub.dropped % 100 == 0:
                log.warning("pull point %s… is not read: %d oldest messages dropped",
                            sub.ident[:8], sub.dropped)

    def _schedule_expiry(self, sub):
        if sub.expiry is not None:
            sub.expiry.cancel()
        delay_ms = max(0, int((sub.termination - self.clock()) * 1000))
        sub.expiry = self.loop.call_later(delay_ms, lambda: self.destroy(sub, "terminated"))
