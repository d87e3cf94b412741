"""The streaming XML parser: every construct, every refusal with its position, every bound at and
one past its limit, any split of the input, and the contract that any input yields events or
XmlError (portable: runs on CPython and MicroPython)."""

import unittest

from agent.errors import LocalProtocolError, RemoteProtocolError
from agent.xmlparse import END, NEED_DATA, START, TEXT, XML_NS, XmlError, XmlParser
from tests.support import Rng

U = "urn:u"
V = "urn:v"


def drain(parser):
    out = []
    while True:
        ev = parser.next_event()
        if ev is None or ev is NEED_DATA:
            return out, ev
        out.append(ev)


def events(data, **limits):
    """All events of a whole document, adjacent TEXT pieces merged."""
    parser = XmlParser(**limits)
    parser.feed(data)
    parser.close()
    out, last = drain(parser)
    assert last is None
    return merge(out)


def events_in_chunks(data, cuts, **limits):
    """Feed `data` cut at offsets `cuts`, draining after every feed, as a socket loop would."""
    parser = XmlParser(**limits)
    out = []
    start = 0
    for cut in list(cuts) + [len(data)]:
        parser.feed(data[start:cut])
        start = cut
        got, last = drain(parser)
        out += got
        assert last is NEED_DATA or last is None
    parser.close()
    got, last = drain(parser)
    assert last is None
    return merge(out + got)


def merge(evs):
    out = []
    for ev in evs:
        if ev[0] == TEXT and out and out[-1][0] == TEXT:
            out[-1] = (TEXT, out[-1][1] + ev[1])
        else:
            out.append(ev)
    return out


def shape(evs):
    """Events without the nsmap (compared separately)."""
    return [ev[:4] if ev[0] == START else ev for ev in evs]


def error(data, **limits):
    """The XmlError a document raises, wherever it surfaces."""
    parser = XmlParser(**limits)
    try:
        parser.feed(data)
        parser.close()
        drain(parser)
    except XmlError as exc:
        return exc
    raise AssertionError("accepted: %r" % (data,))


SOAP = (b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:t="urn:t">'
        b'<s:Header><t:Token a="1" t:b=\'2\'>x&amp;y&#x41;&#66;</t:Token></s:Header>'
        b'<s:Body><t:Op><t:Name>caf\xc3\xa9 \xe4\xb8\xad\xf0\x9f\x98\x80</t:Name><!-- note -->'
        b'<t:Data><![CDATA[<raw> & ]]]></t:Data><?pi data?><t:Empty/></t:Op></s:Body>'
        b'</s:Envelope>\n')


class TestConstructs(unittest.TestCase):
    def test_elements_and_text(self):
        self.assertEqual(shape(events(b"<a>x<b>y</b>z<c/></a>")), [
            (START, "", "a", {}), (TEXT, "x"), (START, "", "b", {}), (TEXT, "y"), (END, "", "b"),
            (TEXT, "z"), (START, "", "c", {}), (END, "", "c"), (END, "", "a")])

    def test_whitespace_text_is_emitted(self):
        self.assertEqual(shape(events(b"<a>\n  <b/>\t</a>")), [
            (START, "", "a", {}), (TEXT, "\n  "), (START, "", "b", {}), (END, "", "b"),
            (TEXT, "\t"), (END, "", "a")])

    def test_attributes_both_quotes_and_spacing(self):
        ev = events(b"<a x=\"1\" y='2' z = \"'\" w='\"' v='>'\n/>")[0]
        self.assertEqual(ev[3], {("", "x"): "1", ("", "y"): "2", ("", "z"): "'", ("", "w"): '"',
                                 ("", "v"): ">"})

    def test_tag_whitespace(self):
        self.assertEqual(shape(events(b"<a  ><b\n/></a\t>")), [
            (START, "", "a", {}), (START, "", "b", {}), (END, "", "b"), (END, "", "a")])

    def test_namespaces(self):
        evs = events(b'<p:a xmlns:p="urn:u" xmlns="urn:v" p:x="1" y="2">'
                     b'<b/><p:c xmlns:p="urn:w"/></p:a>')
        self.assertEqual(shape(evs), [
            (START, U, "a", {(U, "x"): "1", ("", "y"): "2"}), (START, V, "b", {}), (END, V, "b"),
            (START, "urn:w", "c", {}), (END, "urn:w", "c"), (END, U, "a")])
        self.assertEqual(evs[0][4], {"xml": XML_NS, "p": U, "": V})
        self.assertIs(evs[1][4], evs[0][4])  # no declaration: the parent's map is shared
        self.assertEqual(evs[3][4]["p"], "urn:w")

    def test_default_namespace_undeclared(self):
        evs = events(b'<a xmlns="urn:u"><b xmlns=""><c/></b></a>')
        self.assertEqual([ev[1] for ev in evs if ev[0] == START], [U, "", ""])
        self.assertFalse("" in evs[1][4])

    def test_xml_prefix_is_predeclared(self):
        evs = events(b'<a xml:lang="en" xmlns:xml="http://www.w3.org/XML/1998/namespace"/>')
        self.assertEqual(evs[0][3], {(XML_NS, "lang"): "en"})

    def test_predefined_entities_and_char_refs(self):
        evs = events(b"<a b='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x10FFFF;'>"
                     b"&lt;&gt;&amp;&quot;&apos;&#0065;&#x00e9;</a>")
        self.assertEqual(evs[0][3][("", "b")], "<>&\"'AB\U0010ffff")
        self.assertEqual(evs[1], (TEXT, "<>&\"'A\u00e9"))

    def test_cdata(self):
        evs = events(b"<a>x<![CDATA[<b>&amp;]]]]><![CDATA[]]>y</a>")
        self.assertEqual(evs[1], (TEXT, "x<b>&amp;]]y"))

    def test_comments_and_pis_are_skipped(self):
        doc = (b"<?xml version='1.0'?><!--c--><?p x?><a><!-- - --><?q?>t<!---->u"
               b"<?xml-stylesheet x?></a><!--e--><?r?>")
        self.assertEqual(shape(events(doc)), [(START, "", "a", {}), (TEXT, "tu"), (END, "", "a")])

    def test_xml_declaration_forms(self):
        for decl in (b'<?xml version="1.0"?>', b"<?xml version='1.0' encoding='utf-8'?>",
                     b'<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>',
                     b'<?xml version = "1.0"  standalone="no"?>',
                     b'\xef\xbb\xbf<?xml version="1.0"?>'):
            self.assertEqual(len(events(decl + b"<a/>")), 2, decl)

    def test_bom(self):
        self.assertEqual(len(events(b"\xef\xbb\xbf<a/>")), 2)

    def test_line_ends_normalised_in_text(self):
        evs = events(b"<a>1\r\n2\r3\n\r\n<![CDATA[\r\n]]>&#13;</a>")
        self.assertEqual(evs[1], (TEXT, "1\n2\n3\n\n\n\r"))

    def test_attribute_value_normalisation(self):
        ev = events(b"<a b='x\ty\nz\r\nw&#9;&#10;&#13;' c=' sp  '/>")[0]
        self.assertEqual(ev[3], {("", "b"): "x y z w\t\n\r", ("", "c"): " sp  "})

    def test_non_ascii_names_and_text(self):
        evs = events("<\u00e9l\u00e8ve \u03b1='\u4e2d'>\u00b7\U0001f600</\u00e9l\u00e8ve>".encode())
        self.assertEqual(shape(evs), [(START, "", "\u00e9l\u00e8ve", {("", "\u03b1"): "\u4e2d"}),
                                      (TEXT, "\u00b7\U0001f600"), (END, "", "\u00e9l\u00e8ve")])

    def test_misc_around_root(self):
        self.assertEqual(len(events(b" \n<!-- x --> <?p?>\r\n<a/>\n<!-- y -->\t")), 2)

    def test_gt_in_text_is_fine(self):
        self.assertEqual(events(b"<a>]>]]&gt;></a>")[1], (TEXT, "]>]]>>"))

    def test_done_returns_none_and_stays_done(self):
        parser = XmlParser()
        parser.feed(b"<a/> ")
        self.assertEqual(len(drain(parser)[0]), 2)
        self.assertIs(parser.next_event(), NEED_DATA)  # epilog may still hold comments
        parser.close()
        self.assertIsNone(parser.next_event())
        self.assertIsNone(parser.next_event())

    def test_soap_document(self):
        evs = events(SOAP)
        self.assertEqual([ev[2] for ev in evs if ev[0] == START],
                         ["Envelope", "Header", "Token", "Body", "Op", "Name", "Data", "Empty"])
        self.assertIn((TEXT, "caf\u00e9 \u4e2d\U0001f600"), evs)
        self.assertIn((TEXT, "<raw> & ]"), evs)
        self.assertIn((TEXT, "x&yAB"), evs)


class TestRefusals(unittest.TestCase):
    def assertRefused(self, data, position=None, **limits):
        exc = error(data, **limits)
        self.assertIsInstance(exc, RemoteProtocolError)
        self.assertEqual((exc.status, exc.subcode), (400, "WellFormed"))
        if position is not None:
            self.assertEqual(exc.position, position, "%r: %s" % (data, exc))
        return exc

    def test_structure(self):
        for doc, pos in ((b"", 0), (b"   ", 3), (b"<a>", 3), (b"<a></b>", 3), (b"<a", 2),
                         (b"<a><b></a></b>", 6), (b"</a>", 0), (b"<a/><b/>", 4), (b"<a/>x", 4),
                         (b"x<a/>", 0), (b"<a/></a>", 4), (b"<a></a >x", 8), (b"<a></ a>", 3),
                         (b"<>", 1), (b"<a><>", 4)):
            self.assertRefused(doc, pos)

    def test_names(self):
        for doc in (b"<1a/>", b"<-a/>", b"<.a/>", b"< a/>", b"<a b/>", b"<a:/>", b"<:a/>",
                    b"<a:b:c/>", b"<a 1='x'/>", b"<a b:='x'/>", b"<a\xc3\x97/>", b"<\xcc\x80/>",
                    b"<a/ >", b"<a b='1'c='2'/>",
                    b"<a b='1'/ >", b"<a b=1/>", b"<a b/>", b"<a ='1'/>", b"<a b='1' =/>"):
            self.assertRefused(doc)

    def test_namespace_errors(self):
        for doc, pos in ((b"<p:a/>", 1), (b"<a p:b='1'/>", 3), (b"<a xmlns:p=''/>", 3),
                         (b"<a><b xmlns:p='u'/><p:c/></a>", 20), (b"<xmlns:a/>", 1),
                         (b"<a xmlns:xmlns='u'/>", 3), (b"<a xmlns:xml='u'/>", 3),
                         (b"<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>", 3),
                         (b"<a xmlns='http://www.w3.org/XML/1998/namespace'/>", 3),
                         (b"<a xmlns='http://www.w3.org/2000/xmlns/'/>", 3),
                         (b"<a xmlns:p='http://www.w3.org/2000/xmlns/'/>", 3)):
            self.assertRefused(doc, pos)

    def test_duplicate_attributes(self):
        self.assertRefused(b"<a b='1' b='2'/>", 9)
        self.assertRefused(b"<a xmlns:p='u' xmlns:q='u' p:b='1' q:b='2'/>", 35)
        self.assertRefused(b"<a xmlns='u' xmlns='v'/>", 13)
        self.assertRefused(b"<a xmlns:p='u' xmlns:p='u'/>", 15)

    def test_attribute_values(self):
        self.assertRefused(b"<a b='<'/>", 6)
        self.assertRefused(b"<a b='&'/>", 6)
        self.assertRefused(b"<a b='&x;'/>", 6)
        self.assertRefused(b"<a b=\"x'/>")

    def test_references(self):
        for doc, pos in ((b"<a>&</a>", 3), (b"<a>&amp</a>", 3), (b"<a>x&;</a>", 4),
                         (b"<a>&#;</a>", 3), (b"<a>&#x;</a>", 3), (b"<a>&#0;</a>", 3),
                         (b"<a>&#x1F;</a>", 3), (b"<a>&#xD800;</a>", 3),
                         (b"<a>&#xFFFE;</a>", 3), (b"<a>&#x110000;</a>", 3), (b"<a>&#X41;</a>", 3),
                         (b"<a>&#1_0;</a>", 3), (b"<a>&# 65;</a>", 3), (b"<a>&#65 ;</a>", 3),
                         (b"<a>&#+65;</a>", 3), (b"<a>&#\xd9\xa1;</a>", 3),
                         (b"<a>&#x" + b"0" * 20 + b"FFFFFFFF;</a>", 3),
                         (b"<a>&nbsp;</a>", 3), (b"<a>ok &unknown;</a>", 6)):
            self.assertRefused(doc, pos)

    def test_text_rules(self):
        self.assertRefused(b"<a>x]]>y</a>", 4)
        self.assertRefused(b"<a b=']]>'>]]></a>", 11)

    def test_comments_and_pis(self):
        for doc, pos in ((b"<a><!-- a -- b --></a>", 10), (b"<a><!-- a ---></a>", 10),
                         (b"<a><!-></a>", 3),
                         (b"<a><? x?></a>", 5), (b"<a><?xml x?></a>", 3), (b"<a><?XmL?></a>", 3),
                         (b"<a><?p:q?></a>", 5), (b"<a><?p", 6), (b"<a><!--", 7),
                         (b"<!-- --><?xml version='1.0'?><a/>", 8),
                         (b" <?xml version='1.0'?><a/>", 1)):
            self.assertRefused(doc, pos)

    def test_xml_declaration(self):
        for decl in (b"<?xml?>", b"<?xml version='1.1'?>", b"<?xml version='2.0'?>",
                     b"<?xml encoding='utf-8'?>", b"<?xml version='1.0' encoding='latin-1'?>",
                     b"<?xml version='1.0' encoding='utf8'?>",
                     b"<?xml version='1.0' standalone='maybe'?>",
                     b"<?xml version='1.0' standalone='yes' encoding='utf-8'?>",
                     b"<?xml version='1.0'encoding='utf-8'?>",
                     b"<?xml version='1.0' version='1.0'?>", b"<?xml version='1.0' foo='bar'?>",
                     b"<?xml version=1.0?>", b"<?xml version='1.0?>"):
            self.assertRefused(decl + b"<a/>")

    def test_cdata_outside_root(self):
        self.assertRefused(b"<![CDATA[x]]><a/>", 0)
        self.assertRefused(b"<a/><![CDATA[x]]>", 4)

    def test_doctype_and_declarations_refused_at_once(self):
        for doc, pos in ((b"<!DOCTYPE a><a/>", 0), (b"<?xml version='1.0'?>\n<!DOCTYPE a [", 22),
                         (b"<a><!ENTITY x 'y'></a>", 3), (b"<a><!ELEMENT a ANY></a>", 3),
                         (b"<!x", 0)):
            self.assertRefused(doc, pos)

    def test_illegal_characters(self):
        for doc, pos in ((b"<a>\x00</a>", 3), (b"<a>\x01</a>", 3), (b"<a>\x0b</a>", 3),
                         (b"<a>\x1f</a>", 3), (b"<a b='\x0c'/>", 6), (b"<a/>\x00", 4),
                         (b"\x00<a/>", 0),
                         (b"<a>\xef\xbf\xbe</a>", 3),
                         (b"<a>\xef\xbf\xbf</a>", 3), (b"<a><!-- \x07 --></a>", 8)):
            self.assertRefused(doc, pos)

    def test_invalid_utf8(self):
        for doc, pos in ((b"<a>\xff</a>", 3), (b"<a>\xc3</a>", 3), (b"<a>\xc3\x28</a>", 3),
                         (b"<a>\x80</a>", 3), (b"<a>\xc0\xaf</a>", 3), (b"<a>\xe0\x80\xaf</a>", 3),
                         (b"<a>\xed\xa0\x80</a>", 3), (b"<a>\xf4\x90\x80\x80</a>", 3),
                         (b"<a>\xf8\x88\x80\x80\x80</a>", 3), (b"<a>ok\xe4\xb8", 5),
                         (b"<a\xc3>", 2), (b"<a>\xc3\xa9\xa9</a>", 5)):
            self.assertRefused(doc, pos)

    def test_errors_are_sticky(self):
        parser = XmlParser()
        parser.feed(b"<a></b>")
        self.assertEqual(parser.next_event()[0], START)
        with self.assertRaises(XmlError):
            parser.next_event()
        with self.assertRaises(XmlError):
            parser.next_event()
        with self.assertRaises(XmlError):
            parser.feed(b"<c/>")
        with self.assertRaises(XmlError):
            parser.close()

    def test_close_raises_when_starved_on_an_incomplete_document(self):
        parser = XmlParser()
        parser.feed(b"<a><b>")
        drain(parser)
        with self.assertRaises(XmlError):
            parser.close()

    def test_feed_after_close_is_our_bug(self):
        parser = XmlParser()
        parser.feed(b"<a/>")
        parser.close()
        with self.assertRaises(LocalProtocolError):
            parser.feed(b" ")


class TestLimits(unittest.TestCase):
    def test_max_depth(self):
        self.assertEqual(len(events(b"<a>" * 4 + b"</a>" * 4, max_depth=4)), 8)
        self.assertEqual(error(b"<a>" * 5 + b"</a>" * 5, max_depth=4).position, 12)
        self.assertEqual(len(events(b"<a>" * 3 + b"<b/>" + b"</a>" * 3, max_depth=4)), 8)
        self.assertEqual(error(b"<a>" * 4 + b"<b/>" + b"</a>" * 4, max_depth=4).position, 12)

    def test_max_name(self):
        name = b"p:" + b"n" * 8
        self.assertEqual(len(events(b"<%s xmlns:p='u'/>" % name, max_name=10)), 2)
        self.assertEqual(error(b"<%sn xmlns:p='u'/>" % name, max_name=10).position, 1)
        self.assertEqual(len(events(b"<a %s='1' xmlns:p='u'/>" % name, max_name=10)), 2)
        self.assertEqual(error(b"<a %sn='1' xmlns:p='u'/>" % name, max_name=10).position, 3)
        self.assertEqual(len(events(b"<a %s='1'/>" % (b"b" * 10), max_name=10)), 2)
        self.assertEqual(error(b"<a>" + b"<%s/>" % (b"b" * 11), max_name=10).position, 4)
        self.assertEqual(len(events(b"<a><?%s?></a>" % (b"b" * 10), max_name=10)), 2)
        self.assertEqual(error(b"<a><?%s?></a>" % (b"b" * 11), max_name=10).position, 5)

    def test_max_attrs_counts_declarations(self):
        ok = b"<a xmlns:p='u' b='1' p:c='2'/>"
        self.assertEqual(len(events(ok, max_attrs=3)), 2)
        self.assertEqual(error(ok.replace(b"/>", b" d='3'/>"), max_attrs=3).position, 29)

    def test_max_text(self):
        self.assertEqual(events(b"<a>" + b"x" * 10 + b"</a>", max_text=10)[1], (TEXT, "x" * 10))
        self.assertEqual(error(b"<a>" + b"x" * 11 + b"</a>", max_text=10).position, 13)
        # one text node: character data, references and CDATA as written, across comments
        doc = b"<a>xx<![CDATA[xx]]><!---->&amp;x<b/>" + b"y" * 10 + b"</a>"
        self.assertEqual(len(events(doc, max_text=10)), 6)
        self.assertEqual(error(b"<a>xx<![CDATA[xx]]><!---->&amp;xx</a>", max_text=10).position, 32)
        self.assertEqual(error(b"<a><![CDATA[" + b"x" * 11 + b"]]></a>", max_text=10).position, 22)

    def test_max_text_bounds_attribute_values(self):
        self.assertEqual(len(events(b"<a b='" + b"x" * 10 + b"'/>", max_text=10)), 2)
        self.assertEqual(error(b"<a b='" + b"x" * 11 + b"'/>", max_text=10).position, 5)

    def test_max_text_refuses_before_the_end_arrives(self):
        parser = XmlParser(max_text=10)
        parser.feed(b"<a>" + b"x" * 10)
        drain(parser)
        parser.feed(b"x")
        with self.assertRaises(XmlError):
            parser.next_event()

    def test_max_total(self):
        doc = b"<a>" + b"x" * 93 + b"</a>"
        self.assertEqual(len(events(doc, max_total=100)), 3)
        parser = XmlParser(max_total=100)
        parser.feed(doc[:60])
        with self.assertRaises(XmlError) as cm:
            parser.feed(doc[60:] + b" ")
        self.assertEqual(cm.exception.position, 100)

    def test_limits_hold_for_tags_seen_before(self):
        # default-limit parsers remember whole start tags; a stricter parser must not reuse them
        doc = b"<a b='" + b"x" * 11 + b"' c='1' d='2'><p:e xmlns:p='u'/></a>"
        self.assertEqual(len(events(doc)), 4)
        self.assertEqual(error(doc, max_text=10).position, 5)
        self.assertEqual(error(doc, max_attrs=2).position, 25)
        self.assertEqual(error(doc, max_name=2).position, 32)

    def test_remembered_tags_resolve_in_their_own_scope(self):
        tag = b"<p:e q:x='1'/>"
        one = events(b"<r xmlns:p='urn:1' xmlns:q='urn:2'>" + tag + b"</r>")[1]
        two = events(b"<r xmlns:p='urn:3' xmlns:q='urn:3'>" + tag + b"</r>")[1]
        self.assertEqual((one[1], one[3]), ("urn:1", {("urn:2", "x"): "1"}))
        self.assertEqual((two[1], two[3]), ("urn:3", {("urn:3", "x"): "1"}))
        self.assertEqual(error(b"<r>" + tag + b"</r>").position, 4)
        doc = b"<r xmlns:p='u' xmlns:q='u'><p:e q:x='1' p:x='2'/></r>"
        self.assertEqual(error(doc).position, 40)

    def test_memory_of_tags_is_bounded(self):
        from agent import xmlparse
        for k in range(400):
            events(b"<a n%d='%s'/>" % (k, b"v" * k))
        self.assertTrue(xmlparse._TAGS.size <= xmlparse._TAGS.budget)
        self.assertTrue(xmlparse._QNAMES.size <= xmlparse._QNAMES.budget)

    def test_defaults_are_the_module_constants(self):
        from agent import xmlparse
        parser = XmlParser()
        self.assertEqual((parser.max_depth, parser.max_name, parser.max_attrs),
                         (xmlparse.MAX_DEPTH, xmlparse.MAX_NAME, xmlparse.MAX_ATTRS))
        self.assertEqual((parser.max_text, parser.max_total),
                         (xmlparse.MAX_TEXT, xmlparse.MAX_TOTAL))
        self.assertEqual(xmlparse.MAX_TOTAL, 65536)


class TestIncremental(unittest.TestCase):
    DOCS = (SOAP, b"\xef\xbb\xbf<a b='x>y'>t&#233;&lt;<![CDATA[c]]>\r\n<!-- - --><?p q?><b/></a>",
            b"<?xml version='1.0'?><r xmlns='urn:u'>\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80</r>")

    def test_every_two_way_split(self):
        for doc in self.DOCS:
            whole = events(doc)
            for cut in range(len(doc) + 1):
                self.assertEqual(events_in_chunks(doc, [cut]), whole, cut)

    def test_byte_by_byte(self):
        for doc in self.DOCS:
            self.assertEqual(events_in_chunks(doc, range(1, len(doc))), events(doc))

    def test_every_split_of_refused_documents_fails_alike(self):
        for doc in (b"<a>x&#0;</a>", b"<a>\xc3\x28</a>", b"<a></b>", b"<a><!DOCTYPE"):
            pos = error(doc).position
            for cut in range(len(doc) + 1):
                parser = XmlParser()
                try:
                    parser.feed(doc[:cut])
                    drain(parser)
                    parser.feed(doc[cut:])
                    parser.close()
                    drain(parser)
                except XmlError as exc:
                    self.assertEqual(exc.position, pos, (doc, cut))
                else:
                    self.fail("accepted %r" % doc)

    def test_need_data_inside_tokens(self):
        parser = XmlParser()
        for piece in (b"<a", b" b='1", b"'", b">&a", b"mp;", b"<!-", b"-x-", b"-><![CD", b"ATA[y]",
                      b"]>", b"</a"):
            parser.feed(piece)
            drain(parser)
        parser.feed(b">")
        parser.close()
        self.assertEqual(drain(parser), ([(END, "", "a")], None))


class TestBombs(unittest.TestCase):
    def assertRefusedAtDoctype(self, doc):
        exc = error(doc)
        self.assertEqual(exc.position, doc.find(b"<!DOCTYPE"))

    def test_billion_laughs(self):
        doc = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        for k in range(1, 10):
            ref = b"&lol%d;" % (k - 1) if k > 1 else b"&lol;"
            doc += b' <!ENTITY lol%d "%s">\n' % (k, ref * 10)
        self.assertRefusedAtDoctype(doc + b"]>\n<lolz>&lol9;</lolz>")

    def test_quadratic_blowup(self):
        self.assertRefusedAtDoctype(b'<!DOCTYPE k [<!ENTITY a "' + b"x" * 5000 + b'">]><k>'
                                    + b"&a;" * 1000 + b"</k>")

    def test_external_entity(self):
        self.assertRefusedAtDoctype(
            b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>')
        self.assertRefusedAtDoctype(b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>')

    def test_parameter_entity(self):
        self.assertRefusedAtDoctype(
            b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://example.invalid/p">%p;]><a/>')

    def test_entity_reference_without_doctype(self):
        self.assertEqual(error(b"<a>&lol9;</a>").position, 3)


class TestContract(unittest.TestCase):
    """Any input yields events or XmlError: no IndexError, UnicodeError, ValueError..."""

    def run_one(self, data, cut):
        parser = XmlParser()
        try:
            parser.feed(data[:cut])
            drain(parser)
            parser.feed(data[cut:])
            parser.close()
            drain(parser)
        except XmlError:
            pass

    def test_random_bytes(self):
        rng = Rng(1)
        alphabet = b"<>/?!-=\"' \t\r\n&#;:xmlnsabc[]CDATA0\x00\xc3\xa9\xff\x80\xe4"
        for _ in range(1500):
            size = rng.below(40)
            data = bytes(alphabet[rng.below(len(alphabet))] for _ in range(size))
            self.run_one(data, rng.below(size + 1))
        for _ in range(500):
            size = rng.below(40)
            data = bytes(rng.below(256) for _ in range(size))
            self.run_one(data, rng.below(size + 1))

    def test_mutated_documents(self):
        rng = Rng(2)
        for _ in range(1500):
            data = bytearray(SOAP)
            for _ in range(1 + rng.below(3)):
                k = rng.below(len(data))
                op = rng.below(4)
                if op == 0:
                    data[k:k + 1] = b""
                elif op == 1:
                    data[k:k] = bytes([rng.below(256)])
                elif op == 2:
                    data[k:k] = data[k:k + 1 + rng.below(8)]
                else:
                    data[k] = b"<>&;'\"/=:!?-x"[rng.below(13)]
            self.run_one(bytes(data), rng.below(len(data) + 1))


if __name__ == "__main__":
    unittest.main()
