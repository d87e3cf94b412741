"""A streaming, namespace-aware XML 1.0 parser for SOAP requests, sans-IO in the h11 model.

Neither runtime has a parser we can trust with hostile input (MicroPython has none; expat needs
defusedxml to refuse DTDs), so this one accepts exactly what a SOAP 1.2 peer needs and refuses the
rest: no DOCTYPE at all, hence no entity expansion, no external entities and no billion laughs.
It scans bytes with find() and slicing (positions in errors are byte offsets, and MicroPython's
str indexing is O(n) on non-ASCII text), decoding each name, value and text run once.
"""

import re

from agent.compat import has_control_bytes
from agent.errors import LocalProtocolError, RemoteProtocolError, Sentinel

# Every bound in one place (lessons-from-anchors lesson 3); each is a keyword of XmlParser.
# The deepest ONVIF request nests ~6 elements (Envelope/Body/SetRelayOutputSettings/RelayOutput/
# Properties/Mode); 32 leaves room for extensions and stops stack-exhaustion nesting.
MAX_DEPTH = 32
MAX_NAME = 128  # bytes of one prefixed name; the longest ONVIF/WS-* QNames are ~45 with a prefix
MAX_ATTRS = 64  # per element, xmlns declarations included: gSOAP Envelopes declare ~30
MAX_TEXT = 16384  # bytes of one text node or attribute value: base64 SerialData of a 12 KiB command
MAX_TOTAL = 65536  # bytes fed in all: agent.http.MAX_BODY, so any body HTTP accepts fits


NEED_DATA = Sentinel("NEED_DATA")
START = 1
END = 2
TEXT = 3

XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"


class XmlError(RemoteProtocolError):
    """The input is not a document we accept: SOAP fault env:Sender/ter:WellFormed (Table 5)."""

    def __init__(self, message, position=None):
        super().__init__(message, 400, "WellFormed", position)


_WS = b" \t\r\n"  # XML 1.0 [3] S
_BOM = b"\xef\xbb\xbf"
_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"', b"apos": "'"}  # XML 1.0 4.6
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
# What MicroPython's lax decoder lets through: overlong forms, surrogates, code points above
# U+10FFFF (RFC 3629), and the non-characters U+FFFE/U+FFFF that XML 1.0 [2] excludes.
_BAD_UTF8 = re.compile(
    b"[\xc0\xc1\xf5-\xff]|\xe0[\x80-\x9f]|\xed[\xa0-\xbf]|\xf0[\x80-\x8f]|\xf4[\x90-\xbf]"
    b"|\xef\xbf[\xbe\xbf]"
)
_NAME_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_NAME_CHAR = _NAME_START + "-.0123456789"


def _name_start(c):
    """XML 1.0 (5th ed.) [4] NameStartChar beyond ASCII."""
    return (
        0xC0 <= c <= 0xD6 or 0xD8 <= c <= 0xF6 or 0xF8 <= c <= 0x2FF or 0x370 <= c <= 0x37D
        or 0x37F <= c <= 0x1FFF or 0x200C <= c <= 0x200D or 0x2070 <= c <= 0x218F
        or 0x2C00 <= c <= 0x2FEF or 0x3001 <= c <= 0xD7FF or 0xF900 <= c <= 0xFDCF
        or 0xFDF0 <= c <= 0xFFFD or 0x10000 <= c <= 0xEFFFF
    )


_NCNAME_ASCII = re.compile("[A-Za-z_][-.0-9A-Za-z_]*")


def is_ncname(s):
    """Whether str `s` is an NCName (Namespaces in XML 1.0 [4]: an XML Name without colons)."""
    m = _NCNAME_ASCII.match(s)
    if m is not None and len(m.group(0)) == len(s):  # the usual, all-ASCII case
        return True
    if not s:
        return False
    first = True
    for ch in s:
        if ch < "\x80":
            if ch not in (_NAME_START if first else _NAME_CHAR):
                return False
        else:
            c = ord(ch)
            if not (_name_start(c) or not first and (
                    c == 0xB7 or 0x300 <= c <= 0x36F or 0x203F <= c <= 0x2040)):  # [4a] NameChar
                return False
        first = False
    return True


class _Memo:
    """Results of a pure function of bytes keys, forgotten wholesale past a byte budget.

    Request vocabularies are small and repeat on every request, so names and whole start tags are
    checked once, not per request. Entries depend only on their keys (and the default limits), so
    sharing them between parsers leaks nothing.
    """

    def __init__(self, budget):
        self.budget = budget
        self.size = 0
        self.map = {}

    def put(self, key, value):
        if len(key) > self.budget >> 2:  # no single entry may crowd out the rest
            return
        if self.size + len(key) > self.budget:
            self.clear()
        self.size += len(key)
        self.map[key] = value

    def clear(self):
        self.map.clear()
        self.size = 0


# Budgets in key bytes: an ONVIF request has ~15 distinct start tags of ~60 bytes, gSOAP Envelopes
# ~1.5 KB; small enough for a MicroPython heap.
_QNAMES = _Memo(2048)  # raw QName -> (prefix, local)
_TAGS = _Memo(8192)  # start tag bytes between '<' and '>' -> XmlParser._tag() result


def _split_qname(raw):
    """(prefix, local) of a QName (Namespaces in XML 1.0 [7]), or None; prefix is "" when absent."""
    qn = _QNAMES.map.get(raw)
    if qn is None:
        prefix, colon, local = raw.decode().partition(":")
        qn = (prefix, local) if colon else ("", prefix)
        if not is_ncname(qn[1]) or colon and not is_ncname(prefix):  # NCNames have no ':'
            return None
        _QNAMES.put(raw, qn)
    return qn


def _is_char(c):
    """XML 1.0 [2] Char, for character references."""
    if c < 0x20:
        return c in (9, 10, 13)
    return c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or 0x10000 <= c <= 0x10FFFF


def _bad_byte_at(run):
    """Offset of the first illegal control byte or bad UTF-8 sequence in `run` (error path)."""
    k, n = 0, len(run)
    while k < n:
        c = run[k]
        if c < 0x80:
            if c < 0x20 and c not in (9, 10, 13):
                return k
            k += 1
            continue
        size = 2 if 0xC2 <= c < 0xE0 else 3 if 0xE0 <= c < 0xF0 else 4 if 0xF0 <= c < 0xF5 else 0
        seq = run[k:k + size]
        if not size or len(seq) < size or _BAD_UTF8.search(seq) is not None:
            return k
        for b in seq[1:]:
            if b & 0xC0 != 0x80:
                return k
        k += size
    return 0


def _literal(raw, attr):
    """Decode literal character data: line ends normalised (XML 1.0 2.11), in attribute values
    also each white space character replaced by a space (3.3.3, every attribute being CDATA)."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if attr:
        raw = raw.replace(b"\n", b" ").replace(b"\t", b" ")
    return raw.decode()


class XmlParser:
    """Feed bytes in any split, pull events; any input yields events or XmlError, nothing else.

    close() raises at once when the parser already starved at the end (the usual streaming loop);
    when events are still unread, next_event() raises where the input runs out.
    """

    def __init__(self, *, max_depth=MAX_DEPTH, max_name=MAX_NAME, max_attrs=MAX_ATTRS,
                 max_text=MAX_TEXT, max_total=MAX_TOTAL):
        self.max_depth = max_depth
        self.max_name = max_name
        self.max_attrs = max_attrs
        self.max_text = max_text
        self.max_total = max_total
        self._buf = b""
        self._pos = 0  # next unread byte of _buf
        self._base = 0  # document offset of _buf[0]
        self._valid = 0  # _buf[:_valid] is checked: valid UTF-8, only XML characters
        self._resume = 0  # where to resume looking for the end of the token at _pos
        self._total = 0
        self._stack = []  # open elements: (raw QName, their END event, the parent's nsmap)
        self._nsmap = {"xml": XML_NS}  # Namespaces in XML 1.0 section 3: xml is bound by definition
        self._pending = None  # END of an empty-element tag
        self._started = False  # past the BOM and XML declaration
        self._root = False  # the root element has started
        self._textlen = 0  # bytes of the current text node so far
        self._closed = False
        self._starved = False  # NEED_DATA was the last answer and nothing was fed since
        self._error = None
        # The start-tag memo's entries were checked against the default limits only.
        defaults = (max_name, max_attrs, max_text) == (MAX_NAME, MAX_ATTRS, MAX_TEXT)
        self._tags = _TAGS if defaults else None

    def feed(self, data):
        if self._error is not None:
            raise self._error
        if self._closed:
            raise LocalProtocolError("feed() after close()")
        if type(data) is not bytes:
            data = bytes(data)
        if not data:
            return
        total = self._total + len(data)
        if total > self.max_total:
            self._fail("document longer than max_total (%d bytes)" % self.max_total,
                       self.max_total - self._base)
        self._total = total
        pos = self._pos
        if pos:  # compact: no `del buf[:n]` on MicroPython, and a fresh bytes is as cheap
            self._buf = self._buf[pos:] + data
            self._base += pos
            self._valid -= pos
            self._resume = max(0, self._resume - pos)
            self._pos = 0
        else:
            self._buf += data
        self._starved = False
        self._check()

    def close(self):
        if self._error is not None:
            raise self._error
        if self._closed:
            return
        self._closed = True
        if self._valid < len(self._buf):
            self._fail("truncated UTF-8 sequence at end of input", self._valid)
        if self._starved:
            self.next_event()  # no more input to wait for: this raises unless the document is done

    def next_event(self):
        ev = self._pending
        if ev is not None:
            self._pending = None
            return ev
        if self._error is not None:
            raise self._error
        try:
            if not self._stack:
                return self._misc()
            buf = self._buf
            n = len(buf)
            while True:  # element content (XML 1.0 [43]); text and end tags inline: most events
                i = self._pos
                if i >= n:
                    return self._starve("an element")
                r = self._resume  # > i only when this token starved before
                if buf[i] != 60:
                    j = buf.find(b"<", r if r > i else i)
                    size = (n if j < 0 else j) - i + self._textlen
                    if size > self.max_text:
                        self._fail("text node longer than max_text (%d bytes)" % self.max_text,
                                   i + self.max_text - self._textlen)
                    if j < 0:
                        self._resume = n
                        return self._starve("an element")
                    self._textlen = size
                    self._pos = j
                    if r:
                        self._resume = 0
                    raw = buf[i:j]
                    if b"&" in raw or b"\r" in raw or b"]]>" in raw:
                        return (TEXT, self._chars(raw, i, False))
                    return (TEXT, raw.decode())
                if i + 1 >= n:
                    return self._starve("a tag")
                c = buf[i + 1]
                if c == 47:  # ETag (XML 1.0 [42]), matching its start tag (WFC: Element Type Match)
                    j = buf.find(b">", r if r > i else i + 2)
                    if j < 0:
                        self._resume = n
                        return self._starve("an end tag")
                    raw, end, parent_nsmap = self._stack[-1]
                    name = buf[i + 2:j]
                    if name != raw and name.rstrip(_WS) != raw:
                        self._fail("end tag does not match the start tag", i)
                    self._stack.pop()
                    self._nsmap = parent_nsmap
                    self._pos = j + 1
                    self._textlen = 0
                    if r:
                        self._resume = 0
                    return end
                if c == 33:
                    ev = self._bang(buf, i, True)
                elif c == 63:
                    ev = self._pi(buf, i)
                else:
                    return self._start_tag(buf, i)
                if ev is not None:
                    return ev
        except (IndexError, ValueError, UnicodeError):  # defence in depth for the contract
            self._fail("malformed markup", self._pos)

    # -- helpers: `i` and friends index _buf; errors report document offsets

    def _fail(self, message, at):
        self._error = XmlError(message, self._base + at)
        raise self._error

    def _starve(self, what):
        if self._closed:
            self._fail("document ends inside " + what, len(self._buf))
        self._starved = True
        return NEED_DATA

    def _check(self):
        """Check the newly fed bytes up to the last complete UTF-8 sequence, once."""
        buf = self._buf
        end = n = len(buf)
        k = n - 1
        while k > n - 4 and k >= self._valid and buf[k] & 0xC0 == 0x80:
            k -= 1
        if k >= self._valid and buf[k] >= 0xC0:  # the last lead byte: is its sequence complete?
            if n - k < (2 if buf[k] < 0xE0 else 3 if buf[k] < 0xF0 else 4):
                end = k
        if end <= self._valid:
            return
        run = buf[self._valid:end]
        try:  # decoding refuses malformed UTF-8 on both runtimes, overlong forms only on CPython
            bad = has_control_bytes(run) or (len(run.decode()) != len(run)
                                     and _BAD_UTF8.search(run) is not None)
        except UnicodeError:
            bad = True
        if bad:
            self._fail("illegal character or invalid UTF-8", self._valid + _bad_byte_at(run))
        self._valid = end

    def _misc(self):
        """Prolog and epilog (XML 1.0 [22], [27]): white space, comments, PIs and the one root."""
        buf = self._buf
        while True:
            if not self._started:
                ev = self._prologue(buf)
                if ev is not None:
                    return ev
            i, n = self._pos, len(buf)
            while i < n and buf[i] in _WS:
                i += 1
            self._pos = i
            if i >= n:
                if not self._closed:
                    return self._starve("the prolog")
                if self._root:
                    return None
                self._fail("no root element", i)
            if buf[i] != 60:
                self._fail("text outside the root element", i)
            if i + 1 >= n:
                return self._starve("a tag")
            c = buf[i + 1]
            if c == 33:
                ev = self._bang(buf, i, False)
            elif c == 63:
                ev = self._pi(buf, i)
            elif c == 47 or self._root:
                self._fail("markup after the root element" if self._root
                           else "end tag before the root", i)
            else:
                self._root = True
                ev = self._start_tag(buf, i)
                if ev is NEED_DATA:
                    self._root = False
                return ev
            if ev is not None:
                return ev

    def _prologue(self, buf):
        """Optional BOM (XML 1.0 4.3.3) and XML declaration (2.8), only at the very start."""
        i = self._pos
        if self._base + i == 0:
            if buf[:3] == _BOM:
                i = self._pos = 3
            elif not self._closed and len(buf) < 3 and _BOM.startswith(buf):
                return self._starve("a byte order mark")
        head = buf[i:i + 6]
        if len(head) < 6 and not self._closed and b"<?xml".startswith(head[:5]):
            return self._starve("the XML declaration")
        if head[:5] == b"<?xml" and head[5:] and head[5] in _WS:
            j = buf.find(b"?>", max(i + 6, self._resume))
            if j < 0:
                self._resume = max(i + 6, len(buf) - 1)
                return self._starve("the XML declaration")
            key = buf[i + 1:j + 1]  # "?xml ...?" is no start tag's bytes, so it shares their memo
            if key not in _TAGS.map:
                self._xml_decl(buf[i + 5:j], i + 5)
                _TAGS.put(key, True)
            self._pos = j + 2
            self._resume = 0
        self._started = True
        return None

    def _xml_decl(self, body, at):
        """XML 1.0 [23]: version 1.0, then optional encoding (UTF-8 only) and standalone."""
        names, values = [], []
        p, n = 0, len(body)
        while True:
            q = p
            while q < n and body[q] in _WS:
                q += 1
            if q >= n:
                break
            e = body.find(b"=", q)
            v = e + 1
            while 0 < v < n and body[v] in _WS:
                v += 1
            close = body.find(body[v:v + 1], v + 1) if body[v:v + 1] in (b'"', b"'") else -1
            if q == p or e < 0 or close < 0:
                self._fail("malformed XML declaration", at + q)
            names.append(body[q:e].rstrip(_WS))
            values.append(body[v + 1:close])
            p = close + 1
        ok = names in ([b"version"], [b"version", b"encoding"], [b"version", b"standalone"],
                       [b"version", b"encoding", b"standalone"]) and values[0] == b"1.0"
        if ok and b"encoding" in names:
            ok = values[1].lower() == b"utf-8"
        if ok and names[-1] == b"standalone":
            ok = values[-1] in (b"yes", b"no")
        if not ok:
            self._fail("XML declaration must be version 1.0, encoding UTF-8", at)

    def _chars(self, raw, at, attr):
        """Character data or an attribute value with references replaced (XML 1.0 4.1, 4.6)."""
        k = -1 if attr else raw.find(b"]]>")
        if k >= 0:
            self._fail("']]>' in character data", at + k)
        parts = raw.split(b"&")
        out = [_literal(parts[0], attr)]
        at += len(parts[0])
        for piece in parts[1:]:
            k = piece.find(b";")
            out.append(self._reference(piece[:k] if k >= 0 else None, at))
            out.append(_literal(piece[k + 1:], attr))
            at += len(piece) + 1
        return "".join(out)

    def _reference(self, name, at):
        if name is None:
            self._fail("'&' that starts no reference", at)
        ch = _ENTITIES.get(name)
        if ch is not None:
            return ch
        if name[:1] != b"#":
            # Only the five predefined entities exist without a DTD; refusing the rest at once
            # is what defeats entity bombs and external entities.
            self._fail("reference to an undeclared entity", at)
        hexa = name[1:2] == b"x"
        digits = name[2:] if hexa else name[1:]
        if digits and not digits.strip(_HEX if hexa else _DIGITS):
            digits = digits.lstrip(b"0") or b"0"
            if len(digits) <= 7:  # longer cannot be <= 0x10FFFF; also keeps int() cheap
                c = int(digits, 16 if hexa else 10)
                if _is_char(c):
                    return chr(c)
        self._fail("character reference to a non-character", at)

    def _start_tag(self, buf, i):
        """STag / EmptyElemTag (XML 1.0 [40], [44]), names resolved (Namespaces in XML 1.0 5-6)."""
        j = buf.find(b">", i + 1 if self._resume <= i else self._resume)
        if j < 0:
            self._resume = len(buf)
            return self._starve("a start tag")
        memo = self._tags
        tag = memo.map.get(buf[i + 1:j]) if memo is not None else None
        if tag is None:
            tag = self._tag(buf, i, j)
            if tag is NEED_DATA:
                self._resume = len(buf)
                return self._starve("a start tag")
            if memo is not None:
                memo.put(buf[i + 1:self._pos - 1], tag)
        else:  # the same bytes up to the first '>' were a whole tag before
            self._pos = j + 1
        prefix, local, decls, attrs, empty, raw = tag
        nsmap = self._nsmap
        if decls:
            nsmap = dict(nsmap)
            for p, uri in decls:
                if uri:
                    nsmap[p] = uri
                else:  # xmlns="" undeclares the default namespace
                    nsmap.pop("", None)
        ns = nsmap.get(prefix) if prefix else nsmap.get("", "")
        if ns is None:
            self._fail("unbound namespace prefix", i + 1)
        resolved = {}
        for p, name, value, at in attrs:
            key = (nsmap.get(p) if p else "", name)  # unprefixed attributes are in no namespace
            if key[0] is None:
                self._fail("unbound namespace prefix", i + at)
            if key in resolved:
                self._fail("duplicate attribute", i + at)
            resolved[key] = value
        if len(self._stack) >= self.max_depth:
            self._fail("elements nested deeper than max_depth (%d)" % self.max_depth, i)
        self._textlen = 0
        self._resume = 0
        end = (END, ns, local)
        if empty:
            self._pending = end
        else:
            self._stack.append((raw, end, self._nsmap))
            self._nsmap = nsmap
        return (START, ns, local, resolved, nsmap)

    def _tag(self, buf, i, j):
        """The context-free part of the start tag at i, whose first '>' is at j: (prefix, local,
        namespace declarations, attributes, empty, raw name), names and values checked and
        decoded; or NEED_DATA when the tag goes on past the input."""
        if buf.find(b"=", i, j) < 0:  # no attribute: the '>' found ends the tag
            empty = buf[j - 1] == 47 and j - 1 > i
            raw = buf[i + 1:j - 1 if empty else j].rstrip(_WS)
            raw_attrs = ()
            self._pos = j + 1
        else:
            parsed = self._attributes(buf, i)
            if parsed is NEED_DATA:
                return NEED_DATA
            raw, raw_attrs, empty = parsed
        prefix, local = self._qname(raw, i + 1)
        decls = []
        attrs = []
        for name, value, at, value_at in raw_attrs:
            p, name = self._qname(name, at)
            if b"&" in value or b"\t" in value or b"\n" in value or b"\r" in value:
                value = self._chars(value, value_at, True)
            else:
                value = value.decode()
            if p == "xmlns" or not p and name == "xmlns":  # Namespaces in XML 1.0 section 3
                p = name if p else ""
                if p in [d[0] for d in decls]:
                    self._fail("duplicate namespace declaration", at)
                if (p == "xmlns" or value == XMLNS_NS or (p == "xml") != (value == XML_NS)
                        or p and not value):
                    self._fail("reserved or empty namespace declaration", at)
                decls.append((p, value))
            else:
                attrs.append((p, name, value, at - i))
        return prefix, local, tuple(decls), tuple(attrs), empty, raw

    def _qname(self, raw, at):
        if len(raw) > self.max_name:
            self._fail("name longer than max_name (%d bytes)" % self.max_name, at)
        qn = _split_qname(raw)
        if qn is None:
            self._fail("malformed name", at)
        return qn

    def _attributes(self, buf, i):
        """(raw name, [(raw attribute name, raw value, its offset, value's offset)], empty) of the
        tag at i, or NEED_DATA."""
        words = buf[i + 1:i + 2 + self.max_name].split(None, 1)
        raw = words[0] if words else b""
        p = i + 1 + len(raw)
        if buf[i + 1] in _WS:
            raw = b""  # fails the name check below
        attrs = []
        n = len(buf)
        while True:
            q = p
            while q < n and buf[q] in _WS:
                q += 1
            if q >= n:
                return NEED_DATA
            c = buf[q]
            if c == 62 or c == 47:
                if c == 47 and q + 1 >= n:
                    return NEED_DATA
                if c == 47 and buf[q + 1] != 62:
                    self._fail("'/' not followed by '>'", q)
                self._pos = q + 1 + (c == 47)
                return raw, attrs, c == 47
            if q == p:
                self._fail("attributes need white space between them", q)
            if len(attrs) >= self.max_attrs:
                self._fail("more than max_attrs (%d) attributes" % self.max_attrs, q)
            e = buf.find(b"=", q)
            v = e + 1
            while 0 < v < n and buf[v] in _WS:
                v += 1
            if e < 0 or v >= n:
                return NEED_DATA
            quote = buf[v]
            if quote != 34 and quote != 39:
                self._fail("attribute value not quoted", v)
            close = buf.find(b'"' if quote == 34 else b"'", v + 1, v + 2 + self.max_text)
            if close < 0:
                if n > v + 1 + self.max_text:
                    self._fail("attribute value longer than max_text (%d bytes)" % self.max_text, v)
                return NEED_DATA
            value = buf[v + 1:close]
            k = value.find(b"<")
            if k >= 0:
                self._fail("'<' in an attribute value", v + 1 + k)
            attrs.append((buf[q:e].rstrip(_WS), value, q, v + 1))
            p = close + 1

    def _bang(self, buf, i, in_content):
        """Comment (skipped) or CDATA section (a TEXT event); anything else starting '<!' is a
        DOCTYPE or markup declaration, refused outright."""
        head = buf[i:i + 9]
        if head[:4] == b"<!--":
            j = buf.find(b"-->", max(i + 4, self._resume))
            if j < 0:
                self._resume = max(i + 4, len(buf) - 2)
                return self._starve("a comment")
            body = buf[i + 4:j]
            k = body.find(b"--")
            if k >= 0 or body[-1:] == b"-":  # XML 1.0 [15]
                self._fail("'--' inside a comment", i + 4 + (k if k >= 0 else len(body) - 1))
            self._pos = j + 3
            self._resume = 0
            return None
        if head == b"<![CDATA[" and in_content:
            j = buf.find(b"]]>", max(i + 9, self._resume))
            size = (len(buf) if j < 0 else j) - i - 9 + self._textlen
            if size > self.max_text:
                self._fail("text node longer than max_text (%d bytes)" % self.max_text,
                           i + 9 + self.max_text - self._textlen)
            if j < 0:
                self._resume = max(i + 9, len(buf) - 2)
                return self._starve("a CDATA section")
            self._textlen = size
            self._pos = j + 3
            self._resume = 0
            return (TEXT, _literal(buf[i + 9:j], False)) if j > i + 9 else None
        if len(head) < 9 and (b"<!--".startswith(head) or b"<![CDATA[".startswith(head)):
            return self._starve("markup")
        if not in_content and head[:3] == b"<![":
            self._fail("CDATA section outside the root element", i)
        self._fail("DOCTYPE and markup declarations are refused", i)

    def _pi(self, buf, i):
        """Processing instruction (XML 1.0 [16]): checked and skipped."""
        j = buf.find(b"?>", i + 2 if self._resume <= i else self._resume)
        if j < 0:
            self._resume = max(i + 2, len(buf) - 1)
            return self._starve("a processing instruction")
        body = buf[i + 2:j]
        words = body.split(None, 1)
        target = words[0] if words and body[0] not in _WS else b""
        if len(target) > self.max_name:
            self._fail("name longer than max_name (%d bytes)" % self.max_name, i + 2)
        if target.lower() == b"xml":
            self._fail("XML declaration not at the start of the document", i)
        if not is_ncname(target.decode()):  # Namespaces in XML 1.0 section 7: no colons
            self._fail("malformed processing instruction target", i + 2)
        self._pos = j + 2
        self._resume = 0
        return None
