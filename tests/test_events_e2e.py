"""Events end to end (issue 7) exactly as Home Assistant uses them: onvif-zeep-async's pull-point
manager and notification (webhook) manager against the real agent process, every message parsed
by onvif-parsers (Home Assistant's parsers) into DigitalInput and Relay values; and every pull
point operation, Seek into the persistent store included, from strict zeep on the official
WSDLs with each response schema-validated."""

import asyncio
import datetime
import http.server
import json
import threading
import time

import pytest

from tests import schema
from tests.agentproc import ROOT, AgentProcess
from tests.clients import (EVENT_BINDING, PULLPOINT_SUBSCRIPTION_BINDING,
                           SUBSCRIPTION_MANAGER_BINDING, zeep_service)
from tests.test_deviceio_e2e import sim
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD, RecordingTransport, token

PULL = {"MessageLimit": 100, "Timeout": datetime.timedelta(seconds=60)}  # what HA asks


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """The desktop board, with Notify consumers on loopback allowed (the test's webhook)."""
    state = tmp_path_factory.mktemp("state")
    board = json.loads((ROOT / "boards" / "desktop.json").read_text())
    board["allow_local_consumers"] = True
    board_file = state / "board.json"
    board_file.write_text(json.dumps(board))
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(state, "--board", str(board_file), env=env) as proc:
        yield proc


def device_events(topic):
    """Whether a topic is one of the device's I/O (or EventBuffer/Begin): the monitoring events
    (ProcessorUsage every few seconds) are tests/test_monitoring_e2e.py's subject."""
    return not topic.startswith("tns1:Monitoring/")


async def parsed(messages):
    """(entity uid's token part, value) of each I/O message, through Home Assistant's parsers."""
    import onvif_parsers
    values = []
    for message in messages:
        topic = message.Topic._value_1.rstrip("/.")  # as Home Assistant reads it
        if not device_events(topic):
            continue
        for entity in await onvif_parsers.parse(topic, "uid", message):
            values.append((entity.uid.rsplit("_", 1)[1], entity.name, entity.value))
    return values


def camera(agent):
    from onvif import ONVIFCamera
    return ONVIFCamera("127.0.0.1", agent.port, ADMIN, ADMIN_PASSWORD, adjust_time=True)


def test_pull_point_manager_as_home_assistant_uses_it(agent):
    async def run():
        device = camera(agent)
        try:
            await device.update_xaddrs()
            manager = await device.create_pullpoint_manager(datetime.timedelta(seconds=60),
                                                            lambda: None)
            service = manager.get_service()
            first = await service.PullMessages(PULL)
            initial = await parsed(first.NotificationMessage)
            # An input toggled while a PullMessages waits returns that message at once. A
            # monitoring event (ProcessorUsage) may answer a long-poll first: pull again.
            waiting = asyncio.ensure_future(service.PullMessages(PULL))
            await asyncio.sleep(0.5)
            while waiting.done():
                notes = waiting.result().NotificationMessage
                assert notes, "the long-poll must wait for an event"
                assert await parsed(notes) == []
                waiting = asyncio.ensure_future(service.PullMessages(PULL))
                await asyncio.sleep(0.5)
            started = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(
                None, sim, agent, "input", "IN1", "closed")
            changed = []
            while not changed:
                second = await asyncio.wait_for(waiting, 10)
                latency = time.monotonic() - started
                changed = await parsed(second.NotificationMessage)
                if not changed:
                    waiting = asyncio.ensure_future(service.PullMessages(PULL))
            await manager.shutdown()
            return initial, changed, latency
        finally:
            await device.close()
    initial, changed, latency = asyncio.run(run())
    assert sorted(initial) == [("IN1", "Digital Input", False), ("IN2", "Digital Input", False),
                               ("R1", "Relay Triggered", False),
                               ("R2", "Relay Triggered", False)]
    assert changed == [("IN1", "Digital Input", True)]
    assert latency < 10


class Webhook(http.server.BaseHTTPRequestHandler):
    """Home Assistant's webhook: keeps every Notify body it receives."""

    received = []

    def do_POST(self):
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_notification_manager_webhook_as_home_assistant_uses_it(agent):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = "http://127.0.0.1:%d/api/webhook/onvif" % server.server_address[1]
    del Webhook.received[:]

    async def run():
        device = camera(agent)
        try:
            await device.update_xaddrs()
            manager = await device.create_notification_manager(
                address, datetime.timedelta(seconds=60), lambda: None)
            await asyncio.get_running_loop().run_in_executor(
                None, sim, agent, "input", "IN2", "closed")
            deadline = time.monotonic() + 10
            values = []
            while time.monotonic() < deadline and ("IN2", "Digital Input", True) not in values:
                await asyncio.sleep(0.1)
                values = []
                for body in list(Webhook.received):
                    result = manager.process(body)
                    values += await parsed(result.NotificationMessage)
            await manager.shutdown()
            return values
        finally:
            await device.close()
    try:
        values = asyncio.run(run())
    finally:
        server.shutdown()
    assert ("IN2", "Digital Input", False) in values, "the Initialized state came first"
    assert ("IN2", "Digital Input", True) in values
    sim(agent, "input", "IN2", "open")


def messages(response, transport):
    """(topic, PropertyOperation, UtcTime) of each NotificationMessage of a PullMessages
    `response`. Strict zeep drops the text of the mixed-content wsnt:Topic (onvif-zeep-async
    patches that), so the topics come from the body `transport` recorded last."""
    from lxml import etree
    body = etree.fromstring(transport.received[-1])
    topics = [t.text.strip() for t in body.iter("{http://docs.oasis-open.org/wsn/b-2}Topic")]
    found = []
    for topic, note in zip(topics, response.NotificationMessage, strict=True):
        message = note.Message._value_1  # tt:Message: xs:any, left as an element by zeep
        found.append((topic, message.get("PropertyOperation"), message.get("UtcTime")))
    return found


def test_strict_zeep_pull_point_with_seek(agent):
    """The persistent store is on by default (64 KiB in STATE-DIR/events.ring): Seek back to
    before the agent started replays EventBuffer/Begin and the start's Initialized states; a
    reverse Seek reads the newest change first."""
    transport = RecordingTransport()
    events = zeep_service("event", EVENT_BINDING, "http://127.0.0.1:%d/onvif/event_service"
                          % agent.port, transport=transport, wsse=token()).service
    assert events.GetServiceCapabilities().PersistentNotificationStorage is True
    properties = events.GetEventProperties()
    topics = "{http://www.onvif.org/ver10/topics}"
    assert [t.tag for t in properties.TopicSet._value_1] == [
        topics + "Device", topics + "EventBuffer", topics + "Monitoring"]
    created = events.CreatePullPointSubscription(InitialTerminationTime="PT60S")
    address = created.SubscriptionReference.Address._value_1
    pull_point = zeep_service("event", PULLPOINT_SUBSCRIPTION_BINDING, address,
                              transport=transport, wsse=token()).service
    manager = zeep_service("event", SUBSCRIPTION_MANAGER_BINDING, address,
                           transport=transport, wsse=token()).service
    pull = {"Timeout": datetime.timedelta(seconds=5), "MessageLimit": 100}

    def pulled(**kw):
        found = messages(pull_point.PullMessages(**dict(pull, **kw)), transport)
        return [m for m in found if device_events(m[0])]

    assert [m[1] for m in pulled()] == ["Initialized"] * 4
    assert pull_point.SetSynchronizationPoint() is None
    assert [m[1] for m in pulled()] == ["Initialized"] * 4

    sim(agent, "input", "IN1", "open")  # as it may be after the other tests
    pulled(Timeout=datetime.timedelta(seconds=1))
    sim(agent, "input", "IN1", "closed")
    changed = pulled()
    assert [m[:2] for m in changed] == [("tns1:Device/Trigger/DigitalInput", "Changed")]

    pull_point.Seek(UtcTime=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
    replay = pulled()
    assert replay[0][:2] == ("tns1:EventBuffer/Begin", None)
    assert [m[1] for m in replay[1:5]] == ["Initialized"] * 4, "the agent's start"
    assert replay[-1] == changed[0], "up to the newest stored"
    assert [m[2] for m in replay[1:]] == sorted(m[2] for m in replay[1:]), "UtcTime order"

    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    pull_point.Seek(UtcTime=later, Reverse=True)
    assert pulled(MessageLimit=1) == changed, "the newest first"

    renewed = manager.Renew(TerminationTime="PT120S")
    assert (renewed.TerminationTime - renewed.CurrentTime).total_seconds() == 120
    manager.Unsubscribe()
    sim(agent, "input", "IN1", "open")
    assert transport.received, "no response was recorded"
    for body in transport.received:
        schema.validate_envelope(body)
