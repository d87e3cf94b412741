"""The event filters and WS-BN faults against independent implementations (CPython only):
every fault the filters raise validates, Detail included, against the official schemas
(checklist 10.11), and the ItemFilter evaluation agrees with lxml's XPath 1.0 engine on the same
tt:Message for many generated expressions (checklist 10.7)."""

import random

import pytest
from lxml import etree

from agent.bus import Message
from agent.datetimes import format_datetime
from agent.itemfilter import ITEM_FILTER, TT, parse_item_filter
from agent.notification import write_notification
from agent.soap import SoapFault
from agent.topicfilter import CONCRETE, parse_topic_expression
from agent.wsnfaults import WSNT, WSRF_R, wsn_fault
from agent.xmlwrite import XmlWriter
from tests import schema
from tests.test_topicfilter import NOW, NSMAP, TOPICS, render_fault

ENV = "{http://www.w3.org/2003/05/soap-envelope}"


def raised(call, *args):
    with pytest.raises(SoapFault) as info:
        call(*args)
    return info.value


FAULTS = {
    "TopicExpressionDialectUnknownFault":
        lambda: raised(parse_topic_expression, "tns1:Device//.", "urn:x", NSMAP, TOPICS, NOW),
    "InvalidTopicExpressionFault":
        lambda: raised(parse_topic_expression, "tns1:Device//.", CONCRETE, NSMAP, TOPICS, NOW),
    "TopicNotSupportedFault":
        lambda: raised(parse_topic_expression, "x:Device", CONCRETE, NSMAP, TOPICS, NOW),
    "InvalidMessageContentExpressionFault":
        lambda: raised(parse_item_filter, "boolean(", ITEM_FILTER, NSMAP, NOW),
    "ResourceUnknownFault": lambda: wsn_fault("ResourceUnknownFault", "no such pull point", NOW,
                                              WSRF_R),
    "UnacceptableInitialTerminationTimeFault": lambda: wsn_fault(
        "UnacceptableInitialTerminationTimeFault", "too long", NOW,
        extra=[("MinimumTime", format_datetime(NOW + 60)),
               ("MaximumTime", format_datetime(NOW + 3600))]),
    "UnableToGetMessagesFault": lambda: wsn_fault("UnableToGetMessagesFault", "busy", NOW),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_validates_with_its_detail(name):
    status, data = render_fault(FAULTS[name]())
    assert status == 500
    root = schema.validate_envelope(data)
    code, subcodes = schema.fault_codes(root)
    assert (code, subcodes) == ((ENV[1:-1], "Receiver"), [])
    (detail,) = root.find(ENV + "Body").find(ENV + "Fault").find(ENV + "Detail")
    assert etree.QName(detail.tag).localname == name
    # env:Detail's wildcard is lax: only a declared element is really checked
    assert detail.tag in schema.schema_set().maps.elements


def test_schema_check_reaches_into_the_detail():
    def no_timestamp(w):
        w.leaf("http://docs.oasis-open.org/wsn/b-2", "TopicNotSupportedFault")
    fault = SoapFault("Receiver", reason="x", detail=no_timestamp)
    with pytest.raises(AssertionError, match="Timestamp"):
        schema.validate_envelope(render_fault(fault)[1])
    missing = wsn_fault("UnacceptableTerminationTimeFault", "x", NOW)  # needs MinimumTime
    with pytest.raises(AssertionError, match="MinimumTime"):
        schema.validate_envelope(render_fault(missing)[1])


# ItemFilter against lxml -------------------------------------------------------------------

NAMES = ("InputToken", "LogicalState", "RelayToken", "it's", 'say "x"', "T\u00fcr", "")
VALUES = ("true", "false", "IN1", "R1", "active", "it's", " a\tb&<c> ", "")


def message_xml(message):
    """The tt:Message of `message` exactly as a notification carries it."""
    out = []
    w = XmlWriter(out.append)
    write_notification(w, message)
    w.close()
    return etree.fromstring(b"".join(out)).find("{%s}Message/{%s}Message" % (WSNT, TT))


def literal(rng, text):
    """An XPath string literal for `text` in a quote style it allows (None if neither does)."""
    quotes = [q for q in "\"'" if q not in text]
    if not quotes:
        return None
    quote = rng.choice(quotes)
    return quote + text + quote


def space(rng):
    return rng.choice(("", "", " ", "\n\t", "  "))


def boolean_tree(rng, depth, leaf):
    """A random expression of the 'or'/'and'/'not'/parentheses grammar over `leaf(rng)`."""
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        return leaf(rng)
    if roll < 0.55:
        return "not%s(%s%s%s)" % (space(rng), space(rng), boolean_tree(rng, depth - 1, leaf),
                                  space(rng))
    if roll < 0.65:
        return "(%s)" % boolean_tree(rng, depth - 1, leaf)
    operator = rng.choice(("and", "or"))
    terms = [boolean_tree(rng, depth - 1, leaf) for _ in range(rng.randint(2, 3))]
    return (" %s " % operator).join(terms)


def attribute_test(rng):
    while True:
        pool = NAMES if rng.random() < 0.5 else VALUES
        quoted = literal(rng, rng.choice(pool))
        if quoted is not None:
            attribute = "Name" if pool is NAMES else "Value"
            return "@%s%s=%s%s" % (attribute, space(rng), space(rng), quoted)


def item_test(rng):
    kind = "ElementItem" if rng.random() < 0.3 else "SimpleItem"
    prefix = rng.choice(("tt", "onvif"))
    return "boolean(%s//%s:%s[%s%s%s])" % (space(rng), prefix, kind, space(rng),
                                          boolean_tree(rng, 2, attribute_test), space(rng))


def random_message(rng):
    def items():  # SimpleItems, and sometimes an ElementItem (as LinkStatus's Link)
        element = ("NetworkInterfaceConnectionSetting", (("Duplex", rng.choice(VALUES)),))
        return (tuple((rng.choice(NAMES), rng.choice(VALUES)) for _ in range(rng.randint(0, 3)))
                + tuple((rng.choice(NAMES), element) for _ in range(rng.randint(0, 1))))
    return Message("Device/Trigger/Relay", NOW, None, items(), items())


def test_item_filter_agrees_with_lxml_xpath():
    rng = random.Random(7)
    namespaces = {"tt": TT, "onvif": TT}
    messages = [random_message(rng) for _ in range(40)]
    documents = [message_xml(m) for m in messages]
    checked = matched = 0
    for _ in range(400):
        text = boolean_tree(rng, 3, item_test)
        if len(text) > 1024:
            continue
        selection = parse_item_filter(text, ITEM_FILTER, namespaces, NOW)
        xpath = etree.XPath(text, namespaces=namespaces)
        for message, document in zip(messages, documents):
            expected = bool(xpath(document))
            assert selection.matches(message) == expected, (text, message)
            matched += expected
            checked += 1
    assert checked > 10000
    assert 0.1 < matched / checked < 0.9  # the expressions are not all trivially true or false

