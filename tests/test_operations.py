"""agent/operations.py, the dispatch table, against the WSDLs and the checklist it is generated from.

CPython only: it loads tools/gen_operations.py (xml.etree, pathlib) to regenerate the table.
"""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from agent import operations
from agent.access import access_class, operations as endpoint_operations
from agent.operations import ACCESS_NAMES, SERVICES, TDS, TEV, TMD, WSNT

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_operations",
                                                  ROOT / "tools" / "gen_operations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
needs_shared = pytest.mark.skipif(not (gen.shared_dir() / "onvif").is_dir(),
                                  reason="shared folder with the WSDLs not found (ONVIF_SHARED)")


TABLE = {(endpoint, ns, name): access for endpoint in SERVICES
         for ns, name, access in endpoint_operations(endpoint)}


def _classes(access):
    return {key for key, value in TABLE.items() if value == access}


@needs_shared
def test_committed_table_is_what_the_generator_makes():
    assert gen.render(gen.build()[0]) == gen.OUTPUT.read_text(encoding="utf-8"), \
        "agent/operations.py is stale: run tools/gen_operations.py"


@needs_shared
def test_port_type_sizes_match_sources_md():
    # sources.md section 2 / checklist "Operation counts" (ONVIF 26.06 WSDLs, OASIS bw-2).
    assert gen.build()[1] == {
        "Device": 103, "DeviceIOPort": 29, "EventPortType": 6, "PullPointSubscription": 4,
        "NotificationProducer": 2, "SubscriptionManager": 2, "NotificationConsumer": 1,
        "PullPoint": 3, "CreatePullPoint": 1, "PausableSubscriptionManager": 4,
    }


def test_table_sizes():
    sizes = {}
    for endpoint, ns, _ in TABLE:
        sizes[endpoint, ns] = sizes.get((endpoint, ns), 0) + 1
    assert sizes == {
        ("device", TDS): 103,
        # deviceio.wsdl reuses tds:GetRelayOutputs and tds:SetRelayOutputState (checklist 5.1).
        ("deviceio", TMD): 27, ("deviceio", TDS): 2,
        # EventPortType 6; WS-BN Subscribe, GetCurrentMessage, CreatePullPoint.
        ("events", TEV): 6, ("events", WSNT): 3,
        # PullPointSubscription's Unsubscribe is wsnt:Unsubscribe, listed once with the WS-BN
        # Renew, Unsubscribe, Pause/ResumeSubscription, GetMessages, DestroyPullPoint.
        ("subscription", TEV): 3, ("subscription", WSNT): 6,
    }


def test_pre_auth_set():
    assert _classes(operations.PRE_AUTH) == {
        ("device", TDS, "GetWsdlUrl"), ("device", TDS, "GetServices"),
        ("device", TDS, "GetServiceCapabilities"), ("device", TDS, "GetCapabilities"),
        ("device", TDS, "GetHostname"), ("device", TDS, "GetSystemDateAndTime"),
        ("device", TDS, "GetEndpointReference"),
        ("deviceio", TMD, "GetServiceCapabilities"), ("deviceio", TMD, "GetRelayOutputOptions"),
        ("events", TEV, "GetServiceCapabilities"),
    }


def test_access_classes_are_valid():
    assert ACCESS_NAMES == gen.ACCESS_NAMES
    for value, name in enumerate(ACCESS_NAMES):
        assert getattr(operations, name) == value
    used = set(TABLE.values())
    assert used <= set(range(len(ACCESS_NAMES)))


@pytest.mark.parametrize("endpoint, ns, name, access", [
    ("device", TDS, "GetUsers", "READ_SYSTEM_SECRET"),
    ("device", TDS, "SetRelayOutputState", "ACTUATE"),
    ("deviceio", TDS, "SetRelayOutputState", "ACTUATE"),
    ("deviceio", TMD, "GetDigitalInputs", "READ_SYSTEM"),
    ("events", TEV, "CreatePullPointSubscription", "READ_MEDIA"),
    ("device", TDS, "SystemReboot", "UNRECOVERABLE"),
    ("device", TDS, "GetDeviceInformation", "READ_SYSTEM"),
    ("device", TDS, "GetDot1XConfigurations", "READ_SYSTEM_SENSITIVE"),
    ("subscription", WSNT, "Renew", "READ_MEDIA"),
])
def test_checklist_spot_values(endpoint, ns, name, access):
    assert ACCESS_NAMES[access_class(endpoint, ns, name)] == access


def test_notify_is_not_received():
    # WS-BN Notify goes from the device to the consumer (checklist 10.3).
    assert all(name != "Notify" for _, _, name in TABLE)


def test_lookup_matches_whole_names_only():
    assert access_class("device", TDS, "GetUsers") == operations.READ_SYSTEM_SECRET
    for name in ("Users", "GetUser", "GetUsersX", "", "GetUsers=3", " GetUsers"):
        assert access_class("device", TDS, name) is None, name
    assert access_class("device", "urn:other", "GetUsers") is None
    assert access_class("deviceio", TDS, "GetUsers") is None


def test_module_imports_nothing():
    # Loaded on MicroPython boards: literal data only.
    tree = ast.parse(gen.OUTPUT.read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


@needs_shared
@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop(("events", gen.TEV, "GetEventProperties")),
     "events operation {%s}GetEventProperties has no access class" % TEV),
    (lambda s: s.__setitem__(("events", gen.TEV, "Frobnicate"), gen.READ_MEDIA),
     "SUPPLEMENT entry events/Frobnicate names no WSDL operation"),
    (lambda s: s.__setitem__(("device", gen.TDS, "GetUsers"), gen.READ_SYSTEM),
     "SUPPLEMENT device/GetUsers = READ_SYSTEM contradicts checklist line"),
    (lambda s: s.__setitem__(("device", gen.TDS, "GetUsers"), gen.READ_SYSTEM_SECRET),
     "SUPPLEMENT device/GetUsers = READ_SYSTEM_SECRET duplicates checklist line"),
])
def test_generator_fails_loudly(monkeypatch, change, message):
    supplement = dict(gen.SUPPLEMENT)
    change(supplement)
    monkeypatch.setattr(gen, "SUPPLEMENT", supplement)
    with pytest.raises(gen.GenerationError, match=re.escape(message)):
        gen.build()


def test_checklist_parser(tmp_path):
    checklist = tmp_path / "checklist.md"
    checklist.write_text(
        "## 8 Device management\n"
        "| # | Operation | Req | Access | Notes |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| 1 | GetHostname | M | **PRE_AUTH** | a \\| b |\n"
        "| 2 | CreateCertificate (tds) | D | WRITE_SYSTEM† | |\n"
        "| 3 | GetA / GetB | D | READ_SYSTEM_SENSITIVE† | |\n"
        "| 4 | GetC | P | READ_MEDIA/ACTUATE | |\n"
        "| 5 | GetD | D | – | |\n"
        "\n"
        "## 10 Event handling\n"
        "| Operation | Access |\n"
        "| --- | --- |\n"
        "| Subscribe (`wsnt:`, NotificationProducer) | READ_MEDIA (Core gives no row; inferred) |\n",
        encoding="utf-8")
    assert {key: access for key, (access, _) in gen.checklist_classes(checklist).items()} == {
        (8, "GetHostname"): gen.PRE_AUTH, (8, "CreateCertificate"): gen.WRITE_SYSTEM,
        (8, "GetA"): gen.READ_SYSTEM_SENSITIVE, (8, "GetB"): gen.READ_SYSTEM_SENSITIVE,
        (10, "Subscribe"): gen.READ_MEDIA,
    }
