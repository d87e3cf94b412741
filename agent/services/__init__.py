"""ONVIF services: plain objects with one method per implemented operation.

A method is named after the operation's request element and is only ever reached through the
generated table in agent/operations.py, so an unimplemented operation is simply a missing method
(answered with ActionNotSupported by agent.app).
"""

from ..compat import load_cold
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
    http = None       # agent.app: a SOAP service is no plain HTTP resource (system_http)
    prefix = False    # answers its path only (the subscription manager: every path under it)
    # Operation groups loaded only when called, and on a board let go again after the call
    # (issue 9: RAM): ((module, ColdGroup class, " OpA OpB "), ...). Capabilities must never
    # need them. tests/test_cold_groups.py checks each names exactly its group's operations.
    cold = ()

    def __init__(self, device):
        self.device = device

    def __getattr__(self, name):
        """Reached only for a name the service lacks: an operation of a cold group."""
        word = " " + name + " "
        for module, group, names in self.cold:
            if word in names:
                return getattr(getattr(load_cold(module), group)(self), name)
        raise AttributeError(name)

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


class ColdGroup:
    """Operations of a service kept out of RAM until called (Service.cold). They run as if they
    were the service's methods: what a group does not define itself is the service's."""

    def __init__(self, service):
        self.service = service

    def __getattr__(self, name):
        return getattr(self.service, name)


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
