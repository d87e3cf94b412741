"""Our XML parser against expat (through defusedxml) as an oracle, on >= 10,000 seeded documents.

Generated documents are well-formed and namespaced, with attributes, references, CDATA, comments,
PIs, mixed content and non-ASCII text; mutated ones get byte deletions, insertions, duplications,
substitutions and targeted damage (unbalanced tags, bad names, duplicate attributes, unbound
prefixes). Both parsers must accept or refuse alike and, when they accept, build the same tree.
Ours is fed in random chunk sizes.

The shared domain, where XML 1.0 lets expat and us differ by design:
* XML declarations: we accept only version "1.0" and encoding UTF-8; expat takes any "1.x" (and
  more) and other encodings. Documents whose declaration says otherwise are skipped when expat
  accepts them (`outside_shared_domain`), and counted.
* Non-ASCII name characters: we follow XML 1.0 5th edition, expat the 4th edition's tables, whose
  name characters are a subset. The generator only uses non-ASCII characters classified alike by
  both (name characters like e-acute, alpha, CJK; non-name characters like the multiplication sign,
  NBSP, U+F0041). A byte swap can still make a new character (U+4E2D E4 B8 AD -> E4 AD B8, U+4B78,
  CJK Extension A: a 5th-edition name character only), so a document that we accept and expat
  refuses is skipped, and counted, when it holds a non-ASCII character the generator never wrote.
* DOCTYPE: defusedxml refuses it (forbid_dtd), as we do, so it is inside the domain.
CPython-only: it needs defusedxml and expat.
"""

import random
import re
import unittest
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET

from agent.xmlparse import XmlError, XmlParser
from agent.xmltree import TreeBuilder

SEED = 20240501
GENERATED = 5000
MUTATED = 15000

NAMESPACES = ["urn:a", "urn:b", "http://www.onvif.org/ver10/schema", "urn:\u00e9t\u00e9"]
PREFIXES = ["p", "q", "tt", "\u00e9"]
LOCALS = ["a", "b", "Envelope", "x-y", "x.y", "_u", "n1", "\u00e9l\u00e8ve", "\u03b1\u03b2",
          "\u0436", "\u4e2d\u6587", "\u3042", "a\u00b7b"]
TEXTS = ["x", "hello world", " ", "\n  ", "\t", "\r\n", "\r", "caf\u00e9", "\u4e2d",
         "\u00d7\u00ab\u00a0", "\U000f0041", ">", "]]y", "a]b", "1 &lt; 2", "&amp;", "&lt;", "&gt;",
         "&quot;", "&apos;", "&#65;", "&#x41;", "&#x9;", "&#13;", "&#x10FFFF;", "&#233;",
         "&#x4E2D;", "&#0000065;"]
VALUES = ["v", " ", "\t", "\n", "\r\n", "&amp;", "&lt;", "&#9;", "&#xA;", "&#13;", "\u00e9",
          "\u4e2d", ">", "'", '"', "urn:x"]
CDATA = ["", "x", "<a>&amp;", "]]", "\r\n", "\u4e2d"]
COMMENTS = ["<!-- comment -->", "<!-- - -->", "<!--\u00e9-->"]
PIS = ["<?target?>", "<?t data with > inside?>", "<?xml-stylesheet x?>"]


class Gen:
    """Seeded generator of well-formed namespaced documents."""

    def __init__(self, rng):
        self.rng = rng

    def doc(self):
        r = self.rng
        out = []
        if r.random() < 0.1:
            out.append("\ufeff")
        if r.random() < 0.5:
            out.append(r.choice(['<?xml version="1.0"?>', "<?xml version='1.0' encoding='utf-8'?>",
                                 '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
                                 '<?xml version = "1.0" standalone="no" ?>']))
        out.append(self.misc())
        self.element(out, {"xml"}, 0)
        out.append(self.misc())
        return "".join(out).encode()

    def misc(self):
        r = self.rng
        return "".join(r.choice(["\n", " ", "<!-- c -->", "<?pi data?>", "<!---->", "\r\n"])
                       for _ in range(r.randrange(3)))

    def element(self, out, prefixes, depth):
        r = self.rng
        prefixes = set(prefixes)
        decls = []
        for _ in range(r.randrange(3)):
            if r.random() < 0.3:
                decls.append(("", r.choice(NAMESPACES + [""])))
            else:
                p = r.choice(PREFIXES)
                decls.append((p, r.choice(NAMESPACES)))
                prefixes.add(p)
        seen = set()
        decls = [d for d in decls if not (d[0] in seen or seen.add(d[0]))]
        usable = sorted(prefixes - {"xml"})
        prefix = r.choice(usable) if usable and r.random() < 0.5 else ""
        name = (prefix + ":" if prefix else "") + r.choice(LOCALS)
        attrs = []
        for p, uri in decls:
            attrs.append(("xmlns:" + p if p else "xmlns", uri))
        used = set()
        for _ in range(r.randrange(4)):
            ap = r.choice(usable + ["", "", "xml"]) if r.random() < 0.4 else ""
            local = r.choice(LOCALS)
            if local in used:  # keep generated documents free of duplicates (mutations add them)
                continue
            used.add(local)
            attrs.append(((ap + ":" if ap else "") + local, self.value()))
        r.shuffle(attrs)
        tag = "<" + name
        for k, v in attrs:
            tag += r.choice([" ", "\n", "  ", "\t"]) + k + r.choice(["=", " = "]) + self.quote(v)
        tag += r.choice(["", " ", "\n"])
        if depth > 5 or depth and r.random() < 0.15:
            out.append(tag + "/>")
            return
        out.append(tag + ">")
        for _ in range(r.randrange(1, 7) if depth < 3 else r.randrange(3)):
            choice = r.random()
            if choice < 0.35:
                out.append(r.choice(TEXTS))
            elif choice < 0.65:
                self.element(out, prefixes, depth + 1)
            elif choice < 0.75:
                out.append("<![CDATA[" + r.choice(CDATA) + "]]>")
            elif choice < 0.85:
                out.append(r.choice(COMMENTS))
            else:
                out.append(r.choice(PIS))
        out.append("</" + name + r.choice(["", " ", "\n"]) + ">")

    def value(self):
        r = self.rng
        return "".join(r.choice(VALUES) for _ in range(r.randrange(4)))

    def quote(self, v):
        if '"' in v:
            return "'" + v.replace("'", "&apos;") + "'"
        return "\"" + v + "\"" if "'" in v or self.rng.random() < 0.5 else "'" + v + "'"


ALPHABET = set("".join(NAMESPACES + PREFIXES + LOCALS + TEXTS + VALUES + CDATA + COMMENTS + PIS)
               + "\ufeff" + "".join(map(chr, range(128))))
NAME_IN_TAG = re.compile(rb"</?([^\s/>=]+)")
ATTRIBUTE = re.compile(rb"\s[^\s/>=<]+\s*=\s*(\"[^\"]*\"|'[^']*')")


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.randrange(9)
        k = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[min(k, len(data) - 1)]
        elif op == 1:
            data[k:k] = bytes([rng.choice(b"<>/?!-=\"' \t\r\n&#;:x[]\x00\x80\xc3\xff")])
        elif op == 2:
            data[k:k] = data[k:k + 1 + rng.randrange(12)]
        elif op == 3 and len(data) > 1:
            k = min(k, len(data) - 2)
            data[k], data[k + 1] = data[k + 1], data[k]
        elif op == 4:  # unbalanced: drop or rename an end tag
            ends = [m for m in re.finditer(rb"</[^>]*>", data)]
            if ends:
                m = rng.choice(ends)
                data[m.start():m.end()] = rng.choice([b"", b"</zz>"])
        elif op == 5:  # bad name: a character no name may start with
            names = list(NAME_IN_TAG.finditer(data))
            if names:
                m = rng.choice(names)
                data[m.start(1):m.start(1)] = rng.choice([b"1", b"-", b".", b":", b"\xc3\x97"])
        elif op == 6:  # duplicate attribute
            attrs = list(ATTRIBUTE.finditer(data))
            if attrs:
                m = rng.choice(attrs)
                data[m.end():m.end()] = data[m.start():m.end()]
        elif op == 7:  # unbound prefix
            names = list(NAME_IN_TAG.finditer(data))
            if names:
                m = rng.choice(names)
                data[m.start(1):m.start(1)] = b"zz:"
        elif op == 8:  # drop a namespace declaration
            decls = list(re.finditer(rb"\sxmlns(:[^\s=]+)?\s*=\s*(\"[^\"]*\"|'[^']*')", data))
            if decls:
                m = rng.choice(decls)
                del data[m.start():m.end()]
    return bytes(data)


DECL = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*([\"'])(.*?)\1"
                  rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*([\"'])(.*?)\3)?", re.S)


def foreign_declaration(data):
    """An XML declaration with a version other than 1.0 or an encoding other than UTF-8."""
    m = DECL.match(data)
    if m is None:
        return False
    return m.group(2) != b"1.0" or m.group(4) is not None and m.group(4).lower() != b"utf-8"


def foreign_characters(data):
    """A non-ASCII character the generator never wrote (made by a mutation)."""
    try:
        return bool(set(data.decode()) - ALPHABET)
    except UnicodeError:
        return False


def expat_tree(data):
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    # defusedxml's DefusedXmlException is a ValueError; an unknown declared encoding a LookupError
    except (ET.ParseError, ValueError, LookupError):
        return None
    return canon_et(root)


def canon_et(el):
    return (el.tag, sorted(el.attrib.items()), el.text or "", el.tail or "",
            [canon_et(c) for c in el])


def canon_ours(el):
    tag = lambda ns, name: "{%s}%s" % (ns, name) if ns else name  # noqa: E731
    return (tag(el.ns, el.name), sorted((tag(*k), v) for k, v in el.attrs.items()), el.text,
            el.tail, [canon_ours(c) for c in el.children])


def our_tree(data, rng):
    parser = XmlParser()
    builder = TreeBuilder()
    root = None
    pos = 0
    try:
        while True:
            if pos < len(data):
                step = rng.choice([1, 2, 3, 7, 16, 64, len(data)])
                parser.feed(data[pos:pos + step])
                pos = min(pos + step, len(data))
            elif pos == len(data):
                parser.close()
                pos += 1
            while True:
                ev = parser.next_event()
                if ev is None:
                    return canon_ours(root)
                if isinstance(ev, tuple):
                    root = builder.event(ev) or root
                else:
                    break
    except XmlError:
        return None


class TestOracle(unittest.TestCase):
    def compare(self, docs, rng):
        stats = {"both accept": 0, "both refuse": 0, "outside domain": 0}
        for data in docs:
            theirs = expat_tree(data)
            ours = our_tree(data, rng)
            if (theirs is not None and ours is None and foreign_declaration(data)
                    or theirs is None and ours is not None and foreign_characters(data)):
                stats["outside domain"] += 1
                continue
            self.assertEqual(ours is None, theirs is None,
                             "%s accepts %r" % ("expat" if ours is None else "ours", data))
            if ours is not None:
                self.assertEqual(ours, theirs, data)
                stats["both accept"] += 1
            else:
                stats["both refuse"] += 1
        return stats

    def test_generated_documents_are_accepted_alike(self):
        rng = random.Random(SEED)
        gen = Gen(rng)
        stats = self.compare([gen.doc() for _ in range(GENERATED)], rng)
        self.assertEqual(stats["both accept"], GENERATED)

    def test_mutated_documents_are_judged_alike(self):
        rng = random.Random(SEED + 1)
        gen = Gen(rng)
        stats = self.compare([mutate(gen.doc(), rng) for _ in range(MUTATED)], rng)
        # both outcomes must be well represented for the comparison to mean something
        self.assertGreater(stats["both accept"], MUTATED // 10, stats)
        self.assertGreater(stats["both refuse"], MUTATED // 2, stats)

    def test_declarations_outside_the_domain(self):
        for decl in (b'<?xml version="1.1"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>'):
            self.assertIsNotNone(expat_tree(decl + b"<a/>"))
            self.assertIsNone(our_tree(decl + b"<a/>", random.Random(0)))
            self.assertTrue(foreign_declaration(decl + b"<a/>"))

    def test_names_outside_the_domain(self):
        data = "<a\u4b78/>".encode()  # CJK Extension A: a name character in the 5th edition only
        self.assertIsNone(expat_tree(data))
        self.assertIsNotNone(our_tree(data, random.Random(0)))
        self.assertTrue(foreign_characters(data))


BOMBS = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
                      + b"".join(b'<!ENTITY lol%d "%s">' % (k, b"&lol%d;" % (k - 1) * 10)
                                 for k in range(1, 10)) + b"]><lolz>&lol9;</lolz>",
    "quadratic blow-up": b'<!DOCTYPE k [<!ENTITY a "' + b"x" * 50000 + b'">]><k>'
                         + b"&a;" * 5000 + b"</k>",
    "external entity": b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
    "parameter entity": b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>'
                        b'<a/>',
    "external DTD": b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>',
}


class TestBombs(unittest.TestCase):
    def test_refused_by_both(self):
        for name, data in BOMBS.items():
            self.assertIsNone(expat_tree(data), name)
            with self.assertRaises(XmlError, msg=name) as cm:
                parser = XmlParser(max_total=len(data))
                parser.feed(data)
                parser.close()
                while parser.next_event() is not None:
                    pass
            self.assertEqual(cm.exception.position, data.find(b"<!DOCTYPE"), name)


if __name__ == "__main__":
    unittest.main()
