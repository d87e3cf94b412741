"""agent.topicfilter: the Concrete and ConcreteSet topic expressions (checklist 10.8), and the
WS-BN faults of agent.wsnfaults as they go on the wire (checklist 10.11)."""

import unittest

from agent.bus import TNS1, EventBus
from agent.replies import fault_reply
from agent.soap import SOAP12, SoapFault
from agent.topicfilter import MAX_LENGTH, MAX_PATHS, MAX_SEGMENTS, parse_topic_expression
from agent.topics import CONCRETE, CONCRETE_SET, TOPIC_DIALECTS
from agent.wsnfaults import WSNT, WSRF_BF, WSRF_R, wsn_fault
from agent.xmltree import parse
from agent.xmlwrite import XML_NS

TOPICS = ["Device/Trigger/Relay", "Device/Trigger/DigitalInput", "EventBuffer/Begin",
          "Monitoring/ProcessorUsage", "Monitoring/OperatingTime/LastReset"]
NSMAP = {"tns1": TNS1, "tt": "http://www.onvif.org/ver10/schema", "x": "urn:vendor"}
NOW = 1700000000
NOW_TEXT = "2023-11-14T22:13:20Z"


def topic_filter(text, dialect=CONCRETE_SET, nsmap=NSMAP, topics=TOPICS):
    return parse_topic_expression(text, dialect, nsmap, topics, NOW)


def selected(text, dialect=CONCRETE_SET, nsmap=NSMAP):
    """The TOPICS an expression selects."""
    selection = topic_filter(text, dialect, nsmap)
    return [topic for topic in TOPICS if selection.matches(topic)]


def fault_name(call, *args):
    """Local name of the Detail element of the WS-BN fault `call(*args)` raises."""
    try:
        call(*args)
    except SoapFault as fault:
        ns, name = fault.detail.element
        assert ns == WSNT, ns
        return name
    raise AssertionError("no fault")


def render_fault(fault):
    """(HTTP status, envelope bytes) of a fault, written as the agent answers it."""
    reply = fault_reply(fault)
    out = []
    reply.write(out.append)
    return reply.status, b"".join(out)


class ConcreteTest(unittest.TestCase):
    def test_one_path_selects_exactly_that_topic(self):
        self.assertEqual(selected("tns1:Device/Trigger/Relay", CONCRETE), ["Device/Trigger/Relay"])
        selection = topic_filter("tns1:Device/Trigger/Relay", CONCRETE)
        for other in ("Device/Trigger", "Device/Trigger/Relay/Sub", "Device/Trigger/RelayX", ""):
            self.assertFalse(selection.matches(other), other)

    def test_no_set_and_no_subtree(self):
        for text in ("tns1:Device/Trigger/Relay|tns1:EventBuffer/Begin", "tns1:Device//."):
            self.assertEqual(fault_name(topic_filter, text, CONCRETE),
                             "InvalidTopicExpressionFault", text)

    def test_whitespace_around_the_path(self):
        self.assertEqual(selected("\n\t tns1:EventBuffer/Begin \r\n", CONCRETE),
                         ["EventBuffer/Begin"])


class ConcreteSetTest(unittest.TestCase):
    def test_paths_joined_by_bar(self):
        self.assertEqual(selected("tns1:EventBuffer/Begin|tns1:Device/Trigger/DigitalInput"),
                         ["Device/Trigger/DigitalInput", "EventBuffer/Begin"])

    def test_whitespace_around_each_path(self):
        self.assertEqual(selected(" tns1:EventBuffer/Begin |\n\ttns1:Device//.\n"),
                         ["Device/Trigger/Relay", "Device/Trigger/DigitalInput",
                          "EventBuffer/Begin"])

    def test_subtree_is_the_topic_and_its_descendants(self):
        self.assertEqual(selected("tns1:Monitoring//."), ["Monitoring/ProcessorUsage",
                                                           "Monitoring/OperatingTime/LastReset"])
        self.assertEqual(selected("tns1:Device/Trigger/Relay//."), ["Device/Trigger/Relay"])
        selection = topic_filter("tns1:Device/Trigger//.")
        self.assertTrue(selection.matches("Device/Trigger"))
        self.assertTrue(selection.matches("Device/Trigger/Relay/Deep"))
        self.assertFalse(selection.matches("Device/TriggerX/Relay"))  # a name, not a string prefix
        self.assertFalse(selection.matches("Device"))

    def test_without_subtree_descendants_are_not_selected(self):
        self.assertEqual(fault_name(topic_filter, "tns1:Monitoring"), "TopicNotSupportedFault")

    def test_paths_matching_nothing_are_dropped_when_another_matches(self):
        self.assertEqual(selected("tns1:VideoSource//.|x:Door//.|tns1:EventBuffer/Begin"),
                         ["EventBuffer/Begin"])

    def test_bus_messages_by_topic(self):
        bus = EventBus(lambda: NOW)
        seen = []
        bus.listen(seen.append)
        bus.set_property("Device/Trigger/Relay", [("RelayToken", "R1")],
                         [("LogicalState", "active")])
        bus.set_property("Device/Trigger/DigitalInput", [("InputToken", "IN1")],
                         [("LogicalState", "true")])
        bus.publish("Monitoring/ProcessorUsage", [], [("Value", "3.5")])
        selection = topic_filter("tns1:Device/Trigger/DigitalInput | tns1:Monitoring//.")
        self.assertEqual([m.topic for m in seen if selection.matches(m.topic)],
                         ["Device/Trigger/DigitalInput", "Monitoring/ProcessorUsage"])


class PrefixTest(unittest.TestCase):
    """Prefixes resolve through the namespaces in scope on the TopicExpression element."""

    def test_any_prefix_bound_to_the_onvif_topic_namespace(self):
        self.assertEqual(selected("on:Device/Trigger/Relay", nsmap={"on": TNS1}),
                         ["Device/Trigger/Relay"])

    def test_the_default_namespace_for_an_unprefixed_root(self):
        self.assertEqual(selected("Device/Trigger/Relay|EventBuffer//.", nsmap={"": TNS1}),
                         ["Device/Trigger/Relay", "EventBuffer/Begin"])

    def test_unprefixed_root_without_default_namespace_is_in_no_namespace(self):
        self.assertEqual(fault_name(topic_filter, "Device/Trigger/Relay"), "TopicNotSupportedFault")

    def test_qualified_children_resolve_too(self):
        nsmap = {"tns1": TNS1, "t": TNS1, "x": "urn:vendor"}
        self.assertEqual(selected("tns1:Device/t:Trigger/tns1:Relay", nsmap=nsmap),
                         ["Device/Trigger/Relay"])
        for text in ("tns1:Device/x:Trigger/Relay", "tns1:Device/Trigger/x:Relay"):
            self.assertEqual(fault_name(topic_filter, text, CONCRETE_SET, nsmap),
                             "TopicNotSupportedFault", text)

    def test_another_namespace_is_not_supported_rather_than_invalid(self):
        self.assertEqual(fault_name(topic_filter, "x:Device/Trigger/Relay"),
                         "TopicNotSupportedFault")
        # the same names, bound the other way round
        nsmap = {"tns1": "urn:vendor", "x": TNS1}
        self.assertEqual(fault_name(topic_filter, "tns1:Device//.", CONCRETE_SET, nsmap),
                         "TopicNotSupportedFault")
        self.assertEqual(selected("x:Device//.", nsmap=nsmap),
                         ["Device/Trigger/Relay", "Device/Trigger/DigitalInput"])

    def test_undeclared_prefix_is_invalid(self):
        for text in ("y:Device//.", "tns1:Device/y:Trigger/Relay", "tns1:EventBuffer/Begin|y:A"):
            self.assertEqual(fault_name(topic_filter, text), "InvalidTopicExpressionFault", text)


class FaultTest(unittest.TestCase):
    def test_unknown_dialects(self):
        for dialect in ("http://docs.oasis-open.org/wsn/t-1/TopicExpression/Simple",
                        "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Full",
                        "http://www.w3.org/TR/1999/REC-xpath-19991116", CONCRETE + "/", ""):
            self.assertEqual(fault_name(topic_filter, "tns1:Device//.", dialect),
                             "TopicExpressionDialectUnknownFault", dialect)

    def test_dialect_whitespace_is_collapsed(self):
        self.assertEqual(TOPIC_DIALECTS, (CONCRETE_SET, CONCRETE))
        self.assertEqual(selected("tns1:EventBuffer/Begin", " %s\n" % CONCRETE),
                         ["EventBuffer/Begin"])

    def test_syntax_errors(self):
        for text in ("", "   ", "|", "tns1:EventBuffer/Begin|", "|tns1:EventBuffer/Begin",
                     "tns1:EventBuffer/Begin||tns1:Device//.", "tns1:Device/", "/tns1:Device",
                     "tns1:Device//Trigger", "tns1:Device/*", "*", "tns1:*", "tns1:Device/.",
                     "tns1:Device//.//.", "tns1:Device//./Trigger", "tns1:Device/..",
                     "tns1:Device //.", "tns1: Device", "tns1:Device /Trigger",
                     "tns1:Device Trigger", "tns1:a:b", ":Device", "tns1:", "tns1:1Device",
                     "tns1:Device/Trig ger", "tns1:Device[1]", "tns1:Device/@x", "tns1:Dev&ice"):
            self.assertEqual(fault_name(topic_filter, text), "InvalidTopicExpressionFault",
                             repr(text))

    def test_no_such_topic(self):
        for text in ("tns1:Device/Trigger", "tns1:Device", "tns1:RuleEngine//.",
                     "tns1:Device/Trigger/Relay/Sub", "tns1:device/trigger/relay"):
            self.assertEqual(fault_name(topic_filter, text), "TopicNotSupportedFault", text)

    def test_the_fault_detail(self):
        try:
            topic_filter("tns1:Device//.", "urn:unknown")
        except SoapFault as fault:
            self.assertEqual(fault.code, "Receiver")
            self.assertEqual(fault.subcodes, [])
            self.assertEqual(fault.status, 500)
            self.assertEqual(fault.detail.element, (WSNT, "TopicExpressionDialectUnknownFault"))
            self.assertEqual(fault.detail.timestamp, NOW_TEXT)
            return
        self.fail("no fault")


class BoundsTest(unittest.TestCase):
    def test_length(self):
        path = "tns1:Device//."
        longest = "|".join([path] * 16) + " " * (MAX_LENGTH - 16 * len(path) - 15)
        self.assertEqual(len(longest), MAX_LENGTH)
        self.assertEqual(selected(longest), ["Device/Trigger/Relay", "Device/Trigger/DigitalInput"])
        self.assertEqual(fault_name(topic_filter, longest + " "), "InvalidTopicExpressionFault")
        self.assertEqual(fault_name(topic_filter, "tns1:" + "A/" * 5000 + "B"),
                         "InvalidTopicExpressionFault")

    def test_number_of_paths(self):
        most = "|".join(["tns1:EventBuffer/Begin"] * MAX_PATHS)
        self.assertEqual(selected(most), ["EventBuffer/Begin"])
        self.assertEqual(fault_name(topic_filter, most + "|tns1:EventBuffer/Begin"),
                         "InvalidTopicExpressionFault")

    def test_number_of_names_in_a_path(self):
        deepest = "/".join(["N%d" % i for i in range(MAX_SEGMENTS)])
        topics = TOPICS + [deepest]
        parse_topic_expression("tns1:" + deepest, CONCRETE, NSMAP, topics, NOW)
        self.assertEqual(fault_name(parse_topic_expression, "tns1:" + deepest + "/N", CONCRETE,
                                    NSMAP, topics + [deepest + "/N"], NOW),
                         "InvalidTopicExpressionFault")


class WsnFaultTest(unittest.TestCase):
    """Every WS-BN fault as sent: env:Receiver, HTTP 500, the element in env:Detail with a UTC
    wsrf-bf:Timestamp (checklist 10.11)."""

    def detail_of(self, fault):
        status, data = render_fault(fault)
        self.assertEqual(status, 500)
        body = parse(data).find(SOAP12, "Body").find(SOAP12, "Fault")
        code = body.find(SOAP12, "Code")
        self.assertEqual(code.resolve_qname(code.findtext(SOAP12, "Value")), (SOAP12, "Receiver"))
        self.assertIsNone(code.find(SOAP12, "Subcode"))
        self.assertEqual(body.find(SOAP12, "Reason").findtext(SOAP12, "Text"), "Nothing here")
        (element,) = body.find(SOAP12, "Detail").children
        return element

    def test_a_ws_basenotification_fault(self):
        element = self.detail_of(wsn_fault("TopicNotSupportedFault", "Nothing here", NOW))
        self.assertEqual((element.ns, element.name), (WSNT, "TopicNotSupportedFault"))
        self.assertEqual([(child.ns, child.name, child.text) for child in element.children],
                         [(WSRF_BF, "Timestamp", NOW_TEXT),
                          (WSRF_BF, "Description", "Nothing here")])
        self.assertEqual(element.children[1].attrs, {(XML_NS, "lang"): "en"})

    def test_resource_unknown_is_a_wsrf_resource_fault(self):
        element = self.detail_of(wsn_fault("ResourceUnknownFault", "Nothing here", NOW + 0.9,
                                           WSRF_R))
        self.assertEqual((element.ns, element.name),
                         ("http://docs.oasis-open.org/wsrf/r-2", "ResourceUnknownFault"))
        self.assertEqual(element.find(WSRF_BF, "Timestamp").text, NOW_TEXT)

    def test_fault_types_with_children_of_their_own(self):
        fault = wsn_fault("UnacceptableInitialTerminationTimeFault", "Nothing here", NOW,
                          extra=[("MinimumTime", NOW_TEXT),
                                 ("MaximumTime", "2023-11-15T00:00:00Z")])
        element = self.detail_of(fault)
        self.assertEqual([(child.ns, child.name) for child in element.children],
                         [(WSRF_BF, "Timestamp"), (WSRF_BF, "Description"), (WSNT, "MinimumTime"),
                          (WSNT, "MaximumTime")])
        self.assertEqual(element.children[3].text, "2023-11-15T00:00:00Z")
