"""The WS-BaseNotification, WS-Topics and WS-Resource faults of the event service (checklist 10.11).

Unlike the ONVIF generic faults (a `ter:` subcode, checklist 5.3), these are told apart by the
element in env:Detail: every one of them is a WSRF BaseFault (bf-2.xsd), so it carries a
mandatory wsrf-bf:Timestamp, here UTC with `Z` (checklist 10.3), and a human wsrf-bf:Description.
They are sent as env:Receiver, HTTP 500, as the checklist asks.
"""

from .datetimes import format_datetime
from .soap import SoapFault
from .xmlwrite import XML_NS

WSNT = "http://docs.oasis-open.org/wsn/b-2"     # the WS-BN faults (b-2.xsd)
WSTOP = "http://docs.oasis-open.org/wsn/t-1"    # WS-Topics: TopicSet, topic="true"
WSRF_BF = "http://docs.oasis-open.org/wsrf/bf-2"
# ResourceUnknownFault is declared in r-2.xsd; rw-2 is only the WSDL that names it in its
# fault messages, so the element the schemas accept is wsrf-r:ResourceUnknownFault.
WSRF_R = "http://docs.oasis-open.org/wsrf/r-2"


class FaultDetail:
    """The env:Detail content of one WS-BN fault; `element` tells callers and tests which."""

    def __init__(self, ns, name, timestamp, description, extra):
        self.element = (ns, name)
        self.timestamp = timestamp
        self.description = description
        self.extra = extra

    def __call__(self, w):
        ns, name = self.element
        w.start(ns, name, declare=(WSRF_BF,))
        w.leaf(WSRF_BF, "Timestamp", self.timestamp)
        w.leaf(WSRF_BF, "Description", self.description, [((XML_NS, "lang"), "en")])
        for local, text in self.extra:
            w.leaf(ns, local, text)
        w.end()

    def __repr__(self):
        return "<FaultDetail {%s}%s>" % self.element


def wsn_fault(name, reason, now, ns=WSNT, extra=()):
    """An env:Receiver SoapFault whose Detail is the element `{ns}name` with Timestamp `now`
    (Unix seconds) and `reason` as both the Reason text and the Description.

    `extra` lists the (local name, text) children a fault type adds after the BaseFault part,
    in its own namespace: e.g. [("MinimumTime", format_datetime(t))], which the schema requires
    in UnacceptableInitialTerminationTimeFault and UnacceptableTerminationTimeFault.
    """
    detail = FaultDetail(ns, name, format_datetime(now), reason, tuple(extra))
    return SoapFault("Receiver", reason=reason, detail=detail)
