"""ONVIF services: plain objects with one method per implemented operation.

A method is named after the operation's request element and is only ever reached through the
generated table in agent/operations.py, so an unimplemented operation is simply a missing method
(answered with ActionNotSupported by agent.app).
"""

from ..soap import sender

TT = "http://www.onvif.org/ver10/schema"

# The ONVIF release whose Core/DeviceIO the IEC 60839-11-31:2016 era matches (sources.md).
SPEC_VERSION = (16, 6)


class Service:
    """What every service tells GetServices (checklist Annex A) and how it writes capabilities."""

    key = ""          # endpoint key of agent.operations.SERVICES
    path = ""         # HTTP path of its endpoint
    namespace = ""    # WSDL target namespace, announced by GetServices
    declare = ()      # namespaces its responses use, declared once on the Envelope
    version = SPEC_VERSION

    def __init__(self, device):
        self.device = device

    def write_capabilities(self, w):
        """Write the service's own capabilities element (e.g. tmd:Capabilities)."""
        raise NotImplementedError

    def response_header(self, body, ctx):
        """A writer of the response's SOAP header blocks, or None (most services)."""
        return None

    def GetServiceCapabilities(self, request, ctx):
        def write(w):
            w.start(self.namespace, "GetServiceCapabilitiesResponse")
            self.write_capabilities(w)
            w.end()
        return write


def parse_boolean(text, what):
    """xs:boolean's four lexical forms; anything else is the client's error (Table 5)."""
    value = text.strip() if text is not None else ""
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise sender("InvalidArgVal", reason=what + " is not an xs:boolean")


def required(element, ns, name):
    """A child the schema makes mandatory; missing it is env:Sender/ter:InvalidArgs."""
    child = element.find(ns, name)
    if child is None:
        raise sender("InvalidArgs", reason="missing " + name)
    return child
