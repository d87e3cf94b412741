"""A small element tree built from XmlParser events, with ElementTree's text/tail semantics.

SOAP handlers read request bodies as trees; the SOAP layer feeds the builder the events of each
sub-tree it wants (a header block, the body's operation element), so the builder works from any
START, not only the root's.
"""

from agent.errors import RemoteProtocolError
from agent.xmlparse import END, START, TEXT, XmlParser, is_ncname


class Element:
    """One element: `attrs` is {(ns, local): value}; `nsmap` maps prefixes in scope to URIs
    (read-only, shared); `text` precedes the first child and `tail` follows the end tag."""

    __slots__ = ("ns", "name", "attrs", "nsmap", "children", "text", "tail")

    def __init__(self, ns, name, attrs=None, nsmap=None):
        self.ns = ns
        self.name = name
        self.attrs = {} if attrs is None else attrs
        self.nsmap = {} if nsmap is None else nsmap
        self.children = []
        self.text = ""
        self.tail = ""

    def __repr__(self):
        return "<Element {%s}%s>" % (self.ns, self.name)

    def get(self, name, default=None):
        """An unqualified attribute (the usual kind: token="...")."""
        return self.attrs.get(("", name), default)

    def find(self, ns, name):
        for child in self.children:
            if child.name == name and child.ns == ns:
                return child
        return None

    def findall(self, ns, name):
        return [child for child in self.children if child.name == name and child.ns == ns]

    def findtext(self, ns, name, default=None):
        child = self.find(ns, name)
        return default if child is None else child.text

    def resolve_qname(self, value):
        """(ns, local) of a QName-typed value (XML Schema 3.2.18) in this element's scope; an
        unprefixed name takes the default namespace."""
        value = value.strip()
        prefix, sep, local = value.rpartition(":")
        if not is_ncname(local) or sep and not is_ncname(prefix):
            raise RemoteProtocolError("malformed QName value", 400, "InvalidArgVal")
        ns = self.nsmap.get(prefix) if prefix else self.nsmap.get("", "")
        if ns is None:
            raise RemoteProtocolError("QName value with an undeclared prefix", 400, "InvalidArgVal")
        return ns, local


class TreeBuilder:
    """Turn events into Elements, one event at a time; event() returns the finished top element."""

    def __init__(self):
        self._stack = []
        self._last = None  # the element whose text (or tail, after its end) receives data
        self._tail = False

    def event(self, ev):
        kind = ev[0]
        if kind == TEXT:
            last = self._last
            if last is not None:  # pieces are few and bounded by max_text, so += is fine
                if self._tail:
                    last.tail += ev[1]
                else:
                    last.text += ev[1]
            return None
        if kind == START:
            el = Element(ev[1], ev[2], ev[3], ev[4])
            if self._stack:
                self._stack[-1].children.append(el)
            self._stack.append(el)
            self._last = el
            self._tail = False
            return None
        if kind == END:
            el = self._stack.pop()
            if self._stack:
                self._last = el
                self._tail = True
                return None
            self._last = None  # data after the top element belongs to no tree of ours
            return el
        return None


def parse(data, **limits):
    """The root Element of a whole document in `data` (bytes); XmlError when it is not one."""
    parser = XmlParser(**limits)
    parser.feed(data)
    parser.close()
    next_event = parser.next_event
    event = TreeBuilder().event
    root = None
    while True:
        ev = next_event()
        if ev is None:
            return root
        done = event(ev)
        if done is not None:
            root = done
