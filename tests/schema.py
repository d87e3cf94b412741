"""Offline validation of SOAP 1.2 messages against the official ONVIF schemas (CPython tests only).

Every message the agent sends must validate against the schemas IEC 60839-11-31 Annex B names.
tests/shared holds them with all their imports (see tests/shared/onvif/README.md), so nothing is
fetched from the network (`allow="local"`).

All schemas go into ONE XSD 1.1 schema set (ONVIF needs the 1.1 UPA relaxation): SOAP envelope,
WS-Addressing, WS-Discovery, WSRF, onvif.xsd and the types of devicemgmt/deviceio/event.wsdl.
One set (instead of one schema per WSDL as in the README recipe) means the lax wildcards of
env:Body, env:Header, env:Detail and wsnt:Message validate whatever they carry that any of these
schemas declares - e.g. the tt:Message inside wsnt:Message, which event.wsdl alone cannot check
because it does not import onvif.xsd. It also builds in ~2 s instead of ~5 s, because the WSDL
port types/bindings (irrelevant to validation) are not parsed and the set is built once.
"""

import functools
import io
import json
import os
import pathlib
import warnings
import weakref

import defusedxml.ElementTree as DET
import xmlschema

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "ter": "http://www.onvif.org/ver10/error",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "tmd": "http://www.onvif.org/ver10/deviceIO/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "wsadis": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ENV = "{%s}" % NS["env"]

# Standalone schema files imported by the schema set (the rest arrive through their imports).
_XSD_FILES = {
    NS["env"]: "external/soap-envelope",
    NS["wsa"]: "external/ws-addr.xsd",
    NS["d"]: "external/ws-discovery.xsd",
    "http://docs.oasis-open.org/wsrf/r-2": "external/r-2.xsd",  # only rw-2.wsdl's types import it
    NS["tt"]: "ver10/schema/onvif.xsd",
}
# WSDLs whose <wsdl:types> schemas declare the tds/tmd/tev elements.
_WSDL_FILES = (
    "ver10/device/wsdl/devicemgmt.wsdl",
    "ver10/deviceio.wsdl",
    "ver10/events/wsdl/event.wsdl",
)
_WSDL_SCHEMAS = "{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"

# Resolved fault codes of validated envelopes: QName values need the prefix declarations, which
# ElementTree drops, so validate_envelope resolves them while it still has them.
_FAULTS = weakref.WeakKeyDictionary()


def shared_dir() -> pathlib.Path:
    """The folder holding onvif/: $ONVIF_SHARED, else the copy in tests/shared (the official
    files unchanged, as their licence asks; see its README), so a checkout anywhere, as CI
    clones it, validates without ../shared beside it."""
    default = pathlib.Path(__file__).resolve().parent / "shared"
    path = pathlib.Path(os.environ.get("ONVIF_SHARED") or default)
    if not (path / "onvif" / "uri-map.json").is_file():
        raise FileNotFoundError(
            f"ONVIF schemas not found: {path / 'onvif'} (set ONVIF_SHARED to the shared folder)")
    return path


def onvif_dir() -> pathlib.Path:
    return shared_dir() / "onvif"


@functools.lru_cache(maxsize=None)
def uri_map() -> dict:
    """Official remote schema/WSDL URL -> file:// URI of its local copy (onvif/uri-map.json)."""
    root = onvif_dir()
    entries = json.loads((root / "uri-map.json").read_text(encoding="utf-8"))
    return {url: (root / rel).as_uri() for url, rel in entries.items() if not url.startswith("_")}


def uri_mapper(uri: str) -> str:
    return uri_map().get(uri, uri)


@functools.lru_cache(maxsize=None)
def schema_set() -> xmlschema.XMLSchema11:
    """The one schema set, built lazily once per process (~2 s)."""
    root = onvif_dir()
    imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="{(root / rel).as_uri()}"/>'
                      for ns, rel in _XSD_FILES.items())
    hub = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    opts = {"uri_mapper": uri_mapper, "allow": "local", "build": False}
    schema = xmlschema.XMLSchema11(hub, **opts)
    for wsdl in _WSDL_FILES:
        doc = xmlschema.XMLResource(str(root / wsdl), allow="local")
        for types in doc.root.iterfind(_WSDL_SCHEMAS):
            xmlschema.XMLSchema11(doc.subresource(types), global_maps=schema.maps, **opts)
    with warnings.catch_warnings():
        # Benign, documented in the shared README (tds:Capabilities type tables).
        warnings.simplefilter("ignore", xmlschema.XMLSchemaTypeTableWarning)
        schema.build()
    return schema


def validate_envelope(data: bytes):
    """Check one SOAP 1.2 message exactly as sent; return its root element or raise AssertionError.

    Checks: starts with '<' (no BOM/whitespace: UniFi rejects it), UTF-8, well-formed without DTD,
    root env:Envelope, the whole envelope against the schema set (Header, Body, Fault with
    Code/Subcode/Reason - xml:lang on Reason/Text is required by soap-envelope - and everything
    declared inside), every header block and the single Body child declared by some schema (the
    env:Header/env:Body wildcards are lax, so an undeclared element would otherwise pass
    silently), fault subcode prefixes declared and ter: bound to the ONVIF error namespace.
    """
    assert isinstance(data, bytes), f"expected the bytes as sent, got {type(data).__name__}"
    assert data[:1] == b"<", (
        f"message must start with '<?xml' or '<' (no BOM/whitespace), starts with {data[:12]!r}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AssertionError(f"message is not UTF-8: {err}") from None
    root, scopes = _parse(data)
    soap11 = " (this is SOAP 1.1)" if root.tag == f"{{{SOAP11_NS}}}Envelope" else ""
    assert root.tag == ENV + "Envelope", f"root {root.tag} is not a SOAP 1.2 env:Envelope{soap11}"

    schema = schema_set()
    resource = xmlschema.XMLResource(data, defuse="always", allow="none")
    errors = list(schema.iter_errors(resource))
    if errors:
        shown = "\n".join(f"{err.path}: {err.reason}" for err in errors[:3])
        more = f"\n(+{len(errors) - 3} more)" if len(errors) > 3 else ""
        raise AssertionError(f"schema validation failed:\n{shown}{more}")

    header = root.find(ENV + "Header")
    body = root.find(ENV + "Body")
    for parent in (header, body):
        for child in parent if parent is not None else ():
            assert child.tag in schema.maps.elements, (
                f"env:{parent.tag[len(ENV):]}/{child.tag}: no schema declares this element")
    assert len(body) == 1, f"env:Body must carry exactly one element, has {len(body)}"
    if body[0].tag == ENV + "Fault":
        _FAULTS[root] = _fault_codes(body[0], scopes)
    return root


validate_response = validate_envelope


def body_child(root):
    """The single element inside env:Body."""
    (child,) = root.find(ENV + "Body")
    return child


def fault_codes(root):
    """(code, [subcodes]) of a fault checked by validate_envelope, each a (namespace, local) tuple.

    Tuples, not prefixed strings: prefixes are the sender's choice (checklist 5.2).
    Example: (("http://www.w3.org/2003/05/soap-envelope", "Sender"),
              [("http://www.onvif.org/ver10/error", "NotAuthorized")]).
    """
    assert root in _FAULTS, "not a fault, or root was not returned by validate_envelope"
    return _FAULTS[root]


def _parse(data):
    """defusedxml parse (no DTD, no entities) that also records each element's prefixes."""
    scopes, stack, declared = {}, [{"xml": NS["xml"]}], {}
    try:
        events = DET.iterparse(io.BytesIO(data), ("start-ns", "start", "end"), forbid_dtd=True)
        for event, item in events:
            if event == "start-ns":
                declared[item[0]] = item[1]
            elif event == "start":
                stack.append({**stack[-1], **declared})
                scopes[item], declared = stack[-1], {}
            else:
                stack.pop()
    except Exception as err:  # ParseError, DTDForbidden, EntitiesForbidden, ...
        raise AssertionError(f"not acceptable XML: {type(err).__name__}: {err}") from None
    return events.root, scopes


def _fault_codes(fault, scopes):
    """Resolve Code and nested Subcode values; the schema already rejected undeclared prefixes."""
    values = [fault.find(f"{ENV}Code/{ENV}Value")]
    subcode = fault.find(f"{ENV}Code/{ENV}Subcode")
    while subcode is not None:
        values.append(subcode.find(ENV + "Value"))
        subcode = subcode.find(ENV + "Subcode")
    resolved = []
    for value in values:
        prefix, _, local = value.text.strip().rpartition(":")
        namespace = scopes[value].get(prefix, "")
        assert prefix != "ter" or namespace == NS["ter"], (
            f"fault code {value.text.strip()!r}: prefix ter is bound to {namespace!r}, "
            f"not {NS['ter']}")
        resolved.append((namespace, local))
    return resolved[0], resolved[1:]
