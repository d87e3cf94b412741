"""The in-process event bus: hardware and device state changes become ONVIF messages here,
and the event service (checklist clause 10) delivers them.

Topics are paths under the ONVIF topic namespace (`tns1`), e.g. "Device/Trigger/Relay".
Property topics (checklist 10.5) keep their live instances: the first value published for an
instance is "Initialized", later ones "Changed", `delete()` sends "Deleted"; `instances()`
lists the live ones, which a new subscription receives as Initialized messages (10.5).
"""

TNS1 = "http://www.onvif.org/ver10/topics"


class Message:
    """One notification: topic path, UTC time (seconds), property operation (None for
    non-property topics), Source and Data items as (name, value) pairs: a text value is a
    SimpleItem, an (element, children) one an ElementItem (agent.notification)."""

    __slots__ = ("topic", "time", "operation", "source", "data")

    def __init__(self, topic, time, operation, source, data):
        self.topic = topic
        self.time = time
        self.operation = operation
        self.source = source
        self.data = data

    def __repr__(self):
        return "<Message %s %s %r %r>" % (self.topic, self.operation, self.source, self.data)


class EventBus:
    """Publish/subscribe inside the agent, on the loop thread only."""

    def __init__(self, clock):
        self.clock = clock
        self.listeners = []
        self._instances = {}  # (topic, source) -> latest Message of a live property instance
        self._order = []      # their keys as they appeared (MicroPython dicts keep no order)

    def listen(self, listener):
        """`listener(message)` for every message from now on."""
        self.listeners.append(listener)

    def unlisten(self, listener):
        if listener in self.listeners:
            self.listeners.remove(listener)

    def set_property(self, topic, source, data):
        """Publish a property instance's value: Initialized the first time, then Changed."""
        key = (topic, tuple(source))
        if key in self._instances:
            operation = "Changed"
        else:
            operation = "Initialized"
            self._order.append(key)
        message = Message(topic, self.clock(), operation, tuple(source), tuple(data))
        self._instances[key] = message
        self._deliver(message)
        return message

    def delete(self, topic, source):
        """The property instance is gone (checklist 10.5 "Deleted")."""
        key = (topic, tuple(source))
        previous = self._instances.pop(key, None)
        if previous is not None:
            self._order.remove(key)
            self._deliver(Message(topic, self.clock(), "Deleted", previous.source, previous.data))

    def publish(self, topic, source, data):
        """A non-property event (no PropertyOperation)."""
        message = Message(topic, self.clock(), None, tuple(source), tuple(data))
        self._deliver(message)
        return message

    def initialized(self, message):
        """A live instance's state as an Initialized message of now (10.5: on subscribing and on
        SetSynchronizationPoint)."""
        return Message(message.topic, self.clock(), "Initialized", message.source, message.data)

    def instances(self):
        """Latest message of every live property instance, in the order they appeared."""
        return [self._instances[key] for key in self._order]

    def _deliver(self, message):
        for listener in list(self.listeners):
            listener(message)
