"""The tree builder: ElementTree's text/tail semantics, lookups, QName values, sub-trees
(portable: runs on CPython and MicroPython)."""

import unittest

from agent.errors import RemoteProtocolError
from agent.xmlparse import END, NEED_DATA, START, TEXT, XML_NS, XmlError, XmlParser
from agent.xmltree import Element, TreeBuilder, parse

U = "urn:u"
V = "urn:v"


class TestTree(unittest.TestCase):
    def test_text_and_tail(self):
        root = parse(b"<a>t1<b>t2</b>t3<!-- c -->t4<c/><d><![CDATA[x]]>&amp;</d>t5</a>")
        b, c, d = root.children
        self.assertEqual((root.text, root.tail), ("t1", ""))
        self.assertEqual((b.text, b.tail), ("t2", "t3t4"))
        self.assertEqual((c.text, c.tail), ("", ""))
        self.assertEqual((d.text, d.tail), ("x&", "t5"))

    def test_fields(self):
        root = parse(b"<p:a xmlns:p='urn:u' p:x='1' y='2'><b xmlns='urn:v'/></p:a>")
        self.assertEqual((root.ns, root.name), (U, "a"))
        self.assertEqual(root.attrs, {(U, "x"): "1", ("", "y"): "2"})
        self.assertEqual(root.nsmap, {"xml": XML_NS, "p": U})
        self.assertEqual((root.children[0].ns, root.children[0].name), (V, "b"))
        self.assertEqual(root.children[0].children, [])

    def test_find_findall_findtext(self):
        root = parse(b"<a xmlns='urn:u' xmlns:v='urn:v'><b>1</b><v:b>2</v:b><b>3</b><c/></a>")
        self.assertEqual(root.find(U, "b").text, "1")
        self.assertEqual(root.find(V, "b").text, "2")
        self.assertIsNone(root.find("", "b"))
        self.assertEqual([el.text for el in root.findall(U, "b")], ["1", "3"])
        self.assertEqual(root.findall(U, "x"), [])
        self.assertEqual(root.findtext(U, "b"), "1")
        self.assertEqual(root.findtext(U, "c"), "")
        self.assertIsNone(root.findtext(U, "x"))
        self.assertEqual(root.findtext(U, "x", "dflt"), "dflt")

    def test_find_looks_at_children_only(self):
        root = parse(b"<a><b><c/></b></a>")
        self.assertIsNone(root.find("", "c"))
        self.assertIsNotNone(root.children[0].find("", "c"))

    def test_resolve_qname(self):
        root = parse(b"<a xmlns='urn:u' xmlns:t='urn:v'><b xmlns=''>t:X</b></a>")
        self.assertEqual(root.resolve_qname("t:Topic"), (V, "Topic"))
        self.assertEqual(root.resolve_qname(" t:Topic\n"), (V, "Topic"))
        self.assertEqual(root.resolve_qname("Plain"), (U, "Plain"))
        self.assertEqual(root.resolve_qname("xml:lang"), (XML_NS, "lang"))
        b = root.children[0]
        self.assertEqual(b.resolve_qname(b.text), (V, "X"))
        self.assertEqual(b.resolve_qname("Plain"), ("", "Plain"))

    def test_resolve_qname_refusals(self):
        root = parse(b"<a xmlns:t='urn:v'/>")
        for value in ("q:X", "t:", ":X", "t:X:Y", "", "1X", "t:1", "a b"):
            with self.assertRaises(RemoteProtocolError) as cm:
                root.resolve_qname(value)
            self.assertEqual((cm.exception.status, cm.exception.subcode), (400, "InvalidArgVal"))

    def test_element_defaults(self):
        el = Element(U, "x")
        self.assertEqual((el.attrs, el.nsmap, el.children, el.text, el.tail), ({}, {}, [], "", ""))

    def test_parse_refuses_and_takes_limits(self):
        with self.assertRaises(XmlError):
            parse(b"<a>")
        with self.assertRaises(XmlError):
            parse(b"<a/><b/>")
        with self.assertRaises(XmlError):
            parse(b"<a><b/></a>", max_depth=1)
        self.assertEqual(parse(b"<a><b/></a>", max_depth=2).children[0].name, "b")


class TestTreeBuilder(unittest.TestCase):
    def test_returns_the_root_at_its_end_only(self):
        parser = XmlParser()
        parser.feed(b"<a><b>x</b></a>")
        parser.close()
        builder = TreeBuilder()
        results = []
        while True:
            ev = parser.next_event()
            if ev is None:
                break
            results.append(builder.event(ev))
        self.assertEqual(results[:-1], [None] * (len(results) - 1))
        self.assertEqual(results[-1].name, "a")

    def test_sub_tree_from_a_non_root_start(self):
        parser = XmlParser()
        parser.feed(b"<env><h>ignored</h>\n<op xmlns='urn:u'><arg>1</arg></op>tail<after/></env>")
        parser.close()
        ev = parser.next_event()
        while ev[0] != START or ev[2] != "op":
            ev = parser.next_event()
        builder = TreeBuilder()
        op = builder.event(ev)
        while op is None:
            op = builder.event(parser.next_event())
        self.assertEqual((op.ns, op.name, op.findtext(U, "arg"), op.tail), (U, "op", "1", ""))
        self.assertEqual(parser.next_event(), (TEXT, "tail"))

    def test_builder_is_reusable_for_the_next_sub_tree(self):
        builder = TreeBuilder()
        nsmap = {}
        self.assertIsNone(builder.event((START, "", "x", {}, nsmap)))
        self.assertIsNone(builder.event((TEXT, "1")))
        first = builder.event((END, "", "x"))
        self.assertIsNone(builder.event((TEXT, "between")))
        self.assertIsNone(builder.event((START, "", "y", {}, nsmap)))
        second = builder.event((END, "", "y"))
        self.assertEqual((first.name, first.text, first.tail), ("x", "1", ""))
        self.assertEqual((second.name, second.text), ("y", ""))

    def test_text_in_pieces_is_joined(self):
        builder = TreeBuilder()
        builder.event((START, "", "x", {}, {}))
        for piece in ("a", "b", "c"):
            builder.event((TEXT, piece))
        builder.event((START, "", "y", {}, {}))
        builder.event((END, "", "y"))
        builder.event((TEXT, "d"))
        builder.event((TEXT, "e"))
        x = builder.event((END, "", "x"))
        self.assertEqual((x.text, x.children[0].tail), ("abc", "de"))

    def test_need_data_streaming(self):
        parser = XmlParser()
        builder = TreeBuilder()
        root = None
        for piece in (b"<a>", b"x<b", b"/>y", b"</a>"):
            parser.feed(piece)
            ev = parser.next_event()
            while ev is not NEED_DATA and ev is not None:
                root = builder.event(ev) or root
                ev = parser.next_event()
        parser.close()
        self.assertEqual((root.text, root.children[0].tail), ("x", "y"))


if __name__ == "__main__":
    unittest.main()
