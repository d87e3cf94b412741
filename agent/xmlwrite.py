"""Streaming XML writer: responses go out piece by piece into a sink, never as one big string.

The writer holds at most `chunk` characters before handing UTF-8 bytes to `sink` (a callable,
e.g. `ResponseStream.write`), so a response of any size costs a bounded buffer. Namespace
prefixes come from one well-known table and each is declared once, on the element that first
needs it (or up front on the root, see `declare`), so prefixes never depend on the caller.
"""

from .errors import LocalProtocolError

# Conventional prefixes (checklist 5.2). Clients must not rely on them, but stable prefixes make
# responses readable and let the SOAP layer declare everything once on the Envelope.
PREFIXES = {
    "http://www.w3.org/2003/05/soap-envelope": "env",
    "http://www.onvif.org/ver10/schema": "tt",
    "http://www.onvif.org/ver10/device/wsdl": "tds",
    "http://www.onvif.org/ver10/deviceIO/wsdl": "tmd",
    "http://www.onvif.org/ver10/events/wsdl": "tev",
    "http://www.onvif.org/ver10/error": "ter",
    "http://www.onvif.org/ver10/topics": "tns1",
    "http://www.w3.org/2005/08/addressing": "wsa",
    "http://docs.oasis-open.org/wsn/b-2": "wsnt",
    "http://docs.oasis-open.org/wsn/t-1": "wstop",
    "http://docs.oasis-open.org/wsrf/bf-2": "wsrf-bf",
    "http://docs.oasis-open.org/wsrf/r-2": "wsrf-r",
    "http://www.w3.org/2001/XMLSchema": "xs",
    "http://schemas.xmlsoap.org/ws/2005/04/discovery": "d",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing": "wsadis",
    "http://www.w3.org/XML/1998/namespace": "xml",
}

XML_NS = "http://www.w3.org/XML/1998/namespace"

# Default flush size: large enough that typical responses leave in one piece, small enough for a
# microcontroller's send buffer.
DEFAULT_CHUNK = 1024


def escape_text(s):
    """Escape character data (XML 1.0 section 2.4)."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:  # a literal CR would be normalised away by the reader (section 2.11)
        s = s.replace("\r", "&#13;")
    return s


def escape_attr(s):
    """Escape an attribute value so that attribute-value normalisation (3.3.3) keeps it."""
    s = escape_text(s)
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "\t" in s:
        s = s.replace("\t", "&#9;")
    if "\n" in s:
        s = s.replace("\n", "&#10;")
    return s


class XmlWriter:
    """Writes elements into `sink(bytes)`, flushing every `chunk` characters.

    Attributes are given as a list of (name, value) pairs where name is a local name or a
    (namespace, local) tuple. Values are strings; booleans and ints are formatted as XML Schema
    lexical values.
    """

    def __init__(self, sink, *, chunk=DEFAULT_CHUNK):
        self._sink = sink
        self._chunk = chunk
        self._parts = []
        self._size = 0
        self._stack = []  # per open element: (qname, namespaces it declared)
        self._declared = {XML_NS: "xml"}
        self._open_tag = False  # the last start tag is not yet closed with ">"

    def _put(self, s):
        self._parts.append(s)
        self._size += len(s)
        if self._size >= self._chunk:
            self.flush()

    def flush(self):
        """Hand everything buffered so far to the sink."""
        if self._parts:
            data = "".join(self._parts).encode()
            self._parts = []
            self._size = 0
            self._sink(data)

    def _prefix(self, ns, new):
        prefix = self._declared.get(ns)
        if prefix is None:
            prefix = PREFIXES.get(ns)
            if prefix is None:
                raise LocalProtocolError("no prefix for namespace " + ns)
            self._declared[ns] = prefix
            new.append(ns)
        return prefix

    def _close_start(self):
        if self._open_tag:
            self._put(">")
            self._open_tag = False

    def start(self, ns, name, attrs=None, declare=()):
        """Open an element; `declare` lists namespaces to declare here for the whole subtree."""
        prefix = self._declared.get(ns) if ns else ""
        if not attrs and not declare and prefix is not None:
            # Fast path (most elements): nothing to declare, no attributes.
            qname = prefix + ":" + name if ns else name
            self._put("><" + qname if self._open_tag else "<" + qname)
            self._open_tag = True
            self._stack.append((qname, ()))
            return
        self._close_start()
        new = []
        for uri in declare:
            self._prefix(uri, new)
        qname = self._prefix(ns, new) + ":" + name if ns else name
        parts = ["<", qname]
        if attrs:
            for key, value in attrs:
                if isinstance(key, tuple):
                    key = self._prefix(key[0], new) + ":" + key[1]
                parts.append(" %s=\"%s\"" % (key, escape_attr(lexical(value))))
        for uri in new:
            parts.append(' xmlns:%s="%s"' % (self._declared[uri], escape_attr(uri)))
        self._put("".join(parts))
        self._open_tag = True
        self._stack.append((qname, new))

    def end(self):
        """Close the innermost open element."""
        qname, new = self._stack.pop()
        if self._open_tag:
            self._put("/>")
            self._open_tag = False
        else:
            self._put("</" + qname + ">")
        for uri in new:  # those declarations go out of scope with the element
            del self._declared[uri]

    def qname(self, ns, local):
        """A QName-typed value (e.g. a fault subcode) for a namespace declared in scope."""
        prefix = self._declared.get(ns)
        if prefix is None:
            raise LocalProtocolError("namespace not declared in scope: " + ns)
        return prefix + ":" + local

    def text(self, value):
        """Character data inside the current element."""
        s = lexical(value)
        if s:
            self._close_start()
            self._put(escape_text(s))

    def leaf(self, ns, name, value=None, attrs=None):
        """A whole element with optional text content."""
        prefix = self._declared.get(ns) if ns else ""
        if attrs or prefix is None:
            self.start(ns, name, attrs)
            if value is not None:
                self.text(value)
            self.end()
            return
        # Fast path (most elements): one piece, no stack traffic, no escaping of numbers.
        qname = prefix + ":" + name if ns else name
        kind = type(value)
        if kind is str:
            text = escape_text(value)
        elif kind is bool:
            text = "true" if value else "false"
        elif value is None:
            text = ""
        else:
            text = str(value)
        if text:
            piece = "<" + qname + ">" + text + "</" + qname + ">"
        else:
            piece = "<" + qname + "/>"
        if self._open_tag:
            piece = ">" + piece
            self._open_tag = False
        self._put(piece)

    def close(self):
        """Finish: every element must be closed; flushes the rest."""
        if self._stack:
            raise LocalProtocolError("unclosed element " + self._stack[-1][0])
        self.flush()


def lexical(value):
    """The XML Schema lexical form of a Python value (xs:boolean is lower case)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    return str(value)
