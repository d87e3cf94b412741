"""GetScopes, SetScopes, AddScopes, RemoveScopes, GetDiscoveryMode, SetDiscoveryMode end to end
(checklist 8.4 #14-#19) and the DiscoveryResolve/DiscoveryBye capabilities (8.2.1), through a
real Session; under pytest every response is also schema-validated."""

import unittest

from agent.app import build_app
from agent.device import Device
from agent.scopes import MAX_SCOPE_LENGTH, MAX_SCOPES, ONVIF
from agent.settings import Settings
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll

BOARD = {"name": "Front door", "hal": "sim", "model": "Pi 4"}
HW = ONVIF + "hardware/Pi%204"
NAME = ONVIF + "name/Front%20door"
HALL = ONVIF + "location/hall"
ROOF = ONVIF + "location/roof"


def items(tag, uris):
    return "".join("<tds:%s>%s</tds:%s>" % (tag, uri, tag) for uri in uris)


def many(n):
    return [ONVIF + "location/room-%d" % i for i in range(n)]


class ScopeOperationsTest(unittest.TestCase):
    def setUp(self):
        self.device = Device(BOARD, Settings())
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))
        self.changes = []
        self.device.scopes.on_change.append(self.changes.append)

    def call(self, body, status=200):
        r = self.client.call(body)
        self.assertEqual(r.status, status, r.body)
        return r

    def assertFault(self, body, status, code, *subcodes):
        r = self.call(body, status)
        self.assertEqual(r.fault(), (code, list(subcodes)))

    def get_scopes(self):
        r = self.call("<tds:GetScopes/>")
        self.assertEqual((r.body_child.ns, r.body_child.name), (TDS, "GetScopesResponse"))
        return [(s.findtext(TT, "ScopeItem"), s.findtext(TT, "ScopeDef"))
                for s in r.body_child.findall(TDS, "Scopes")]

    def set_scopes(self, uris, status=200):
        return self.call("<tds:SetScopes>%s</tds:SetScopes>" % items("Scopes", uris), status)

    def add_scopes(self, uris, status=200):
        return self.call("<tds:AddScopes>%s</tds:AddScopes>" % items("ScopeItem", uris), status)

    def remove_scopes(self, uris, status=200):
        return self.call("<tds:RemoveScopes>%s</tds:RemoveScopes>" % items("ScopeItem", uris),
                         status)

    def test_get_scopes_lists_the_fixed_ones_first(self):
        self.assertEqual(self.get_scopes(), [(HW, "Fixed"), (NAME, "Fixed")])

    def test_set_add_remove(self):
        r = self.set_scopes([HW, HALL, " " + ROOF + "\n"])  # xs:anyURI collapses whitespace
        self.assertEqual((r.body_child.name, r.body_child.children), ("SetScopesResponse", []))
        self.assertEqual(self.get_scopes(), [(HW, "Fixed"), (NAME, "Fixed"),
                                             (HALL, "Configurable"), (ROOF, "Configurable")])
        r = self.add_scopes(["urn:x-vendor:zone:3", "x-a:b&amp;c"])
        self.assertEqual((r.body_child.name, r.body_child.children), ("AddScopesResponse", []))
        self.assertEqual(self.device.scopes.configurable(),
                         [HALL, ROOF, "urn:x-vendor:zone:3", "x-a:b&c"])
        r = self.remove_scopes([HALL, "x-a:b&amp;c"])
        self.assertEqual((r.body_child.name,
                          [(i.ns, i.name, i.text) for i in r.body_child.children]),
                         ("RemoveScopesResponse", [(TDS, "ScopeItem", HALL),
                                                   (TDS, "ScopeItem", "x-a:b&c")]))
        self.assertEqual(self.get_scopes(), [(HW, "Fixed"), (NAME, "Fixed"),
                                             (ROOF, "Configurable"),
                                             ("urn:x-vendor:zone:3", "Configurable")])
        self.assertEqual(self.changes, ["scopes"] * 3)

    def test_remove_faults(self):
        self.set_scopes([HALL])
        r = self.remove_scopes([HALL, NAME], 400)
        self.assertEqual(r.fault(), ("Sender", ["OperationProhibited", "FixedScope"]))
        r = self.remove_scopes([HALL, ROOF], 400)
        self.assertEqual(r.fault(), ("Sender", ["InvalidArgVal", "NoScope"]))
        self.assertEqual(self.device.scopes.configurable(), [HALL])  # all-or-nothing
        self.assertEqual(self.changes, ["scopes"])

    def test_too_many_scopes(self):
        r = self.set_scopes(many(MAX_SCOPES + 1), 500)
        self.assertEqual(r.fault(), ("Receiver", ["Action", "TooManyScopes"]))
        self.set_scopes(many(MAX_SCOPES))
        r = self.add_scopes([HALL], 500)
        self.assertEqual(r.fault(), ("Receiver", ["Action", "TooManyScopes"]))
        self.assertEqual(self.device.scopes.configurable(), many(MAX_SCOPES))
        self.assertEqual(len(self.get_scopes()), MAX_SCOPES + 2)

    def test_invalid_scopes(self):
        for uri in ("location/hall", ONVIF + "two words",
                    "urn:" + "x" * (MAX_SCOPE_LENGTH - 3)):
            for call in (self.set_scopes, self.add_scopes):
                self.assertEqual(call([HALL, uri], 400).fault(), ("Sender", ["InvalidArgVal"]))
        self.assertEqual((self.device.scopes.configurable(), self.changes), ([], []))

    def test_malformed_requests(self):
        for body in ("<tds:SetScopes/>", "<tds:AddScopes/>", "<tds:RemoveScopes/>",
                     "<tds:SetDiscoveryMode/>",
                     # the wrong element name for the operation
                     "<tds:SetScopes>%s</tds:SetScopes>" % items("ScopeItem", [HALL]),
                     "<tds:AddScopes>%s</tds:AddScopes>" % items("Scopes", [HALL])):
            self.assertFault(body, 400, "Sender", "InvalidArgs")
        self.assertEqual(self.changes, [])

    def test_discovery_mode(self):
        def mode():
            r = self.call("<tds:GetDiscoveryMode/>")
            self.assertEqual(r.body_child.name, "GetDiscoveryModeResponse")
            return r.body_child.findtext(TDS, "DiscoveryMode")

        self.assertEqual(mode(), "Discoverable")
        r = self.call("<tds:SetDiscoveryMode><tds:DiscoveryMode>NonDiscoverable"
                      "</tds:DiscoveryMode></tds:SetDiscoveryMode>")
        self.assertEqual((r.body_child.name, r.body_child.children),
                         ("SetDiscoveryModeResponse", []))
        self.assertEqual((mode(), self.changes), ("NonDiscoverable", ["mode"]))
        self.assertFault("<tds:SetDiscoveryMode><tds:DiscoveryMode>Hidden</tds:DiscoveryMode>"
                         "</tds:SetDiscoveryMode>", 400, "Sender", "InvalidArgVal")
        self.assertEqual(mode(), "NonDiscoverable")


class DiscoveryCapabilitiesTest(unittest.TestCase):
    def test_resolve_and_bye_are_supported(self):
        client = InMemoryClient(build_app(Device(BOARD, Settings()), policy=AllowAll()))
        caps = client.call("<tds:GetServiceCapabilities/>").body_child.children[0]
        system = caps.find(TDS, "System")
        self.assertEqual((system.attrs[("", "DiscoveryResolve")],
                          system.attrs[("", "DiscoveryBye")],
                          system.attrs[("", "RemoteDiscovery")]), ("true", "true", "false"))
        r = client.call("<tds:GetCapabilities><tds:Category>Device</tds:Category>"
                        "</tds:GetCapabilities>")
        system = r.body_child.find(TDS, "Capabilities").find(TT, "Device").find(TT, "System")
        self.assertEqual((system.findtext(TT, "DiscoveryResolve"),
                          system.findtext(TT, "DiscoveryBye"),
                          system.findtext(TT, "RemoteDiscovery")), ("true", "true", "false"))
