"""Event service (tev, checklist clause 10): GetEventProperties, pull points and push
subscriptions, and the subscription manager every subscription's address answers.

The rules of subscriptions live in agent.subscriptions, the filters in agent.topicfilter and
agent.itemfilter, the message format in agent.notification. Every response carries the
WS-Addressing Action of the WSDL and RelatesTo the request's MessageID when it has one (10).
"""

from ..datetimes import format_datetime, parse_datetime
from ..durations import format_duration, parse_duration
from ..compat import load_cold
from ..ids import uuid4
from ..notification import WSA, WSNT, write_notification
from ..errors import ConsumerRefused
from ..replies import Deferred
from ..soap import SoapFault, write_envelope
from ..subscriptions import (DEFAULT_TERMINATION_S, MAX_MESSAGE_LIMIT, MAX_PULL_POINTS,
                             MAX_PUSH_SUBSCRIPTIONS, MAX_TERMINATION_S, MAX_TIMEOUT_MS)
from ..topics import (ITEM_FILTER, MESSAGE_SCHEMA_LOCATION, TOPIC_DIALECTS,
                      TOPIC_NAMESPACE_LOCATION, device_topics, write_topic_set)
from ..wsnfaults import WSRF_R, wsn_fault
from ..xmlwrite import XmlWriter
from . import TT, Service, parse_boolean, required

TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT_ACTIONS = "http://docs.oasis-open.org/wsn/bw-2/"
# wsaw:Action of each response (event.wsdl; WS-BaseNotification's bw-2 for the wsnt ones).
ACTIONS = {
    "GetServiceCapabilities": TEV + "/EventPortType/GetServiceCapabilitiesResponse",
    "GetEventProperties": TEV + "/EventPortType/GetEventPropertiesResponse",
    "CreatePullPointSubscription": TEV + "/EventPortType/CreatePullPointSubscriptionResponse",
    "Subscribe": WSNT_ACTIONS + "NotificationProducer/SubscribeResponse",
    "PullMessages": TEV + "/PullPointSubscription/PullMessagesResponse",
    "SetSynchronizationPoint": TEV + "/PullPointSubscription/SetSynchronizationPointResponse",
    "Seek": TEV + "/PullPointSubscription/SeekResponse",
    "Renew": WSNT_ACTIONS + "SubscriptionManager/RenewResponse",
    "Unsubscribe": WSNT_ACTIONS + "SubscriptionManager/UnsubscribeResponse",
}
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"


def write_addressing(ctx, name):
    """The response's WS-Addressing headers (10): Action of the WSDL, a MessageID of its own,
    RelatesTo the request's MessageID when it had one (clients that omit it are tolerated), To
    the request's ReplyTo address, else anonymous (the reply goes back on the connection)."""
    message_id = ctx.envelope.header(WSA, "MessageID") if ctx.envelope else None
    reply_to = ctx.envelope.header(WSA, "ReplyTo") if ctx.envelope else None
    to = reply_to.findtext(WSA, "Address") if reply_to is not None else None

    def write(w):
        w.leaf(WSA, "Action", ACTIONS.get(name, FAULT_ACTION))
        w.leaf(WSA, "MessageID", "urn:uuid:" + uuid4())
        if message_id is not None and message_id.text.strip():
            w.leaf(WSA, "RelatesTo", message_id.text.strip())
        w.leaf(WSA, "To", (to or "").strip() or ANONYMOUS)
    return write


class EventsBase(Service):
    """What the event service and the subscription manager share: addressing headers and the
    subscriptions of the device."""

    declare = (TEV, WSNT, WSA, TT)
    namespace = TEV

    def response_header(self, body, ctx):
        return write_addressing(ctx, body.name)

    @property
    def subscriptions(self):
        return self.device.subscriptions

    def now(self):
        return self.device.clock()


class EventService(EventsBase):
    key = "events"
    path = "/onvif/event_service"
    category = "Events"

    def write_capabilities(self, w):
        # 10.10; WSPullPointSupport is read by clients as "ONVIF pull point available".
        w.leaf(TEV, "Capabilities", attrs=[
            ("WSSubscriptionPolicySupport", True), ("WSPullPointSupport", True),
            ("WSPausableSubscriptionManagerInterfaceSupport", False),
            ("MaxNotificationProducers", MAX_PUSH_SUBSCRIPTIONS if self.push_supported else 0),
            ("MaxPullPoints", MAX_PULL_POINTS),
            ("PersistentNotificationStorage", self.device.store is not None)])

    def write_legacy_capabilities(self, w, ctx):
        w.start(TT, "Events")
        w.leaf(TT, "XAddr", ctx.url(self.path))
        w.leaf(TT, "WSSubscriptionPolicySupport", True)
        w.leaf(TT, "WSPullPointSupport", True)
        w.leaf(TT, "WSPausableSubscriptionManagerInterfaceSupport", False)
        w.end()

    @property
    def push_supported(self):
        return self.device.notify is not None

    def topics(self):
        # With storage, tns1:EventBuffer/Begin is one of them (10.12).
        return device_topics(self.device.io, storage=self.device.store is not None,
                             monitor=self.device.monitor)

    # -- 10.9 ------------------------------------------------------------------------------------

    def GetEventProperties(self, request, ctx):
        topics = self.topics()

        def write(w):
            w.start(TEV, "GetEventPropertiesResponse")
            w.leaf(TEV, "TopicNamespaceLocation", TOPIC_NAMESPACE_LOCATION)
            w.leaf(WSNT, "FixedTopicSet", True)
            write_topic_set(w, topics)
            for dialect in TOPIC_DIALECTS:
                w.leaf(WSNT, "TopicExpressionDialect", dialect)
            w.leaf(TEV, "MessageContentFilterDialect", ITEM_FILTER)
            w.leaf(TEV, "MessageContentSchemaLocation", MESSAGE_SCHEMA_LOCATION)
            w.end()
        return write

    # -- 10.1, 10.3: making subscriptions --------------------------------------------------------

    def CreatePullPointSubscription(self, request, ctx):
        if self.subscriptions.count("pull") >= MAX_PULL_POINTS:
            raise wsn_fault("SubscribeCreationFailedFault",
                            "all %d pull points are in use" % MAX_PULL_POINTS, self.now())
        accepts, changed_only, termination = self._subscription_terms(
            request, TEV, "InitialTerminationTime")
        sub = self.subscriptions.create("pull", accepts, termination, changed_only,
                                        address=self._address(ctx))
        return self._created(sub, TEV, "CreatePullPointSubscriptionResponse")

    def Subscribe(self, request, ctx):
        if not self.push_supported:
            raise SoapFault("Receiver", "ActionNotSupported")
        if self.subscriptions.count("push") >= MAX_PUSH_SUBSCRIPTIONS:
            raise wsn_fault("SubscribeCreationFailedFault",
                            "all %d subscriptions are in use" % MAX_PUSH_SUBSCRIPTIONS, self.now())
        reference = required(request, WSNT, "ConsumerReference")
        address = (reference.findtext(WSA, "Address") or "").strip()
        try:
            # The SSRF guard: loopback, link-local and multicast consumers only where the board
            # file allows them (issue 7; the sender holds that setting).
            consumer = self.device.notify.parse(address)
        except ConsumerRefused as exc:
            raise wsn_fault("SubscribeCreationFailedFault", "ConsumerReference refused: %s"
                            % exc, self.now())
        accepts, changed_only, termination = self._subscription_terms(
            request, WSNT, "InitialTerminationTime")
        sub = self.subscriptions.create("push", accepts, termination, changed_only,
                                        consumer=consumer, address=self._address(ctx))
        return self._created(sub, WSNT, "SubscribeResponse")

    def _subscription_terms(self, request, ns, time_name):
        """(filter predicate, ChangedOnly, termination) of a subscribe request."""
        now = self.now()
        topic_filter = item_filter = None
        filter_element = request.find(ns, "Filter")
        if filter_element is not None:
            for child in filter_element.children:
                dialect = child.get("Dialect", "").strip()
                # The parsers are loaded only here, and a board lets them go again: the
                # subscription keeps what it needs of them (compat.load_cold, issue 9).
                if (child.ns, child.name) == (WSNT, "TopicExpression"):
                    topic_filter = load_cold("agent.topicfilter").parse_topic_expression(
                        child.text, dialect, child.nsmap, [t.path for t in self.topics()], now)
                elif (child.ns, child.name) == (WSNT, "MessageContent"):
                    item_filter = load_cold("agent.itemfilter").parse_item_filter(
                        child.text, dialect, child.nsmap, now)
                else:
                    raise wsn_fault("InvalidFilterFault", "unknown filter %s" % child.name, now)
        policy = request.find(ns, "SubscriptionPolicy")
        changed_only = policy is not None and policy.find(TEV, "ChangedOnly") is not None

        def accepts(message):
            return ((topic_filter is None or topic_filter.matches(message.topic)) and
                    (item_filter is None or item_filter.matches(message)))
        return accepts, changed_only, termination_time(
            request.findtext(ns, time_name), now, "UnacceptableInitialTerminationTimeFault")

    @staticmethod
    def _address(ctx):
        return lambda ident: ctx.url(SubscriptionManager.path + ident)

    def _created(self, sub, ns, response):

        def write(w):
            w.start(ns, response)
            w.start(ns, "SubscriptionReference")
            w.leaf(WSA, "Address", sub.url)
            w.end()
            w.leaf(WSNT, "CurrentTime", format_datetime(self.now()))
            w.leaf(WSNT, "TerminationTime", format_datetime(sub.termination))
            w.end()
        return write


def termination_time(text, now, fault):
    """An absolute xs:dateTime or a relative xs:duration (both must work, 10.1) as UTC
    seconds; absent: the default. Past or beyond MAX_TERMINATION_S: the WS-BN `fault`."""
    if text is None or not text.strip():
        return now + DEFAULT_TERMINATION_S
    text = text.strip()
    if text.startswith("P") or text.startswith("-P"):
        try:
            when = now + parse_duration(text) / 1000.0
        except ValueError:
            when = None
    else:
        when = parse_datetime(text)
    if when is None or when <= now or when > now + MAX_TERMINATION_S:
        # The fault proposes what would be accepted (10.3).
        raise wsn_fault(fault, "termination time must be within %d s from now (%s)"
                        % (MAX_TERMINATION_S, format_datetime(now)), now,
                        extra=[("MinimumTime", format_datetime(now + 1)),
                               ("MaximumTime", format_datetime(now + MAX_TERMINATION_S))])
    return when


class SubscriptionManager(EventsBase):
    """The address of each subscription: /onvif/subscription/<unguessable id>."""

    key = "subscription"
    path = "/onvif/subscription/"
    prefix = True  # agent.app routes every path under it here
    category = None

    def write_capabilities(self, w):
        raise NotImplementedError("the subscription manager is not announced by GetServices")

    def _subscription(self, ctx, kind=None):
        sub = self.subscriptions.get(ctx.resource)
        if sub is None or (kind is not None and sub.kind != kind):
            raise wsn_fault("ResourceUnknownFault", "no such subscription (ended or never was)",
                            self.now(), WSRF_R)
        return sub

    def PullMessages(self, request, ctx):
        sub = self._subscription(ctx, "pull")
        try:
            timeout_ms = parse_duration(required(request, TEV, "Timeout").text)
            limit = int(required(request, TEV, "MessageLimit").text.strip())
        except ValueError:
            raise SoapFault("Sender", "InvalidArgVal", reason="Timeout or MessageLimit malformed")
        if timeout_ms < 0 or timeout_ms > MAX_TIMEOUT_MS:
            raise pull_fault()
        if sub.waiter is not None:  # 10.1: one blocking PullMessages per pull point
            raise wsn_fault("UnableToGetMessagesFault",
                            "a PullMessages is already waiting on this pull point", self.now())
        url = ctx.url(self.path + sub.ident)
        answer = Deferred(on_cancel=lambda: self.subscriptions.cancel_pull(sub))

        def respond(messages):
            now = self.now()

            def write(w):
                w.start(TEV, "PullMessagesResponse")
                w.leaf(TEV, "CurrentTime", format_datetime(now))
                w.leaf(TEV, "TerminationTime", format_datetime(sub.termination))
                for message in messages:
                    write_notification(w, message, url)
                w.end()
            answer.resolve(write)
        self.subscriptions.pull(sub, timeout_ms, limit, respond)
        return answer

    def Seek(self, request, ctx):
        """Checklist 10.1 Seek, 10.2, 10.12 (rules in agent.subscriptions and
        agent.eventstore). Without persistent storage the capability says false and Seek is
        env:Receiver/ter:ActionNotSupported, as agent.app answers an operation without handler."""
        if self.device.store is None:
            raise SoapFault("Receiver", "ActionNotSupported")
        sub = self._subscription(ctx, "pull")
        when = parse_datetime(required(request, TEV, "UtcTime").text)
        if when is None:
            raise SoapFault("Sender", "InvalidArgVal", reason="UtcTime is not an xs:dateTime")
        # Reverse only when present and true (10.1).
        reverse = parse_boolean(request.findtext(TEV, "Reverse", "false"), "Reverse")
        self.subscriptions.seek(sub, when, reverse)
        return lambda w: w.leaf(TEV, "SeekResponse")

    def SetSynchronizationPoint(self, request, ctx):
        self.subscriptions.synchronize(self._subscription(ctx))
        return lambda w: w.leaf(TEV, "SetSynchronizationPointResponse")

    def Renew(self, request, ctx):
        sub = self._subscription(ctx)
        now = self.now()
        self.subscriptions.renew(sub, termination_time(
            request.findtext(WSNT, "TerminationTime"), now, "UnacceptableTerminationTimeFault"))

        def write(w):
            w.start(WSNT, "RenewResponse")
            w.leaf(WSNT, "TerminationTime", format_datetime(sub.termination))
            w.leaf(WSNT, "CurrentTime", format_datetime(now))
            w.end()
        return write

    def Unsubscribe(self, request, ctx):
        self.subscriptions.destroy(self._subscription(ctx), "unsubscribed")
        return lambda w: w.leaf(WSNT, "UnsubscribeResponse")


def pull_fault():
    """tev:PullMessagesFaultResponse with our limits (10.1), for a Timeout beyond them."""
    def detail(w):
        w.start(TEV, "PullMessagesFaultResponse")
        w.leaf(TEV, "MaxTimeout", format_duration(MAX_TIMEOUT_MS))
        w.leaf(TEV, "MaxMessageLimit", MAX_MESSAGE_LIMIT)
        w.end()
    return SoapFault("Sender", "InvalidArgVal", reason="Timeout beyond %s"
                     % format_duration(MAX_TIMEOUT_MS), detail=detail)


NOTIFY_ACTION = WSNT_ACTIONS + "NotificationConsumer/Notify"


def notify_envelope(sub, message, producer_url=None):
    """The whole wsnt:Notify request for one message to a push subscription's consumer (10.3),
    as bytes for agent.notify to POST."""
    out = []

    def header(w):
        w.leaf(WSA, "Action", NOTIFY_ACTION)
        w.leaf(WSA, "To", sub.consumer.url)

    def body(w):
        w.start(WSNT, "Notify")
        write_notification(w, message, sub.url, producer_url)
        w.end()
    write_envelope(XmlWriter(out.append), body, header, (WSNT, WSA, TT))
    return b"".join(out)


def enable_push(device, sender):
    """Offer push subscriptions (10.3) through `sender` (agent.notify.NotifySender): each
    message a subscription wants becomes one Notify; a consumer that still fails after the
    sender's retries ends its subscription (logged), and an ended one is forgotten."""
    subscriptions = device.subscriptions

    def push(sub, message):
        def result(ok, reason=None):
            if not ok:
                subscriptions.destroy(sub, "consumer %s failed: %s" % (sub.consumer.url, reason))
        sender.post(sub.consumer, notify_envelope(sub, message), result)

    def ended(sub):
        if sub.kind == "push":
            sender.forget(sub.consumer)
    subscriptions.push = push
    subscriptions.on_end = ended
    device.notify = sender
