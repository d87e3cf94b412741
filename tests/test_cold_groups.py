"""Operation groups loaded on first use (agent.services.Service.cold, issue 9): each service's
declaration names exactly its group's operations, calling one loads it (and on a board lets it
go again), and the answers every client asks first (capabilities, services) never load one."""

import sys
import unittest

from agent import compat, log, services
from agent.app import build_app
from agent.device import Device
from agent.services.device import DeviceService
from agent.services.events import EventService
from agent.services.deviceio import DeviceIOService
from agent.settings import Settings
from tests.soapclient import TDS, InMemoryClient
from tests.support import AllowAll, Quiet

SERVICES = (DeviceService, DeviceIOService, EventService)


def operations_of(group):
    """The operation methods a group class defines: ONVIF operation names are capitalised."""
    return sorted(name for name in dir(group) if name[:1].isupper() and name[:1].isalpha())


class DeclarationTest(unittest.TestCase):
    def test_each_declaration_names_exactly_its_groups_operations(self):
        for service in SERVICES:
            for module, group, names in service.cold:
                declared = sorted(names.split())
                self.assertEqual(names[0] + names[-1], "  ", "%s: spaces around" % module)
                found = getattr(compat.load_cold(module, forget=False), group)
                self.assertTrue(issubclass(found, services.ColdGroup), group)
                self.assertEqual(declared, operations_of(found), module)

    def test_no_cold_operation_is_also_a_method_of_the_service(self):
        for service in SERVICES:
            for _, _, names in service.cold:
                for name in names.split():
                    self.assertFalse(name in dir(service), name)


class LoadColdTest(unittest.TestCase):
    def forget_fixtures(self):
        for name in ("tests.cold_fixture", "tests.cold_fixture_dep"):
            sys.modules.pop(name, None)

    setUp = tearDown = forget_fixtures

    def test_forgetting_drops_the_module_and_what_it_brought_in(self):
        module = compat.load_cold("tests.cold_fixture", forget=True)
        self.assertEqual(module.VALUE, 42)
        for name, leaf in (("tests.cold_fixture", "cold_fixture"),
                           ("tests.cold_fixture_dep", "cold_fixture_dep")):
            self.assertFalse(name in sys.modules, name)
            self.assertFalse(leaf in sys.modules["tests"].__dict__, leaf)
        again = compat.load_cold("tests.cold_fixture", forget=True)
        self.assertFalse(again is module)  # a fresh copy: nothing kept the first one

    def test_kept_where_not_forgetting(self):
        module = compat.load_cold("tests.cold_fixture", forget=False)
        self.assertTrue(sys.modules["tests.cold_fixture"] is module)
        self.assertTrue("tests.cold_fixture_dep" in sys.modules)

    def test_a_board_forgets_and_cpython_keeps(self):
        self.assertEqual(compat.FORGET_COLD, sys.implementation.name == "micropython")


class Refused(Exception):
    pass


class CallTest(unittest.TestCase):
    def setUp(self):
        self.device = Device({"name": "door", "hal": "sim"}, Settings(), hostname=lambda: "d-1")
        self.client = InMemoryClient(build_app(self.device, policy=AllowAll()))

    def test_a_cold_operation_answers(self):
        r = self.client.call("<tds:GetHostname/>")
        self.assertEqual(r.status, 200, r.body)
        name = r.body_child.find(TDS, "HostnameInformation").findtext(
            "http://www.onvif.org/ver10/schema", "Name")
        self.assertEqual(name, "d-1")
        self.assertEqual("agent.services.network_ops" in sys.modules, not compat.FORGET_COLD)

    def test_an_unknown_name_is_still_an_attribute_error(self):
        service = DeviceService(self.device)
        self.assertRaises(AttributeError, lambda: service.NoSuchOperation)
        self.assertEqual(getattr(service, "NotAnOperation", "none"), "none")

    def test_first_questions_load_no_group(self):
        def refuse(name, forget=False):
            raise Refused(name)
        saved = services.load_cold
        services.load_cold = refuse
        log.set_stream(Quiet())  # the refusal is logged as a bug, with its traceback
        try:
            for body in ("<tds:GetCapabilities/>", "<tds:GetServices><tds:IncludeCapability>"
                         "true</tds:IncludeCapability></tds:GetServices>",
                         "<tds:GetServiceCapabilities/>", "<tds:GetSystemDateAndTime/>",
                         "<tds:GetDeviceInformation/>", "<tds:GetScopes/>"):
                self.assertEqual(self.client.call(body).status, 200, body)
            self.assertEqual(self.client.call("<tds:GetHostname/>").status, 500)
        finally:
            services.load_cold = saved
            log.set_stream(None)

    def test_serving_a_request_looks_up_no_missing_name(self):
        """Each miss walks the cold declarations and raises AttributeError: allocations a
        board would pay on every request (the README's per-request heap figure)."""
        misses = []
        original = services.Service.__getattr__

        def counting(service, name):
            misses.append(name)
            return original(service, name)
        services.Service.__getattr__ = counting
        try:
            for body in ("<tds:GetSystemDateAndTime/>", "<tds:GetDeviceInformation/>",
                         "<tds:GetCapabilities/>"):
                self.assertEqual(self.client.call(body).status, 200, body)
        finally:
            services.Service.__getattr__ = original
        self.assertEqual(misses, [])
