"""SOAP 1.2 envelopes: reading a request (checklist 5.1) and writing responses and faults (5.3).

Reading is event-driven: the XML parser's events are checked against the envelope's structure
as they come, and only the header blocks and the first Body child are built as small trees.
"""

from .errors import AgentError, RemoteProtocolError
from .xmlparse import END, START, TEXT, XmlParser
from .xmltree import TreeBuilder

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
TER = "http://www.onvif.org/ver10/error"

# SOAP 1.2 Part 1 section 5.2.2: the roles this node plays. A header block for any other role is
# not ours to process, so its mustUnderstand does not concern us.
_OUR_ROLES = ("", SOAP12 + "/role/next", SOAP12 + "/role/ultimateReceiver")
_NO_ENCODING = SOAP12 + "/encoding/none"

# Table 5: the reason text of each generic fault, keyed by ter subcode (or by the code itself).
REASONS = {
    "VersionMismatch": "SOAP version mismatch",
    "MustUnderstand": "SOAP header blocks not understood",
    "DataEncodingUnknown": "Unsupported SOAP data encoding",
    "WellFormed": "Well-formed Error",
    "TagMismatch": "Tag Mismatch",
    "Tag": "No Tag",
    "Namespace": "Namespace Error",
    "MissingAttr": "Required Attribute not present",
    "ProhibAttr": "Prohibited Attribute",
    "InvalidArgs": "Invalid Args",
    "InvalidArgVal": "Argument Value Invalid",
    "UnknownAction": "Unknown Action",
    "OperationProhibited": "Operation not Permitted",
    "NotAuthorized": "Sender not Authorized",
    "ActionNotSupported": "Optional Action Not Implemented",
    "Action": "Action Failed",
    "OutofMemory": "Out of Memory",
    "CriticalError": "Critical Error",
}


class SoapFault(AgentError):
    """A SOAP 1.2 fault to answer with (checklist 5.3).

    `code` is the local name of the env: fault code; `subcodes` are (namespace, local) pairs,
    outermost first; plain strings mean ter: subcodes. `detail` is an optional callable that
    writes the env:Detail children.
    """

    def __init__(self, code, *subcodes, reason=None, detail=None):
        self.code = code
        self.subcodes = [s if isinstance(s, tuple) else (TER, s) for s in subcodes]
        if reason is None:
            key = self.subcodes[0][1] if self.subcodes else code
            reason = REASONS.get(key, key)
        self.reason = reason
        self.detail = detail
        super().__init__(reason)

    @property
    def status(self):
        """SOAP 1.2 HTTP binding: Sender faults are 400, every other code 500."""
        return 400 if self.code == "Sender" else 500

    @classmethod
    def from_error(cls, exc):
        """A Sender fault for the peer's protocol error, keeping its subcode."""
        return cls("Sender", exc.subcode or "InvalidArgs", reason=exc.message)


def sender(*subcodes, reason=None):
    return SoapFault("Sender", *subcodes, reason=reason)


class Envelope:
    """A parsed request: its header blocks and the first Body child, as small trees."""

    def __init__(self, headers, body):
        self.headers = headers
        self.body = body

    def header(self, ns, name):
        """The first header block with this QName, or None."""
        for block in self.headers:
            if block.ns == ns and block.name == name:
                return block
        return None


def read_envelope(data, understood=(), **limits):
    """Parse a SOAP 1.2 request; raise SoapFault for anything a client must be told about.

    `understood` lists the (namespace, local) header blocks the caller processes; any other block
    aimed at us with mustUnderstand="true" gets env:MustUnderstand.
    """
    parser = XmlParser(**limits)
    try:
        parser.feed(data)
        parser.close()
        return _Reader(parser, understood).read()
    except RemoteProtocolError as exc:
        raise SoapFault.from_error(exc)


class _Reader:
    """Walks the parser's events through Envelope, Header and Body (SOAP 1.2 Part 1, 5.1-5.3)."""

    def __init__(self, parser, understood):
        self.parser = parser
        self.understood = understood

    def next(self):
        """The next start or end event; character data must be whitespace at envelope level."""
        while True:
            event = self.parser.next_event()
            if event is None:
                raise sender("TagMismatch", reason="unexpected end of envelope")
            if event[0] != TEXT:
                return event
            if event[1].strip():
                raise sender("TagMismatch", reason="character data outside the SOAP body content")

    def subtree(self, start):
        builder = TreeBuilder()
        element = builder.event(start)
        while element is None:
            element = builder.event(self.parser.next_event())
        return element

    def read(self):
        event = self.next()
        if event[1:3] != (SOAP12, "Envelope"):
            # Part 1 section 5.4.7: anything but a SOAP 1.2 Envelope root is a version mismatch.
            raise SoapFault("VersionMismatch")
        headers = []
        event = self.next()
        if event[0] == START and event[1:3] == (SOAP12, "Header"):
            event = self.next()
            while event[0] == START:
                block = self.subtree(event)
                self.check_block(block)
                headers.append(block)
                event = self.next()
            event = self.next()  # past </Header>
        if event[0] != START or event[1:3] != (SOAP12, "Body"):
            raise sender("Tag", reason="the envelope has no Body")
        event = self.next()
        if event[0] != START:
            raise sender("Tag", reason="the Body is empty")
        body = self.subtree(event)
        _check_encoding(body)
        event = self.next()
        if event[0] == START:
            raise sender("InvalidArgs", reason="the Body holds more than one element")
        event = self.next()  # past </Body>
        if event[0] != END or self.parser.next_event() is not None:
            raise sender("TagMismatch", reason="elements after the Body")
        return Envelope(headers, body)

    def check_block(self, block):
        _check_encoding(block)
        must = block.attrs.get((SOAP12, "mustUnderstand"), "false").strip()
        role = block.attrs.get((SOAP12, "role"), "").strip()
        if must in ("true", "1") and role in _OUR_ROLES:
            if (block.ns, block.name) not in self.understood:
                raise SoapFault("MustUnderstand")
        elif must not in ("true", "1", "false", "0"):
            raise sender("InvalidArgVal", reason="mustUnderstand is not a boolean")


def _check_encoding(element):
    """We only speak literal XML; a declared SOAP encoding is refused (Table 5)."""
    style = element.attrs.get((SOAP12, "encodingStyle"))
    if style is not None and style.strip() != _NO_ENCODING:
        raise SoapFault("DataEncodingUnknown")


def write_envelope(w, body, header=None, declare=()):
    """Stream a whole envelope into XmlWriter `w`; `body(w)` and `header(w)` write the contents.

    `declare` lists namespaces to declare once on the Envelope for the whole response.
    """
    w.start(SOAP12, "Envelope", declare=declare)
    if header is not None:
        w.start(SOAP12, "Header")
        header(w)
        w.end()
    w.start(SOAP12, "Body")
    body(w)
    w.end()
    w.end()
    w.close()


def write_fault(w, fault):
    """The env:Fault element of checklist 5.3, subcodes nested outermost first."""
    w.start(SOAP12, "Fault", declare=[ns for ns, _ in fault.subcodes])
    w.start(SOAP12, "Code")
    w.leaf(SOAP12, "Value", w.qname(SOAP12, fault.code))
    for ns, local in fault.subcodes:
        w.start(SOAP12, "Subcode")
        w.leaf(SOAP12, "Value", w.qname(ns, local))
    for _ in fault.subcodes:
        w.end()
    w.end()
    w.start(SOAP12, "Reason")
    w.leaf(SOAP12, "Text", fault.reason, [(("http://www.w3.org/XML/1998/namespace", "lang"), "en")])
    w.end()
    if fault.detail is not None:
        w.start(SOAP12, "Detail")
        fault.detail(w)
        w.end()
    w.end()


def write_upgrade(w):
    """The env:Upgrade header block sent with VersionMismatch (SOAP 1.2 Part 1, 5.4.7)."""
    w.start(SOAP12, "Upgrade")
    w.leaf(SOAP12, "SupportedEnvelope", attrs=[("qname", w.qname(SOAP12, "Envelope"))])
    w.end()
