"""agent.itemfilter: the ItemFilter message content filter (checklist 10.7) against bus Messages:
every grammar rule, precedence, prefixes, the fault and its bounds."""

import unittest

from agent.bus import EventBus, Message
from agent.itemfilter import ITEM_FILTER, MAX_DEPTH, MAX_LENGTH, TT, parse_item_filter
from agent.soap import SoapFault
from agent.wsnfaults import WSNT

NSMAP = {"tt": TT, "tns1": "http://www.onvif.org/ver10/topics", "x": "urn:vendor"}
NOW = 1700000000

RELAY_ON = Message("Device/Trigger/Relay", NOW, "Changed", (("RelayToken", "R1"),),
                   (("LogicalState", "active"),))
RELAY_OFF = Message("Device/Trigger/Relay", NOW, "Changed", (("RelayToken", "R2"),),
                    (("LogicalState", "inactive"),))
INPUT = Message("Device/Trigger/DigitalInput", NOW, "Initialized", (("InputToken", "IN1"),),
                (("LogicalState", "true"),))
BARE = Message("Monitoring/ProcessorUsage", NOW, None, (), ())
MESSAGES = (RELAY_ON, RELAY_OFF, INPUT, BARE)


def item_filter(text, nsmap=NSMAP, dialect=ITEM_FILTER):
    return parse_item_filter(text, dialect, nsmap, NOW)


def item(name=None, value=None, quote='"', prefix="tt:"):
    """boolean(//tt:SimpleItem[...]) testing Name and/or Value."""
    tests = []
    if name is not None:
        tests.append("@Name=%s%s%s" % (quote, name, quote))
    if value is not None:
        tests.append("@Value=%s%s%s" % (quote, value, quote))
    return "boolean(//%sSimpleItem[%s])" % (prefix, " and ".join(tests))


def selected(text, nsmap=NSMAP):
    """Which of MESSAGES the expression lets through, by the token in their Source."""
    selection = item_filter(text, nsmap)
    return [m.source[0][1] if m.source else "-" for m in MESSAGES if selection.matches(m)]


def fault_name(text, nsmap=NSMAP, dialect=ITEM_FILTER):
    try:
        item_filter(text, nsmap, dialect)
    except SoapFault as fault:
        ns, name = fault.detail.element
        assert ns == WSNT, ns
        return name
    raise AssertionError("no fault for %r" % text)


INVALID = "InvalidMessageContentExpressionFault"


class GrammarTest(unittest.TestCase):
    def test_name_and_value_tests_on_one_item(self):
        self.assertEqual(selected(item("LogicalState", "active")), ["R1"])
        self.assertEqual(selected(item("RelayToken")), ["R1", "R2"])
        self.assertEqual(selected(item(value="true")), ["IN1"])

    def test_both_tests_must_hold_for_the_same_item(self):
        # R1's Source has RelayToken=R1 and its Data LogicalState=active: no single item is
        # RelayToken=active, but the message has a RelayToken item and an 'active' item.
        self.assertEqual(selected(item("RelayToken", "active")), [])
        self.assertEqual(selected(item("RelayToken") + " and " + item(value="active")), ["R1"])

    def test_items_of_source_and_data_are_both_tested(self):
        self.assertEqual(selected(item("InputToken", "IN1")), ["IN1"])
        self.assertEqual(selected(item("LogicalState", "true")), ["IN1"])

    def test_both_quote_styles(self):
        self.assertEqual(selected(item("RelayToken", "R2", quote="'")), ["R2"])
        self.assertEqual(selected("boolean(//tt:SimpleItem[@Name='RelayToken' and @Value=\"R2\"])"),
                         ["R2"])
        # each literal runs to its own quote, so the other quote is plain text inside it
        message = Message("t", NOW, None, (), (("Say", "it's \"so\""),))
        self.assertTrue(item_filter("boolean(//tt:SimpleItem[@Value=\"it's \"])").matches(
            Message("t", NOW, None, (), (("Say", "it's "),))))
        self.assertTrue(item_filter("boolean(//tt:SimpleItem[@Value='it' or @Value='so'])")
                        .matches(Message("t", NOW, None, (), (("Say", "so"),))))
        self.assertFalse(item_filter(item(value="it's")).matches(message))

    def test_values_compare_exactly(self):
        for value in ("Active", "active ", " active", "activ", ""):
            self.assertEqual(selected(item("LogicalState", value)), [], repr(value))
        message = Message("t", NOW, None, (("Door", "T\u00fcr 1"),), ())
        self.assertTrue(item_filter(item("Door", "T\u00fcr 1")).matches(message))
        self.assertTrue(item_filter(item(value="")).matches(Message("t", NOW, None, (),
                                                                    (("Empty", ""),))))

    def test_whitespace_between_tokens(self):
        text = ' \n boolean ( // tt:SimpleItem [ @ Name = "RelayToken"\tand\r@Value="R1" ] ) '
        self.assertEqual(selected(text), ["R1"])
        self.assertEqual(selected('boolean(//tt:SimpleItem[@Name="RelayToken"and@Value="R2"])'),
                         ["R2"])

    def test_or_and_not(self):
        self.assertEqual(selected(item(value="R1") + " or " + item(value="IN1")), ["R1", "IN1"])
        self.assertEqual(selected("not(%s)" % item("RelayToken")), ["IN1", "-"])
        text = 'boolean(//tt:SimpleItem[not(@Value="R1") and @Name="RelayToken"])'
        self.assertEqual(selected(text), ["R2"])
        self.assertEqual(selected('boolean(//tt:SimpleItem[@Value="R1" or @Value="true"])'),
                         ["R1", "IN1"])

    def test_and_binds_tighter_than_or(self):
        a, b, c = item(value="R1"), item(value="R2"), item(value="inactive")
        # R1: a true, c false. "a or b and c" = a or (b and c) = true; (a or b) and c = false.
        self.assertEqual(selected("%s or %s and %s" % (a, b, c)), ["R1", "R2"])
        self.assertEqual(selected("(%s or %s) and %s" % (a, b, c)), ["R2"])
        self.assertEqual(selected("%s and %s or %s" % (c, b, a)), ["R1", "R2"])
        self.assertEqual(selected("%s and (%s or %s)" % (c, b, a)), ["R2"])

    def test_and_binds_tighter_inside_a_predicate_too(self):
        pred = 'boolean(//tt:SimpleItem[%s])'
        a, b, c = '@Value="R1"', '@Value="R2"', '@Name="LogicalState"'
        self.assertEqual(selected(pred % ("%s or %s and %s" % (a, b, c))), ["R1"])
        self.assertEqual(selected(pred % ("(%s or %s) and %s" % (a, b, c))), [])

    def test_long_chains(self):
        chain = " or ".join(item(value="v%d" % i) for i in range(8)) + " or " + item(value="IN1")
        self.assertEqual(selected(chain), ["IN1"])
        chain = " and ".join([item("LogicalState")] * 8) + " and not(%s)" % item(value="true")
        self.assertEqual(selected(chain), ["R1", "R2"])

    def test_nesting(self):
        text = "not(not((%s) or (not(%s))))" % (item(value="R1"), item(value="R2"))
        self.assertEqual(selected(text), ["R1", "IN1", "-"])  # R1 or not R2
        text = 'boolean(//tt:SimpleItem[((@Name="RelayToken") and not((@Value="R1")))])'
        self.assertEqual(selected(text), ["R2"])

    def test_element_items_never_match_bus_messages(self):
        self.assertEqual(selected('boolean(//tt:ElementItem[@Name="RelayToken"])'), [])
        self.assertEqual(selected('not(boolean(//tt:ElementItem[@Name="RelayToken"]))'),
                         ["R1", "R2", "IN1", "-"])

    def test_an_element_item_is_tested_by_name_only(self):
        link = Message("Monitoring/LinkStatus", NOW, "Changed", (("Token", "eth0"),), (
            ("Link", ("NetworkInterfaceConnectionSetting", (("Speed", "100"),))),))
        for text, matches in (('boolean(//tt:ElementItem[@Name="Link"])', True),
                              ('boolean(//tt:SimpleItem[@Name="Link"])', False),
                              ('boolean(//tt:ElementItem[@Name="Token"])', False),
                              ('boolean(//tt:SimpleItem[@Name="Token" and @Value="eth0"])', True),
                              ('boolean(//tt:ElementItem[@Name="Link" or @Value="100"])', True),
                              ('boolean(//tt:ElementItem[@Value="100"])', False)):
            self.assertEqual(item_filter(text).matches(link), matches, text)

    def test_bus_messages(self):
        bus = EventBus(lambda: NOW)
        seen = []
        bus.listen(seen.append)
        for token in ("IN1", "IN2"):
            bus.set_property("Device/Trigger/DigitalInput", [("InputToken", token)],
                             [("LogicalState", "false")])
        bus.set_property("Device/Trigger/DigitalInput", [("InputToken", "IN2")],
                         [("LogicalState", "true")])
        bus.delete("Device/Trigger/DigitalInput", [("InputToken", "IN1")])
        selection = item_filter(item("InputToken", "IN2"))
        self.assertEqual([m.operation for m in seen if selection.matches(m)],
                         ["Initialized", "Changed"])


class PrefixTest(unittest.TestCase):
    """The item's prefix must map to the ONVIF schema namespace in the MessageContent scope."""

    def test_any_prefix_bound_to_tt(self):
        self.assertEqual(selected(item(value="R1", prefix="onvif:"), {"onvif": TT}), ["R1"])

    def test_no_prefix_means_the_onvif_item(self):
        self.assertEqual(selected(item(value="R1", prefix=""), {}), ["R1"])
        self.assertEqual(selected(item(value="R1", prefix=""), {"": TT}), ["R1"])

    def test_a_default_namespace_does_not_bind_a_prefix(self):
        self.assertEqual(fault_name(item(value="R1"), {"": TT}), INVALID)

    def test_undeclared_or_foreign_prefix(self):
        for prefix in ("y:", "x:", "tns1:"):
            self.assertEqual(fault_name(item(value="R1", prefix=prefix)), INVALID, prefix)
        self.assertEqual(fault_name(item(value="R1"), {"tt": "http://www.onvif.org/ver20/schema"}),
                         INVALID)


class FaultTest(unittest.TestCase):
    def test_unknown_dialect(self):
        for dialect in ("http://www.w3.org/TR/1999/REC-xpath-19991116", ITEM_FILTER + "/", ""):
            self.assertEqual(fault_name(item(value="R1"), dialect=dialect), INVALID, dialect)
        self.assertEqual(selected(item(value="R1")), ["R1"])
        self.assertTrue(parse_item_filter(item(value="R1"), "\n %s " % ITEM_FILTER, NSMAP, NOW)
                        .matches(RELAY_ON))

    def test_outside_the_grammar(self):
        good = item("a", "b")
        for text in (
            "", "  ", "true()", "boolean()", "boolean", "boolean(", good + ")", "(" + good,
            good + " or", "and " + good, good + " and and " + good, good + " " + good,
            good + " xor " + good, good + " AND " + good, "not " + good, "not()",
            "Boolean(//tt:SimpleItem[@Name=\"a\"])", "boolean(tt:SimpleItem[@Name=\"a\"])",
            "boolean(/tt:SimpleItem[@Name=\"a\"])", "boolean(///tt:SimpleItem[@Name=\"a\"])",
            "boolean(//tt:SimpleItem)", "boolean(//tt:SimpleItem[])",
            "//tt:SimpleItem[@Name=\"a\"]", "boolean(//tt:Simpleitem[@Name=\"a\"])",
            "boolean(//tt:Message[@Name=\"a\"])", "boolean(//tt:*[@Name=\"a\"])",
            "boolean(//*[@Name=\"a\"])", "boolean(//a:b:SimpleItem[@Name=\"a\"])",
            "boolean(//:SimpleItem[@Name=\"a\"])", "boolean(//tt:SimpleItem[@Name])",
            "boolean(//tt:SimpleItem[@Name=a])", "boolean(//tt:SimpleItem[@Type=\"a\"])",
            "boolean(//tt:SimpleItem[@name=\"a\"])", "boolean(//tt:SimpleItem[Name=\"a\"])",
            "boolean(//tt:SimpleItem[@Name!=\"a\"])", "boolean(//tt:SimpleItem[@Name==\"a\"])",
            "boolean(//tt:SimpleItem[\"a\"=@Name])", "boolean(//tt:SimpleItem[@Name=\"a\"][1])",
            "boolean(//tt:SimpleItem[@Name=\"a])", "boolean(//tt:SimpleItem[@Name='a\"])",
            "boolean(//tt:SimpleItem[@Name=\"a\"]", "boolean(//tt:SimpleItem[@Name=\"a\")]",
            "boolean(//tt:SimpleItem[(@Name=\"a\"])",
            "boolean(//tt:SimpleItem[boolean(@Name=\"a\")])",
            "boolean(//tt:SimpleItem[%s])" % good, "boolean(boolean(//tt:SimpleItem[@Name=\"a\"]))",
            "not(@Name=\"a\")", "(@Name=\"a\")", good + " | " + good, good + " and (" + good,
            "boolean(//tt:SimpleItem[@Name=\"a\" and @Value=\"b\"]/tt:x)",
        ):
            self.assertEqual(fault_name(text), INVALID, text)

    def test_the_fault_detail(self):
        try:
            item_filter("boolean(")
        except SoapFault as fault:
            self.assertEqual((fault.code, fault.subcodes, fault.status), ("Receiver", [], 500))
            self.assertEqual(fault.detail.element, (WSNT, INVALID))
            self.assertEqual(fault.detail.timestamp, "2023-11-14T22:13:20Z")
            self.assertTrue(fault.reason.startswith("invalid message content expression"))
            return
        self.fail("no fault")


class BoundsTest(unittest.TestCase):
    def test_length(self):
        text = item(value="R1")
        longest = text + " " * (MAX_LENGTH - len(text))
        self.assertEqual(selected(longest), ["R1"])
        self.assertEqual(fault_name(longest + " "), INVALID)
        big = " or ".join([item("LogicalState", "active")] * 200)  # about 10 KB
        self.assertTrue(len(big) > 10000)
        self.assertEqual(fault_name(big), INVALID)

    def test_nesting_depth(self):
        # boolean( and [ are two levels, so MAX_DEPTH - 2 parentheses around it fit
        deepest = "(" * (MAX_DEPTH - 2) + item(value="R1") + ")" * (MAX_DEPTH - 2)
        self.assertEqual(selected(deepest), ["R1"])
        self.assertEqual(fault_name("(" + deepest + ")"), INVALID)
        self.assertEqual(selected("not(" * (MAX_DEPTH - 2) + item(value="R1") +
                                  ")" * (MAX_DEPTH - 2)), ["R1"])
        predicate = "boolean(//tt:SimpleItem[%s@Value=\"R1\"%s])" % ("(" * (MAX_DEPTH - 2),
                                                                   ")" * (MAX_DEPTH - 2))
        self.assertEqual(selected(predicate), ["R1"])

    def test_hostile_nesting_is_a_fault_not_a_recursion_error(self):
        for text in ("(" * 100 + item(value="R1") + ")" * 100, "not(" * 100 + "x" + ")" * 100,
                     "(" * 1000, "not(" * 250,
                     "boolean(//tt:SimpleItem[" + "(" * 100 + "@Value='R1'" + ")" * 100 + "])"):
            self.assertEqual(fault_name(text), INVALID, text[:20])
