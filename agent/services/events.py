"""Event service (tev, checklist clause 10).

For now only its capabilities are implemented, all false or zero: pull points, subscriptions
and persistent storage arrive with issue 7, and until then every other operation is answered
with ActionNotSupported by the dispatcher.
"""

from . import TT, Service

TEV = "http://www.onvif.org/ver10/events/wsdl"


class EventService(Service):
    key = "events"
    path = "/onvif/event_service"
    namespace = TEV
    declare = (TEV, TT)
    category = "Events"

    def write_capabilities(self, w):
        # 10.10; WSPullPointSupport is read by clients as "ONVIF pull point available".
        w.leaf(TEV, "Capabilities", attrs=[
            ("WSSubscriptionPolicySupport", False), ("WSPullPointSupport", False),
            ("WSPausableSubscriptionManagerInterfaceSupport", False),
            ("MaxNotificationProducers", 0), ("MaxPullPoints", 0),
            ("PersistentNotificationStorage", False)])

    def write_legacy_capabilities(self, w, ctx):
        w.start(TT, "Events")
        w.leaf(TT, "XAddr", ctx.url(self.path))
        w.leaf(TT, "WSSubscriptionPolicySupport", False)
        w.leaf(TT, "WSPullPointSupport", False)
        w.leaf(TT, "WSPausableSubscriptionManagerInterfaceSupport", False)
        w.end()
