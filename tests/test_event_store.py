"""agent.eventstore: bus messages kept in the notification ring (issue 7, checklist 10.2, 10.12):
the payload coding, what is stored, failures that must not reach the publisher, and a Replay's
EventBuffer/Begin when its records are overwritten under it. Seek through the service is in
tests/test_event_service.py."""

import unittest

from agent import log
from agent.app import build_app
from agent.bus import Message
from agent.errors import ConfigError
from agent.eventstore import EventStore, decode, encode, open_event_store
from agent.ringstore import RingStore
from tests.iofakes import make_device
from tests.soapclient import InMemoryClient
from tests.support import AllowAll, Lines, remove_tree, scratch_dir

EPOCH = 1700000000


def fields(message):
    return (message.topic, message.time, message.operation, message.source, message.data)


def stored(ring):
    """The ring's records as message fields, oldest first."""
    return [fields(decode(time, payload)) for _, time, payload in ring.records()]


class CodingTest(unittest.TestCase):
    def setUp(self):
        self.log = Lines()
        log.set_stream(self.log)

    def tearDown(self):
        log.set_stream(None)

    def test_round_trip(self):
        for message in (
                Message("Device/Trigger/DigitalInput", EPOCH, "Changed", (("InputToken", "IN1"),),
                        (("LogicalState", "true"),)),
                Message("Device/Trigger/Relay", EPOCH + 1, "Deleted", (("RelayToken", "R-2.a"),),
                        (("LogicalState", "inactive"),)),
                Message("Monitoring/Note", EPOCH + 2, None, (),
                        (("Text", "d\u00e9j\u00e0 \"vu\""),)),
                Message("EventBuffer/Begin", 0, None, (), ())):
            payload = encode(message)
            self.assertTrue(isinstance(payload, bytes))
            self.assertEqual(fields(decode(message.time, payload)), fields(message))

    def test_the_payload_is_compact_json_without_the_time(self):
        message = Message("Device/Trigger/Relay", EPOCH, "Changed", (("RelayToken", "R1"),),
                          (("LogicalState", "active"),))
        self.assertEqual(encode(message), b'["Device/Trigger/Relay","Changed",'
                                          b'[["RelayToken","R1"]],[["LogicalState","active"]]]')

    def test_a_payload_that_is_no_message_is_skipped_and_logged(self):
        for payload in (b"not json", b'["Device"]', b'["Device",null,7,[]]',
                        b'["Device",null,[["a"]],[]]'):
            self.assertEqual(decode(EPOCH, payload), None, payload)
        self.assertTrue(self.log.has("holds no message"))


class FailingRing:
    """A RingStore whose medium fails (full, or gone)."""

    def append(self, time, payload):
        raise OSError(28, "No space left on device")


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.log = Lines()
        log.set_stream(self.log)
        self.dir = scratch_dir()
        self.ring = RingStore(self.dir + "/events.ring", 4096, max_payload=256)
        self.devices = []

    def tearDown(self):
        for device, loop in self.devices:
            device.io.close()
            loop.close()
        self.ring.close()
        remove_tree(self.dir)
        log.set_stream(None)

    def device(self, store):
        device, hal, loop, clock, messages = make_device(store=store)
        self.devices.append((device, loop))
        return device, hal, messages

    def test_every_published_message_is_stored_and_no_subscriber_copy(self):
        device, hal, published = self.device(EventStore(self.ring))
        client = InMemoryClient(build_app(device, policy=AllowAll()))
        client.call("<tev:CreatePullPointSubscription/>", path="/onvif/event_service")
        hal.inputs[0].set(True)
        device.io.set_relay_state("R1", "active")
        self.assertEqual([m.operation for m in published], ["Initialized"] * 4 + ["Changed"] * 2)
        self.assertEqual(stored(self.ring), [fields(m) for m in published])

    def test_a_failing_store_never_breaks_the_publisher(self):
        device, hal, published = self.device(EventStore(FailingRing()))
        received = []
        device.bus.listen(received.append)
        hal.inputs[0].set(True)
        self.assertEqual([m.operation for m in received], ["Changed"], "still delivered")
        self.assertTrue(self.log.has("Device/Trigger/DigitalInput at %d not stored: " % EPOCH))

    def test_a_message_over_the_payload_limit_is_logged_not_stored(self):
        store = EventStore(RingStore(self.dir + "/small.ring", 1024, max_payload=64))
        store.record(Message("Device/Trigger/Relay", EPOCH, "Changed", (("RelayToken", "R" * 64),),
                             (("LogicalState", "active"),)))
        self.assertEqual(store.ring.count, 0)
        self.assertTrue(self.log.has("over max_payload"))
        store.close()

    def test_begin_when_records_are_overwritten_under_a_forward_replay(self):
        store = EventStore(self.ring)
        notes = []

        def note():
            i = len(notes)
            notes.append(Message("Monitoring/Note", EPOCH + i, None, (), (("Text", "%03d" % i),)))
            store.record(notes[-1])
        for _ in range(10):
            note()
        replay = store.replay(EPOCH, False, EPOCH + 100)  # the buffer's start: no Begin
        self.assertEqual([fields(m) for m in replay.take(lambda m: True, 2)],
                         [fields(m) for m in notes[:2]])
        while self.ring.first_seq <= 3:  # the next record the replay reads is overwritten
            note()
        self.assertTrue(self.ring.first_seq <= 10, "some of the Seek's records survive")
        rest = replay.take(lambda m: True, 100)
        self.assertEqual(fields(rest[0]), ("EventBuffer/Begin", EPOCH + 1, None, (), ()),
                         "Begin at the time of the last record read")
        self.assertEqual([fields(m) for m in rest[1:]],
                         [fields(m) for m in notes[self.ring.first_seq - 1:10]],
                         "then the survivors up to the newest stored at the Seek")
        self.assertEqual(replay.take(lambda m: True, 100), [], "Begin once, nothing more")

    def test_open_event_store(self):
        self.assertEqual(open_event_store(self.dir + "/off.ring", 0), None)
        self.assertRaises(ConfigError, open_event_store, self.dir + "/tiny.ring", 1000)
        self.assertEqual(open_event_store(self.dir + "/no/such/dir/events.ring", 65536), None)
        self.assertTrue(self.log.has("persistent event storage off: cannot open"))
        store = open_event_store(self.dir + "/events2.ring", 8192)
        self.assertEqual((store.ring.capacity, store.ring.count), (8192, 0))
        store.close()
