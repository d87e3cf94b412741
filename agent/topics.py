"""The one registry of this device's event topics (checklist 10.6, 10.8, 9.6): what
GetEventProperties describes, what topic filters may name, and what the bus publishes.

Topics are paths under the ONVIF topic namespace (agent.bus.TNS1). Each has its message
description: whether it is a property, and its Source and Data items with their types.
"""

from .bus import TNS1
from .clock import LAST_SYNCHRONIZATION

TT = "http://www.onvif.org/ver10/schema"
WSTOP = "http://docs.oasis-open.org/wsn/t-1"
XS = "http://www.w3.org/2001/XMLSchema"
TOPIC_NAMESPACE_LOCATION = "http://www.onvif.org/onvif/ver10/topics/topicns.xml"
MESSAGE_SCHEMA_LOCATION = "http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
# The filter dialects GetEventProperties offers; their parsers (agent.topicfilter,
# agent.itemfilter) are loaded only when a subscription names a filter.
CONCRETE = "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
TOPIC_DIALECTS = (CONCRETE_SET, CONCRETE)
ITEM_FILTER = "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"


class Topic:
    """A topic path, whether it is a property, and its (item name, (ns, type)) lists: Source
    and Data SimpleItems, Data ElementItems (`elements`, XML content of the named type).
    `stored` False keeps a periodic measurement out of the persistent notification storage
    (agent.eventstore): its 64 KiB ring is for door events, not a CPU reading every 5 s."""

    def __init__(self, path, is_property, source=(), data=(), elements=(), stored=True):
        self.path = path
        self.is_property = is_property
        self.source = source
        self.data = data
        self.elements = elements
        self.stored = stored


DIGITAL_INPUT = Topic("Device/Trigger/DigitalInput", True,
                      [("InputToken", (TT, "ReferenceToken"))],
                      [("LogicalState", (XS, "boolean"))])
RELAY = Topic("Device/Trigger/Relay", True,
              [("RelayToken", (TT, "ReferenceToken"))],
              [("LogicalState", (TT, "RelayLogicalState"))])
# Checklist 10.12: sent when a pull reads past the start of the stored buffer.
BUFFER_BEGIN = Topic("EventBuffer/Begin", False)
# Checklist 8.7: the device time was last set (SetSystemDateAndTime, agent.clock).
LAST_CLOCK_SYNCHRONIZATION = Topic(LAST_SYNCHRONIZATION, True, (),
                                   [("Status", (XS, "dateTime"))])

# Checklist 8.7 monitoring (published by agent.monitoring; which exist depends on the device).
PROCESSOR_USAGE = Topic("Monitoring/ProcessorUsage", True, [("Token", (TT, "ReferenceToken"))],
                        [("Value", (XS, "float"))], stored=False)
LAST_REBOOT = Topic("Monitoring/OperatingTime/LastReboot", True, (),
                    [("Status", (XS, "dateTime"))])
LAST_RESET = Topic("Monitoring/OperatingTime/LastReset", True, (),
                   [("Status", (XS, "dateTime"))])
BACKUP_LAST = Topic("Monitoring/Backup/Last", True, (), [("Status", (XS, "dateTime"))])
LINK_STATUS = Topic("Monitoring/LinkStatus", True, [("Token", (TT, "ReferenceToken"))],
                    elements=[("Link", (TT, "NetworkInterfaceConnectionSetting"))])
# Core defines no items for it: not a property, no items (checklist 8.7, our choice).
SHUTDOWN_INITIATED = Topic("Device/OperationMode/ShutdownInitiated", False)
TEMPERATURE = Topic("Monitoring/EnvironmentalConditions/Temperature", True, (),
                    [("Status", (XS, "float"))], stored=False)
RELATIVE_HUMIDITY = Topic("Monitoring/EnvironmentalConditions/RelativeHumidity", True, (),
                          [("Status", (XS, "float"))], stored=False)
BATTERY_CAPACITY = Topic("Monitoring/BatteryCapacity", True, (),
                         [("PercentageRemainingCapacity", (XS, "float"))], stored=False)
ALL_TOPICS = (DIGITAL_INPUT, RELAY, BUFFER_BEGIN, LAST_CLOCK_SYNCHRONIZATION, PROCESSOR_USAGE,
              LAST_REBOOT, LAST_RESET, BACKUP_LAST, LINK_STATUS, SHUTDOWN_INITIATED, TEMPERATURE,
              RELATIVE_HUMIDITY, BATTERY_CAPACITY)
# Paths of the topics whose messages agent.eventstore does not keep.
LIVE_ONLY = [topic.path for topic in ALL_TOPICS if not topic.stored]


def device_topics(io, storage, monitor=None):
    """The topics this device has: one per kind of I/O it has, the clock's, EventBuffer/Begin
    with storage, and what its agent.monitoring.Monitor publishes."""
    topics = [LAST_CLOCK_SYNCHRONIZATION]
    if monitor is not None:
        topics.extend(monitor.topics())
    if io.inputs:
        topics.append(DIGITAL_INPUT)
    if io.relays:
        topics.append(RELAY)
    if storage:
        topics.append(BUFFER_BEGIN)
    return topics


def write_topic_set(w, topics):
    """wstop:TopicSet: the topic tree, each leaf marked wstop:topic with its description."""
    w.start(WSTOP, "TopicSet")
    opened = []
    for topic in sorted(topics, key=lambda t: t.path):
        parts = topic.path.split("/")
        common = 0
        while common < len(opened) and common < len(parts) - 1 and opened[common] == parts[common]:
            common += 1
        while len(opened) > common:  # MicroPython lists have no slice deletion
            opened.pop()
            w.end()
        for name in parts[common:-1]:
            w.start(TNS1, name)
            opened.append(name)
        w.start(TNS1, parts[-1], attrs=[((WSTOP, "topic"), True)])
        write_description(w, topic)
        w.end()
    for _ in opened:
        w.end()
    w.end()


def write_description(w, topic):
    """tt:MessageDescription (checklist 10.6): Source and Data item descriptions."""
    w.start(TT, "MessageDescription", attrs=[("IsProperty", topic.is_property)],
            declare=[XS])
    for group, simple, elements in (("Source", topic.source, ()),
                                    ("Data", topic.data, topic.elements)):
        if simple or elements:
            w.start(TT, group)
            for kind, items in (("SimpleItemDescription", simple),
                                ("ElementItemDescription", elements)):
                for name, (ns, type_name) in items:
                    w.leaf(TT, kind, attrs=[("Name", name), ("Type", w.qname(ns, type_name))])
            w.end()
    w.end()
