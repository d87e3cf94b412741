import unittest

from agent.errors import LocalProtocolError
from agent.xmltree import parse
from agent.xmlwrite import XmlWriter

TT = "http://www.onvif.org/ver10/schema"
TDS = "http://www.onvif.org/ver10/device/wsdl"


def render(build, chunk=1024):
    pieces = []
    w = XmlWriter(pieces.append, chunk=chunk)
    build(w)
    w.close()
    return pieces


class XmlWriterTest(unittest.TestCase):
    def test_escapes_text_and_attributes_so_they_read_back_unchanged(self):
        nasty = 'a<b>&c"d\'e\tf\ng\rh'

        def build(w):
            w.leaf(TT, "Name", nasty, attrs=[("token", nasty)])
        doc = parse(b"".join(render(build)))
        self.assertEqual(doc.text, nasty)
        self.assertEqual(doc.attrs[("", "token")], nasty)

    def test_declares_each_namespace_once_where_first_needed(self):
        def build(w):
            w.start(TDS, "R", declare=(TT,))
            w.leaf(TT, "A", 1)
            w.leaf(TT, "B", 2)
            w.end()
        xml = b"".join(render(build)).decode()
        self.assertEqual(xml.count("xmlns:tt="), 1)
        self.assertEqual(xml.count("xmlns:tds="), 1)

    def test_declaration_goes_out_of_scope_with_its_element(self):
        def build(w):
            w.start(TDS, "R")
            w.leaf(TT, "A")
            w.leaf(TT, "B")
            w.end()
        doc = parse(b"".join(render(build)))
        self.assertEqual([(c.ns, c.name) for c in doc.children], [(TT, "A"), (TT, "B")])

    def test_booleans_and_numbers_use_schema_lexical_forms(self):
        xml = b"".join(render(lambda w: w.leaf(TT, "X", attrs=[("a", True), ("b", False),
                                                               ("c", 0)]))).decode()
        self.assertIn('a="true" b="false" c="0"', xml)

    def test_output_streams_in_bounded_pieces(self):
        def build(w):
            w.start(TDS, "R")
            for i in range(500):
                w.leaf(TT, "Item", "value %d" % i)
            w.end()
        pieces = render(build, chunk=256)
        self.assertTrue(len(pieces) > 20, len(pieces))
        self.assertTrue(all(len(p) < 512 for p in pieces))
        self.assertEqual(len(parse(b"".join(pieces)).children), 500)

    def test_non_ascii_text_is_utf8(self):
        out = b"".join(render(lambda w: w.leaf(TT, "N", "Tür ü €")))
        self.assertIn("Tür ü €".encode(), out)

    def test_unknown_namespace_and_unclosed_element_are_our_bugs(self):
        w = XmlWriter(lambda b: None)
        with self.assertRaises(LocalProtocolError):
            w.start("urn:nobody", "X")
        w = XmlWriter(lambda b: None)
        w.start(TT, "X")
        with self.assertRaises(LocalProtocolError):
            w.close()
