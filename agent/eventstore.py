"""Persistent notification storage (issue 7, checklist 10.2, 10.12): the bus's messages kept in
an agent.ringstore.RingStore so a pull point can Seek into the past, even across restarts.

What is stored: every message the bus hands its listeners, in the order published: Changed and
Deleted property messages, non-property events, and the Initialized message an instance
publishes when it first appears (at start-up, or a new instance), which records the state it
started in. The Initialized copies made for each subscriber (on subscribing and on
SetSynchronizationPoint, agent.bus.EventBus.initialized) are not events and never reach the
listeners, so they are not stored. Nor are periodic measurements (agent.topics.LIVE_ONLY:
ProcessorUsage, sensor readings): every few seconds, they would wrap the ring and push the door
events out.

A record's time is the message's UtcTime (whole seconds); its payload is the rest as compact
JSON: [topic, operation, [[name, value], ...] source, [[name, value], ...] data].

A Seek (agent.subscriptions) gives its pull point a Replay: a cursor seq into the ring, read a
PullMessages' worth at a time, so a pull point holds no copy of the stored messages.
"""

import json

from . import log
from .bus import Message
from .errors import ConfigError
from .ringstore import RingStore
from .topics import BUFFER_BEGIN, LIVE_ONLY

# The longest payload stored: a message with 64-character tokens is under 300 bytes.
MAX_PAYLOAD = 1024


def encode(message):
    """The payload of a bus Message (its time goes in the record's time field)."""
    return json.dumps([message.topic, message.operation, message.source, message.data],
                      separators=(",", ":")).encode()


def decode(time, payload):
    """The Message a record holds, or None (logged) if its payload is no stored message."""
    try:
        topic, operation, source, data = json.loads(payload)
        return Message(topic, time, operation, _items(source), _items(data))
    except (ValueError, TypeError):  # not JSON, or not of the shape encode() writes
        log.warning("event store: a record of time %d holds no message", time)
        return None


def _items(pairs):
    return tuple((name, value) for name, value in pairs)


class EventStore:
    """The device's stored notifications: `record` is the bus listener, `replay` starts a
    Seek."""

    def __init__(self, ring):
        self.ring = ring

    def record(self, message):
        """Store one bus message durably. A failure (a full or failing medium, a payload over
        MAX_PAYLOAD) is logged and swallowed: a relay or an input must never fail because its
        event could not be stored, and live subscribers still receive it."""
        if message.topic in LIVE_ONLY:
            return
        try:
            self.ring.append(int(message.time), encode(message))
        except (OSError, ValueError) as exc:
            log.warning("event store: %s at %d not stored: %s", message.topic, message.time, exc)

    def latest(self, count):
        """The last `count` stored messages, newest first, reading the ring backwards only as
        far as needed (the installer status page, issue 9)."""
        messages = []
        for _, time, payload in self.ring.scan(reverse=True):
            message = decode(time, payload)
            if message is not None:
                messages.append(message)
                if len(messages) >= count:
                    break
        return messages

    def replay(self, when, reverse, now):
        """A pull point's Replay from UTC seconds `when` (checklist 10.1 Seek)."""
        return Replay(self.ring, when, reverse, now)

    def close(self):
        self.ring.close()


class Replay:
    """Where one pull point reads the stored messages after a Seek (checklist 10.1, 10.12).

    Forward: from the first record with time >= `when`, oldest first, up to the newest record
    stored at the Seek; what is published later reaches the pull point live (its queue).
    Reverse: from the last record with time <= `when`, newest first, down to the oldest; live
    messages are then not delivered (they lie the other way; a forward Seek reads them).

    tns1:EventBuffer/Begin (10.12), at most once per Seek: first when the Seek targeted a time
    before the oldest record (or the store is empty), else when reading runs past the buffer's
    start: reverse at its end, forward when the records the cursor pointed at were overwritten.
    It carries the time of the last record read, else of the oldest stored, else the Seek's, so
    UtcTime keeps the replay's order, and passes any filter: it answers the client's own Seek.
    """

    def __init__(self, ring, when, reverse, now):
        self.ring = ring
        self.reverse = reverse
        self.cursor = ring.seek(when, reverse)  # the next seq to read; None: nothing left
        self.end = ring.last_seq                 # forward: the newest stored at the Seek
        self.begin_owed = not reverse and (ring.first_time is None or when < ring.first_time)
        self.begin_sent = False
        self.last_time = None                    # of the last record read
        self.now = now

    def take(self, wants, limit):
        """Up to `limit` messages passing `wants(message)`, moving the cursor past them."""
        taken = []
        if self.reverse:
            self._backward(wants, limit, taken)
        else:
            self._forward(wants, limit, taken)
        return taken

    def _forward(self, wants, limit, taken):
        first = self.ring.first_seq
        if self.cursor is not None and first is not None and self.cursor < first:
            self.begin_owed = True  # overwritten under the cursor: read past the start (10.12)
        if self.begin_owed:
            self._begin(taken)
        if self.cursor is None:
            return
        for seq, time, payload in self.ring.scan(self.cursor):
            if seq > self.end:
                break
            if len(taken) >= limit:
                return
            self._read(seq + 1, time, payload, wants, taken)
        self.cursor = None

    def _backward(self, wants, limit, taken):
        if self.cursor is not None:
            for seq, time, payload in self.ring.scan(self.cursor, reverse=True):
                if len(taken) >= limit:
                    return
                self._read(seq - 1, time, payload, wants, taken)
            self.cursor = None
        if len(taken) < limit:
            self._begin(taken)  # read past the buffer's start (10.12)

    def _read(self, cursor, time, payload, wants, taken):
        self.cursor = cursor
        self.last_time = time
        message = decode(time, payload)
        if message is not None and wants(message):
            taken.append(message)

    def _begin(self, taken):
        """EventBuffer/Begin, unless this Seek has had it (no items, not a property)."""
        self.begin_owed = False
        if self.begin_sent:
            return
        self.begin_sent = True
        time = self.last_time
        if time is None:
            time = self.ring.first_time if self.ring.first_time is not None else self.now
        taken.append(Message(BUFFER_BEGIN.path, time, None, (), ()))


def open_event_store(path, capacity):
    """The EventStore in a ring file of `capacity` bytes at `path` (the board file's
    event_storage_bytes), or None: 0 turns storage off, and a file that cannot be opened is
    logged and leaves it off (capabilities then say so). Too small a capacity is ConfigError."""
    if not capacity:
        return None
    try:
        return EventStore(RingStore(path, capacity, max_payload=MAX_PAYLOAD))
    except ValueError as exc:
        raise ConfigError("board field event_storage_bytes: %s" % exc)
    except OSError as exc:
        log.warning("persistent event storage off: cannot open %s: %s", path, exc)
        return None
