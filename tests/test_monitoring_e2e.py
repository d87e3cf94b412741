"""Monitoring events (checklist 8.7) from the real agent process on the desktop board, with a
temperature sensor file and an unreadable humidity one: a strict-zeep pull point receives the
start's LastReboot, LastReset and LastClockSynchronization Initialized messages, then a sane
ProcessorUsage, every response schema-valid; a clock synchronisation survives a restart; and
Home Assistant's parsers (onvif-parsers, through onvif-zeep-async's pull-point manager) read
them."""

import asyncio
import datetime
import json
import time

import pytest

from tests import schema
from tests.agentproc import ROOT, AgentProcess
from tests.clients import (DEVICE_BINDING, EVENT_BINDING, PULLPOINT_SUBSCRIPTION_BINDING,
                           zeep_service)
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD, RecordingTransport, token
from tests.test_events_e2e import messages

ENV = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
TT = "{http://www.onvif.org/ver10/schema}"
NEVER = "1970-01-01T00:00:00Z"


def start(state):
    """The agent on the desktop board plus a temperature sensor reading 21.5 °C and a humidity
    sensor whose file does not exist."""
    board = json.loads((ROOT / "boards" / "desktop.json").read_text())
    (state / "temp").write_text("21500\n")
    board["sensors"] = [{"kind": "temperature", "path": str(state / "temp"), "scale": 0.001},
                        {"kind": "humidity", "path": str(state / "no-such-file")}]
    (state / "board.json").write_text(json.dumps(board))
    return AgentProcess(state, "--board", str(state / "board.json"), env=ENV)


@pytest.fixture
def state(tmp_path):
    path = tmp_path / "state"
    path.mkdir()
    return path


class PullPoint:
    """A strict-zeep pull point; `pull()` gives (topic, operation, {item name: value})."""

    def __init__(self, agent, transport):
        events = zeep_service("event", EVENT_BINDING, agent.url.replace("device", "event"),
                              transport=transport, wsse=token()).service
        self.topics = events.GetEventProperties().TopicSet._value_1
        address = events.CreatePullPointSubscription().SubscriptionReference.Address._value_1
        self.service = zeep_service("event", PULLPOINT_SUBSCRIPTION_BINDING, address,
                                    transport=transport, wsse=token()).service
        self.transport = transport

    def pull(self, seconds=1):
        response = self.service.PullMessages(Timeout=datetime.timedelta(seconds=seconds),
                                             MessageLimit=100)
        found = []
        for (topic, operation, _), note in zip(messages(response, self.transport),
                                               response.NotificationMessage, strict=True):
            items = {item.get("Name"): item.get("Value")
                     for item in note.Message._value_1.iter(TT + "SimpleItem")}
            found.append((topic, operation, items))
        return found

    def until(self, topic, seconds=20):
        """Everything pulled up to and including the first message on `topic`."""
        deadline = time.monotonic() + seconds
        found = []
        while time.monotonic() < deadline:
            found += self.pull(5)
            if topic in [m[0] for m in found]:
                return found
        raise AssertionError("no %s within %d s: %r" % (topic, seconds, found))


def test_a_pull_point_receives_the_start_and_the_processor_usage(state):
    transport = RecordingTransport()
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    with start(state) as agent:
        pull_point = PullPoint(agent, transport)
        received = pull_point.until("tns1:Monitoring/ProcessorUsage")
        _, log = agent.stop()
    assert "{http://www.onvif.org/ver10/topics}Monitoring" in [t.tag for t in pull_point.topics]
    initialized = {m[0]: m[2] for m in received if m[1] == "Initialized"}
    rebooted = datetime.datetime.fromisoformat(
        initialized["tns1:Monitoring/OperatingTime/LastReboot"]["Status"])
    assert before - datetime.timedelta(seconds=2) <= rebooted <= before + datetime.timedelta(
        seconds=30)
    assert initialized["tns1:Monitoring/OperatingTime/LastReset"] == {"Status": NEVER}
    assert initialized["tns1:Monitoring/OperatingTime/LastClockSynchronization"] == {
        "Status": NEVER}
    assert initialized["tns1:Monitoring/Backup/Last"] == {"Status": NEVER}
    assert initialized["tns1:Monitoring/EnvironmentalConditions/Temperature"] == {
        "Status": "21.5"}
    usage = initialized["tns1:Monitoring/ProcessorUsage"]
    assert usage["Token"] == "CPU" and 0 <= float(usage["Value"]) <= 100, usage
    assert "RelativeHumidity" not in " ".join(m[0] for m in received), "unreadable: no event"
    assert log.count("humidity sensor %s unreadable" % (state / "no-such-file")) == 1, log
    for body in transport.received:
        schema.validate_envelope(body)


def test_a_clock_synchronisation_is_reported_after_a_restart(state):
    transport = RecordingTransport()
    with start(state) as agent:
        device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                              wsse=token()).service
        device.SetSystemDateAndTime(DateTimeType="Manual", DaylightSavings=False)
        synchronised = PullPoint(agent, transport).pull()
    (status,) = [m[2]["Status"] for m in synchronised
                 if m[0] == "tns1:Monitoring/OperatingTime/LastClockSynchronization"]
    assert status != NEVER
    with start(state) as agent:
        restarted = PullPoint(agent, transport).pull()
    assert ("tns1:Monitoring/OperatingTime/LastClockSynchronization", "Initialized",
            {"Status": status}) in restarted
    for body in transport.received:
        schema.validate_envelope(body)


def test_home_assistant_reads_processor_usage_and_the_operating_times(state):
    """onvif-parsers knows ProcessorUsage, LastReboot, LastReset, LastClockSynchronization and
    Backup/Last; it has no parser for LinkStatus, so Home Assistant skips that topic."""
    import onvif_parsers
    from onvif import ONVIFCamera

    async def run(agent):
        camera = ONVIFCamera("127.0.0.1", agent.port, ADMIN, ADMIN_PASSWORD, adjust_time=True)
        try:
            await camera.update_xaddrs()
            manager = await camera.create_pullpoint_manager(datetime.timedelta(seconds=60),
                                                            lambda: None)
            service = manager.get_service()
            entities, unknown = {}, set()
            deadline = time.monotonic() + 20
            while "Processor Usage" not in entities and time.monotonic() < deadline:
                response = await service.PullMessages(
                    {"MessageLimit": 100, "Timeout": datetime.timedelta(seconds=5)})
                for message in response.NotificationMessage:
                    topic = message.Topic._value_1.rstrip("/.")
                    try:  # as Home Assistant does: an unknown topic is logged and skipped
                        parsed = await onvif_parsers.parse(topic, "uid", message)
                    except onvif_parsers.errors.UnknownTopicError:
                        unknown.add(topic)
                        continue
                    for entity in parsed:
                        entities[entity.name] = entity.value
            await manager.shutdown()
            return entities, unknown
        finally:
            await camera.close()
    with start(state) as agent:
        entities, unknown = asyncio.run(run(agent))
    # LinkStatus where the board has a network backend (the desktop's simulated one).
    assert "tns1:Monitoring/EnvironmentalConditions/Temperature" in unknown
    assert unknown <= {"tns1:Monitoring/EnvironmentalConditions/Temperature",
                       "tns1:Monitoring/LinkStatus"}, unknown
    entities = {name: value for name, value in entities.items()
                if name not in ("Digital Input", "Relay Triggered")}
    assert 0 <= entities.pop("Processor Usage") <= 100
    assert entities.pop("Last Reboot").startswith(str(datetime.date.today().year))
    assert entities == {"Last Reset": NEVER, "Last Clock Synchronization": NEVER,
                        "Last Backup": NEVER}, entities
    assert onvif_parsers.registry.get_parser("tns1:Monitoring/LinkStatus") is None


def test_the_link_element_item_is_a_network_interface_connection_setting():
    """The ElementItem's content is lax in tt:ItemList, so the envelope's validation does not
    look inside it: its children are checked here as the tt:Link of a SetNetworkInterfaces,
    whose type is the tt:NetworkInterfaceConnectionSetting the description names."""
    from xml.etree import ElementTree

    from agent.bus import Message
    from agent.monitoring import link_setting
    from agent.notification import write_notification
    from agent.xmlwrite import XmlWriter
    out = []
    w = XmlWriter(out.append)
    link = link_setting({"auto": False, "speed": 100, "duplex": "Half"})
    write_notification(w, Message("Monitoring/LinkStatus", 0, "Changed", (("Token", "eth0"),),
                                  (("Link", link),)))
    w.close()
    note = ElementTree.fromstring(b"".join(out).decode())
    (item,) = note.iter(TT + "ElementItem")
    (setting,) = item
    assert (item.get("Name"), setting.tag) == ("Link", TT + "NetworkInterfaceConnectionSetting")
    tds = "http://www.onvif.org/ver10/device/wsdl"
    request = ElementTree.Element("{%s}SetNetworkInterfaces" % tds)
    ElementTree.SubElement(request, "{%s}InterfaceToken" % tds).text = "eth0"
    interface = ElementTree.SubElement(request, "{%s}NetworkInterface" % tds)
    ElementTree.SubElement(interface, TT + "Link").extend(list(setting))
    schema.schema_set().validate(request)
    setting[1].text = "fast"
    with pytest.raises(Exception, match="Speed"):
        schema.schema_set().validate(request)
