"""wsnt:NotificationMessage with its tt:Message (checklist 10.4): the one writer used by
PullMessages responses and Notify pushes."""

from .bus import TNS1
from .datetimes import format_datetime

WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSA = "http://www.w3.org/2005/08/addressing"
TT = "http://www.onvif.org/ver10/schema"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"


def write_element_item(w, name, value):
    """tt:ElementItem holding one tt: element named after its type (the ElementItemDescription's
    Type), e.g. Monitoring/LinkStatus's Link: ("NetworkInterfaceConnectionSetting",
    (("AutoNegotiation", "true"), ("Speed", "1000"), ("Duplex", "Full"))). Bus messages carry
    such a value as (element, ((child, text), ...)); it survives agent.eventstore's JSON."""
    element, children = value
    w.start(TT, "ElementItem", attrs=[("Name", name)])
    w.start(TT, element)
    for child, text in children:
        w.leaf(TT, child, text)
    w.end()
    w.end()


def write_notification(w, message, subscription_url=None, producer_url=None):
    w.start(WSNT, "NotificationMessage")
    if subscription_url is not None:
        w.start(WSNT, "SubscriptionReference")
        w.leaf(WSA, "Address", subscription_url)
        w.end()
    # The topic's prefix must be declared in scope of the text that uses it (10.4).
    w.start(WSNT, "Topic", attrs=[("Dialect", CONCRETE_SET)], declare=[TNS1])
    w.text(w.qname(TNS1, message.topic))
    w.end()
    if producer_url is not None:
        w.start(WSNT, "ProducerReference")
        w.leaf(WSA, "Address", producer_url)
        w.end()
    w.start(WSNT, "Message")
    attrs = [("UtcTime", format_datetime(message.time))]
    if message.operation is not None:
        attrs.append(("PropertyOperation", message.operation))
    w.start(TT, "Message", attrs=attrs)
    for group, items in (("Source", message.source), ("Data", message.data)):
        w.start(TT, group)
        # tt:ItemList: every SimpleItem before the ElementItems.
        for name, value in items:
            if isinstance(value, str):
                w.leaf(TT, "SimpleItem", attrs=[("Name", name), ("Value", value)])
        for name, value in items:
            if not isinstance(value, str):
                write_element_item(w, name, value)
        w.end()
    w.end()
    w.end()
    w.end()
