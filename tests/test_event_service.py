"""The event service over the in-memory HAL (checklist 10.1, 10.5, 10.8-10.11): pull points
with real long-polls on the loop, property semantics, filters, renewal, expiry, faults and
WS-Addressing; Seek over persistent storage (10.2, 10.12); every response checked against the
official schemas on CPython."""

import unittest

from agent import log
from agent.app import build_app
from agent.datetimes import format_datetime, parse_datetime
from agent.eventstore import EventStore
from agent.ringstore import RingStore
from tests.iofakes import EPOCH, advance, make_device
from tests.soapclient import InMemoryClient, envelope
from tests.support import AllowAll, Quiet, remove_tree, scratch_dir

EVENTS = "/onvif/event_service"
TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSA = "http://www.w3.org/2005/08/addressing"
TT = "http://www.onvif.org/ver10/schema"
WSNT_DECL = ' xmlns:wsnt="%s"' % WSNT
ADDRESSING = ('<wsa:MessageID xmlns:wsa="%s">urn:uuid:1234</wsa:MessageID>' % WSA)


def create(filter_xml="", termination="", policy=""):
    return ("<tev:CreatePullPointSubscription%s>%s%s%s</tev:CreatePullPointSubscription>"
            % (WSNT_DECL, "<tev:Filter>%s</tev:Filter>" % filter_xml if filter_xml else "",
               "<tev:InitialTerminationTime>%s</tev:InitialTerminationTime>" % termination
               if termination else "",
               "<tev:SubscriptionPolicy>%s</tev:SubscriptionPolicy>" % policy if policy else ""))


def pull(timeout="PT60S", limit=100):
    return ("<tev:PullMessages><tev:Timeout>%s</tev:Timeout><tev:MessageLimit>%d"
            "</tev:MessageLimit></tev:PullMessages>" % (timeout, limit))


def seek(when, reverse=None):
    return ("<tev:Seek><tev:UtcTime>%s</tev:UtcTime>%s</tev:Seek>"
            % (when, "" if reverse is None else "<tev:Reverse>%s</tev:Reverse>" % reverse))


def at(offset):
    """The xs:dateTime `offset` seconds after the fake device clock's start."""
    return format_datetime(EPOCH + offset)


def soap_header(response, name):
    """Texts of the response's wsa:`name` SOAP header blocks."""
    header = response.xml.find("http://www.w3.org/2003/05/soap-envelope", "Header")
    return [] if header is None else [e.text for e in header.findall(WSA, name)]


def topic_filter(expression, dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet",
                 prefixes=' xmlns:tns1="http://www.onvif.org/ver10/topics"'):
    return ('<wsnt:TopicExpression Dialect="%s"%s>%s</wsnt:TopicExpression>'
            % (dialect, prefixes, expression))


class EventTestCase(unittest.TestCase):
    """A device on the in-memory HAL (with `store()` as its event store) and its event
    service."""

    def store(self):
        return None

    def setUp(self):
        log.set_stream(Quiet())
        self.device, self.hal, self.loop, self.clock, self.messages = make_device(
            store=self.store())
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        log.set_stream(None)

    def call(self, body, path=EVENTS, header=""):
        return self.client.call(body, path=path, header=header)

    def subscribe(self, **kw):
        response = self.call(create(**kw))
        self.assertEqual(response.status, 200, response.body)
        address = response.body_child.find(TEV, "SubscriptionReference").findtext(WSA, "Address")
        self.assertTrue(address.startswith("http://device.test:8080/onvif/subscription/"))
        return address[len("http://device.test:8080"):]

    def start_pull(self, path, body=None):
        """Send a PullMessages and return a function collecting its answer, if any yet."""
        return self.client.start(path, envelope(body or pull()))

    def notifications(self, response):
        """(operation, topic, source value, data value) of each NotificationMessage."""
        return [(message.get("PropertyOperation"), topic, source, data)
                for topic, message, source, data in self.messages_in(response)]

    def messages_in(self, response):
        """(topic, tt:Message, source value, data value) of each NotificationMessage; the
        values None where the message has no items."""
        found = []
        for note in response.body_child.findall(WSNT, "NotificationMessage"):
            message = note.find(WSNT, "Message").find(TT, "Message")
            values = []
            for group in ("Source", "Data"):
                item = message.find(TT, group).find(TT, "SimpleItem")
                values.append(None if item is None else item.get("Value"))
            found.append((note.findtext(WSNT, "Topic").strip(), message) + tuple(values))
        return found

    def pull_now(self, path, **kw):
        answered = self.start_pull(path, pull(**kw))
        (response,) = answered()
        return response


class EventServiceTest(EventTestCase):
    # -- the pull point ------------------------------------------------------------------------

    def test_a_new_pull_point_gets_every_property_as_initialized(self):
        path = self.subscribe()
        response = self.pull_now(path)
        self.assertEqual(self.notifications(response), [
            ("Initialized", "tns1:Device/Trigger/Relay", "R1", "inactive"),
            ("Initialized", "tns1:Device/Trigger/Relay", "R2", "inactive"),
            ("Initialized", "tns1:Device/Trigger/DigitalInput", "IN1", "false"),
            ("Initialized", "tns1:Device/Trigger/DigitalInput", "IN2", "true")])
        self.assertEqual(response.body_child.findtext(TEV, "CurrentTime"), "2023-11-14T22:13:20Z")

    def test_a_waiting_pull_is_answered_when_an_input_changes(self):
        path = self.subscribe()
        self.pull_now(path)  # the Initialized set
        answered = self.start_pull(path)
        advance(self.loop, self.clock, 5000)
        self.assertEqual(answered(), [], "nothing happened: still waiting")
        self.hal.inputs[0].set(True)
        (response,) = answered()
        self.assertEqual(self.notifications(response),
                         [("Changed", "tns1:Device/Trigger/DigitalInput", "IN1", "true")])

    def test_a_pull_with_nothing_to_say_ends_at_its_timeout(self):
        path = self.subscribe()
        self.pull_now(path)
        answered = self.start_pull(path, pull("PT2S"))
        advance(self.loop, self.clock, 1900)
        self.assertEqual(answered(), [])
        advance(self.loop, self.clock, 200)
        (response,) = answered()
        self.assertEqual((response.status, self.notifications(response)), (200, []))

    def test_message_limit_and_the_rest_kept(self):
        path = self.subscribe()
        self.assertEqual(len(self.notifications(self.pull_now(path, limit=3))), 3)
        self.assertEqual(len(self.notifications(self.pull_now(path, limit=3))), 1)

    def test_a_second_waiting_pull_is_refused(self):
        path = self.subscribe()
        self.pull_now(path)
        self.start_pull(path)
        other = InMemoryClient(self.client.session.app)
        response = other.call(pull(), path=path)
        self.assertEqual(response.status, 500)
        self.assertTrue(response.body_child.find("http://www.w3.org/2003/05/soap-envelope",
                                                 "Detail") is not None)

    def test_timeout_beyond_the_maximum(self):
        path = self.subscribe()
        response = self.call(pull("PT1H"), path)
        self.assertEqual(response.fault()[0], "Sender")
        self.assertTrue(b"PullMessagesFaultResponse" in response.body)
        self.assertTrue(b"<tev:MaxTimeout>PT300S</tev:MaxTimeout>" in response.body)

    def test_relay_pulse_is_two_changes(self):
        path = self.subscribe(filter_xml=topic_filter("tns1:Device/Trigger/Relay"))
        self.assertEqual(len(self.notifications(self.pull_now(path))), 2, "relays only")
        self.device.io.set_relay_state("R2", "active")
        advance(self.loop, self.clock, 2100)  # R2 is monostable, 2 s
        self.assertEqual(self.notifications(self.pull_now(path)), [
            ("Changed", "tns1:Device/Trigger/Relay", "R2", "active"),
            ("Changed", "tns1:Device/Trigger/Relay", "R2", "inactive")])

    def test_changed_only_policy_skips_initialized(self):
        path = self.subscribe(policy="<tev:ChangedOnly/>")
        self.hal.inputs[1].set(True)
        self.assertEqual(self.notifications(self.pull_now(path)),
                         [("Changed", "tns1:Device/Trigger/DigitalInput", "IN2", "false")])

    def test_synchronization_point_repeats_the_initialized_set(self):
        path = self.subscribe()
        self.pull_now(path)
        self.assertEqual(self.call("<tev:SetSynchronizationPoint/>", path).status, 200)
        operations = [n[0] for n in self.notifications(self.pull_now(path))]
        self.assertEqual(operations, ["Initialized"] * 4)

    # -- life cycle ----------------------------------------------------------------------------

    def test_renew_and_unsubscribe(self):
        path = self.subscribe(termination="PT60S")
        renew = ("<wsnt:Renew%s><wsnt:TerminationTime>PT120S</wsnt:TerminationTime></wsnt:Renew>"
                 % WSNT_DECL)
        response = self.call(renew, path)
        self.assertEqual(response.body_child.findtext(WSNT, "TerminationTime"),
                         "2023-11-14T22:15:20Z")
        absolute = renew.replace("PT120S", "2023-11-14T22:20:00Z")
        self.assertEqual(self.call(absolute, path).body_child.findtext(WSNT, "TerminationTime"),
                         "2023-11-14T22:20:00Z")
        self.assertEqual(self.call("<wsnt:Unsubscribe%s/>" % WSNT_DECL, path).status, 200)
        self.assertEqual(self.call(pull(), path).status, 500, "gone at once")

    def test_an_expired_pull_point_is_destroyed(self):
        path = self.subscribe(termination="PT10S")
        advance(self.loop, self.clock, 10100)
        response = self.call(pull(), path)
        self.assertEqual(response.status, 500)
        self.assertTrue(b"ResourceUnknownFault" in response.body)
        self.assertEqual(self.device.subscriptions.by_id, {})

    def test_unacceptable_termination_times(self):
        for when in ("PT0S", "2000-01-01T00:00:00Z", "P30D", "tomorrow"):
            response = self.call(create(termination=when))
            self.assertEqual(response.status, 500, when)
            self.assertTrue(b"UnacceptableInitialTerminationTimeFault" in response.body, when)

    def test_max_pull_points(self):
        from agent.subscriptions import MAX_PULL_POINTS
        for _ in range(MAX_PULL_POINTS):
            self.subscribe()
        response = self.call(create())
        self.assertEqual(response.status, 500)
        self.assertTrue(b"SubscribeCreationFailedFault" in response.body)

    def test_addresses_are_unguessable_and_unknown_ones_refused(self):
        first, second = self.subscribe(), self.subscribe()
        self.assertTrue(first != second and len(first.rsplit("/", 1)[1]) == 32)
        response = self.call(pull(), "/onvif/subscription/" + "0" * 32)
        self.assertTrue(b"ResourceUnknownFault" in response.body)

    # -- properties, filters, addressing ---------------------------------------------------------

    def test_event_properties_list_the_topics_and_dialects(self):
        response = self.call("<tev:GetEventProperties/>")
        self.assertEqual(response.status, 200)
        for text in (b"DigitalInput", b"Relay", b"ConcreteSet", b"messageContentFilter/ItemFilter",
                     b'IsProperty="true"'):
            self.assertTrue(text in response.body, text)
        self.assertFalse(b"EventBuffer" in response.body, "no storage, no EventBuffer/Begin")

    def test_bad_filters(self):
        for filter_xml, fault in (
                (topic_filter("tns1:Device/Trigger/Relay", dialect="urn:nope"),
                 b"TopicExpressionDialectUnknownFault"),
                (topic_filter("tns1:Device/Trigger/Door"), b"TopicNotSupportedFault"),
                (topic_filter("x:Device", prefixes=""), b"InvalidTopicExpressionFault")):
            response = self.call(create(filter_xml=filter_xml))
            self.assertEqual(response.status, 500)
            self.assertTrue(fault in response.body, (fault, response.body))

    def test_message_content_filter(self):
        content = ('<wsnt:MessageContent Dialect="http://www.onvif.org/ver10/tev/'
                   'messageContentFilter/ItemFilter">boolean(//tt:SimpleItem[@Name="InputToken" '
                   'and @Value="IN2"])</wsnt:MessageContent>')
        path = self.subscribe(filter_xml=content)
        self.assertEqual([n[2] for n in self.notifications(self.pull_now(path))], ["IN2"])

    def test_responses_carry_action_and_relates_to(self):
        response = self.call(create(), header=ADDRESSING)
        self.assertEqual(soap_header(response, "Action"),
                         [TEV + "/EventPortType/CreatePullPointSubscriptionResponse"])
        self.assertEqual(soap_header(response, "RelatesTo"), ["urn:uuid:1234"])
        self.assertEqual(soap_header(response, "To"),
                         ["http://www.w3.org/2005/08/addressing/anonymous"])
        (own,) = soap_header(response, "MessageID")
        self.assertTrue(own.startswith("urn:uuid:") and own != "urn:uuid:1234")
        path = self.subscribe()
        response = self.call(pull(timeout="PT0S"), path)  # no MessageID: tolerated
        self.assertEqual(soap_header(response, "RelatesTo"), [])
        self.assertEqual(soap_header(response, "Action"),
                         [TEV + "/PullPointSubscription/PullMessagesResponse"])
        self.assertTrue(soap_header(response, "MessageID")[0] != own, "one per message")
        reply_to = ('<wsa:ReplyTo xmlns:wsa="%s"><wsa:Address>http://192.0.2.9/r</wsa:Address>'
                    '</wsa:ReplyTo>' % WSA)
        response = self.call(pull(timeout="PT0S"), path, header=reply_to)
        self.assertEqual(soap_header(response, "To"), ["http://192.0.2.9/r"])

    def test_capabilities_are_truthful(self):
        caps = self.call("<tev:GetServiceCapabilities/>").body_child.find(TEV, "Capabilities")
        self.assertEqual((caps.get("WSPullPointSupport"), caps.get("MaxPullPoints"),
                          caps.get("PersistentNotificationStorage"),
                          caps.get("MaxNotificationProducers")), ("true", "50", "false", "0"))

    def test_seek_without_storage_is_not_supported(self):
        path = self.subscribe()
        response = self.call(seek("2023-11-14T22:13:20Z"), path)
        self.assertEqual((response.status, response.fault()), (500, ("Receiver",
                                                                     ["ActionNotSupported"])))


class SeekTest(EventTestCase):
    """Seek on a device with persistent storage (checklist 10.1, 10.2, 10.12). The stored
    history: the four Initialized states of the start at 0 s, IN1 closed at 2 s and open at 4 s,
    R1 active at 6 s; the clock then reads 6 s."""

    HISTORY = [(0, "Initialized R1=inactive"), (0, "Initialized R2=inactive"),
               (0, "Initialized IN1=false"), (0, "Initialized IN2=true"),
               (2, "Changed IN1=true"), (4, "Changed IN1=false"), (6, "Changed R1=active")]

    def store(self):
        self.dir = scratch_dir()
        self.ring = RingStore(self.dir + "/events.ring", 16384, max_payload=256)
        return EventStore(self.ring)

    def setUp(self):
        EventTestCase.setUp(self)
        for change in (lambda: self.hal.inputs[0].set(True),
                       lambda: self.hal.inputs[0].set(False),
                       lambda: self.device.io.set_relay_state("R1", "active")):
            advance(self.loop, self.clock, 2000)
            change()

    def tearDown(self):
        EventTestCase.tearDown(self)
        self.ring.close()
        remove_tree(self.dir)

    def events(self, response):
        """(seconds after the start, "Operation TOKEN=value" or "Begin") of each message."""
        found = []
        for topic, message, source, data in self.messages_in(response):
            when = parse_datetime(message.get("UtcTime")) - EPOCH
            if topic == "tns1:EventBuffer/Begin":
                self.assertEqual((message.get("PropertyOperation"), source, data),
                                 (None, None, None), "no items, not a property")
                found.append((when, "Begin"))
            else:
                found.append((when, "%s %s=%s" % (message.get("PropertyOperation"), source, data)))
        return found

    def seek(self, path, when, reverse=None):
        response = self.call(seek(when, reverse), path)
        self.assertEqual(response.status, 200, response.body)
        return response

    def pulled(self, path, limit=100):
        return self.events(self.pull_now(path, limit=limit))

    def test_capabilities_and_topics_with_storage(self):
        caps = self.call("<tev:GetServiceCapabilities/>").body_child.find(TEV, "Capabilities")
        self.assertEqual(caps.get("PersistentNotificationStorage"), "true")
        response = self.call("<tev:GetEventProperties/>")
        begin = response.body_child.find(
            "http://docs.oasis-open.org/wsn/t-1", "TopicSet").find(
            "http://www.onvif.org/ver10/topics", "EventBuffer").find(
            "http://www.onvif.org/ver10/topics", "Begin")
        self.assertEqual(begin.find(TT, "MessageDescription").get("IsProperty"), "false")
        # A filter may name it.
        self.subscribe(filter_xml=topic_filter("tns1:EventBuffer/Begin"))

    def test_forward_replays_from_the_time_then_continues_live(self):
        path = self.subscribe()
        response = self.seek(path, at(3))
        self.assertEqual(soap_header(response, "Action"),
                         [TEV + "/PullPointSubscription/SeekResponse"])
        self.assertEqual(self.pulled(path), self.HISTORY[5:], "the Initialized states dropped")
        self.hal.inputs[1].set(True)
        self.assertEqual(self.pulled(path), [(6, "Changed IN2=false")])

    def test_a_time_matching_a_record_starts_at_it(self):
        path = self.subscribe()
        self.seek(path, at(4))
        self.assertEqual(self.pulled(path), self.HISTORY[5:])
        self.seek(path, at(7))
        answered = self.start_pull(path, pull("PT1S"))
        advance(self.loop, self.clock, 1100)
        self.assertEqual(self.events(answered()[0]), [], "after the newest: nothing to replay")

    def test_before_the_buffer_start_begin_comes_first_once_per_seek(self):
        path = self.subscribe()
        self.seek(path, at(-60))
        self.assertEqual(self.pulled(path, limit=3), [(0, "Begin")] + self.HISTORY[:2])
        self.assertEqual(self.pulled(path), self.HISTORY[2:], "no second Begin")
        self.seek(path, at(-1))
        self.assertEqual(self.pulled(path), [(0, "Begin")] + self.HISTORY, "a new Seek, a Begin")

    def test_reverse_replays_newest_first_then_begin_at_the_start(self):
        path = self.subscribe()
        self.seek(path, at(5), "true")
        backwards = [self.HISTORY[i] for i in (5, 4, 3, 2, 1, 0)]
        self.assertEqual(self.pulled(path, limit=4), backwards[:4])
        self.assertEqual(self.pulled(path, limit=4), backwards[4:] + [(0, "Begin")])
        # Nothing lies further back; messages published now lie the other way.
        answered = self.start_pull(path, pull("PT1S"))
        self.hal.inputs[1].set(True)
        advance(self.loop, self.clock, 1100)
        self.assertEqual(self.events(answered()[0]), [])

    def test_reverse_begin_when_a_pull_reads_past_the_start(self):
        path = self.subscribe()
        self.seek(path, at(5), "1")
        self.assertEqual(len(self.pulled(path, limit=6)), 6, "up to the oldest record")
        self.assertEqual(self.pulled(path), [(0, "Begin")], "the next read passes the start")
        self.seek(path, at(-1), "true")
        self.assertEqual(self.pulled(path), [(0, "Begin")], "a Seek before the start")
        self.seek(path, at(6), "false")
        self.assertEqual(self.pulled(path), self.HISTORY[6:], "Reverse false reads forward")

    def test_message_limit_across_the_replay_and_live_messages(self):
        path = self.subscribe()
        self.seek(path, at(1))
        self.hal.inputs[1].set(True)
        advance(self.loop, self.clock, 1000)
        self.hal.inputs[1].set(False)
        self.assertEqual(self.pulled(path, limit=4), self.HISTORY[4:] + [(6, "Changed IN2=false")])
        self.assertEqual(self.pulled(path, limit=4), [(7, "Changed IN2=true")])

    def test_no_initialized_states_after_a_seek(self):
        path = self.subscribe()  # its four Initialized states wait in the queue
        self.seek(path, at(60))
        self.assertEqual(self.call("<tev:SetSynchronizationPoint/>", path).status, 200)
        answered = self.start_pull(path, pull("PT1S"))
        advance(self.loop, self.clock, 1100)
        self.assertEqual(self.events(answered()[0]), [])
        self.hal.inputs[0].set(True)
        self.assertEqual(self.pulled(path), [(7, "Changed IN1=true")])

    def test_a_seek_answers_a_waiting_pull(self):
        path = self.subscribe()
        self.pull_now(path)
        answered = self.start_pull(path)
        other = InMemoryClient(self.client.session.app)
        self.assertEqual(other.call(seek(at(5)), path=path).status, 200)
        self.assertEqual(self.events(answered()[0]), self.HISTORY[6:])

    def test_the_filter_applies_to_the_replay(self):
        path = self.subscribe(filter_xml=topic_filter("tns1:Device/Trigger/Relay"))
        self.seek(path, at(-1))
        self.assertEqual(self.pulled(path), [(0, "Begin")] + [
            self.HISTORY[i] for i in (0, 1, 6)])
        changed_only = self.subscribe(policy="<tev:ChangedOnly/>")
        self.seek(changed_only, at(0))
        self.assertEqual(self.pulled(changed_only), self.HISTORY[4:])

    def test_seek_faults(self):
        path = self.subscribe()
        for body in (seek("yesterday"), seek("2023-11-14T22:13:20"), seek(at(0), "maybe"),
                     "<tev:Seek/>"):
            response = self.call(body, path)
            self.assertEqual(response.fault()[0], "Sender", body)
        response = self.call(seek(at(0)), "/onvif/subscription/" + "0" * 32)
        self.assertTrue(b"ResourceUnknownFault" in response.body)

    def test_a_restart_still_replays(self):
        self.device.io.close()
        self.loop.close()
        self.ring.close()
        self.ring = RingStore(self.dir + "/events.ring", 16384, max_payload=256)
        self.device, self.hal, self.loop, self.clock, _ = make_device(store=EventStore(self.ring))
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))
        path = self.subscribe()
        self.seek(path, at(-1))
        self.assertEqual(self.pulled(path), [(0, "Begin")] + self.HISTORY + self.HISTORY[:4],
                         "the history, then this start's Initialized states")


class FakeSender:
    """agent.notify.NotifySender's face, keeping what would be posted."""

    def __init__(self, allow_local=False):
        from agent.notify import parse_consumer
        self.parse = lambda url: parse_consumer(url, allow_local, names=False)
        self.posts = []
        self.forgotten = []

    def post(self, consumer, body, on_result=None):
        self.posts.append((consumer, body, on_result))
        return True

    def forget(self, consumer):
        self.forgotten.append(consumer)


class PushTest(unittest.TestCase):
    def setUp(self):
        from agent.services.events import enable_push
        log.set_stream(Quiet())
        self.device, self.hal, self.loop, self.clock, self.messages = make_device()
        self.sender = FakeSender()
        enable_push(self.device, self.sender)
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def tearDown(self):
        self.device.io.close()
        self.loop.close()
        log.set_stream(None)

    def subscribe(self, address="http://192.0.2.7:8123/api/webhook/x"):
        body = ("<wsnt:Subscribe%s><wsnt:ConsumerReference><wsa:Address xmlns:wsa=\"%s\">%s"
                "</wsa:Address></wsnt:ConsumerReference><wsnt:InitialTerminationTime>PT60S"
                "</wsnt:InitialTerminationTime></wsnt:Subscribe>" % (WSNT_DECL, WSA, address))
        return self.client.call(body, path=EVENTS)

    def test_subscribe_sends_the_initialized_states_as_notify(self):
        response = self.subscribe()
        self.assertEqual(response.status, 200, response.body)
        for name in ("SubscriptionReference", "CurrentTime", "TerminationTime"):
            self.assertTrue(response.body_child.find(WSNT, name) is not None, name)
        self.assertEqual(len(self.sender.posts), 4)
        consumer, body, _ = self.sender.posts[0]
        self.assertEqual(consumer.url, "http://192.0.2.7:8123/api/webhook/x")
        self.assertTrue(b"<wsnt:Notify>" in body and b'PropertyOperation="Initialized"' in body)
        self.assertTrue(b"/NotificationConsumer/Notify</wsa:Action>" in body)
        self.hal.inputs[0].set(True)
        self.assertTrue(b'Value="IN1"' in self.sender.posts[-1][1])

    def test_local_consumers_are_refused(self):
        for address in ("http://127.0.0.1:8123/x", "http://169.254.1.1/x", "http://[::1]/x",
                        "http://224.0.0.1/x", "ftp://192.0.2.7/x"):
            response = self.subscribe(address)
            self.assertEqual(response.status, 500, address)
            self.assertTrue(b"SubscribeCreationFailedFault" in response.body, address)
        self.assertEqual(self.device.subscriptions.by_id, {})

    def test_a_failing_consumer_ends_its_subscription(self):
        self.subscribe()
        (sub,) = self.device.subscriptions.by_id.values()
        self.sender.posts[0][2](False, "ECONNREFUSED")
        self.assertEqual(self.device.subscriptions.by_id, {})
        self.assertEqual(self.sender.forgotten, [sub.consumer])

    def test_unsubscribe_forgets_the_consumer(self):
        address = self.subscribe().body_child.find(WSNT, "SubscriptionReference").findtext(
            WSA, "Address")
        path = address[len("http://device.test:8080"):]
        response = self.client.call("<wsnt:Unsubscribe%s/>" % WSNT_DECL, path=path)
        self.assertEqual(response.status, 200)
        self.assertEqual(len(self.sender.forgotten), 1)

    def test_capabilities_offer_push(self):
        caps = self.client.call("<tev:GetServiceCapabilities/>", path=EVENTS).body_child.find(
            TEV, "Capabilities")
        self.assertEqual(caps.get("MaxNotificationProducers"), "8")



class PushOnFirstUseTest(PushTest):
    """The agent's sender is made at the first push subscription (startup: agent.lazy's
    OnFirstUse), and every push test above runs through it."""

    def setUp(self):
        from agent.lazy import OnFirstUse
        from agent.services.events import enable_push
        self.made = []

        def make():
            self.made.append(1)
            return FakeSender()
        super().setUp()
        self.lazy = OnFirstUse(make)
        enable_push(self.device, self.lazy)  # in place of PushTest's sender

    def subscribe(self, address="http://192.0.2.7:8123/api/webhook/x"):
        response = super().subscribe(address)
        self.sender = self.lazy.made  # what the tests above look at
        return response

    def test_the_sender_is_made_at_the_first_subscription_only(self):
        self.assertEqual(self.made, [])
        self.client.call("<tev:GetServiceCapabilities/>", path=EVENTS)
        self.assertEqual(self.made, [], "offering push needs no sender yet")
        self.subscribe()
        self.subscribe()
        self.assertEqual(self.made, [1])
