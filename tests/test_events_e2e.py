"""Events end to end (issue 7) exactly as Home Assistant uses them: onvif-zeep-async's pull-point
manager and notification (webhook) manager against the real agent process, every message parsed
by onvif-parsers (Home Assistant's parsers) into DigitalInput and Relay values."""

import asyncio
import datetime
import http.server
import json
import threading
import time

import pytest

from tests.agentproc import ROOT, AgentProcess
from tests.test_deviceio_e2e import sim
from tests.test_e2e_clients import ADMIN, ADMIN_PASSWORD

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
        proc.state_dir = state
        yield proc


async def parsed(messages):
    """(entity uid's token part, value) of each message, through Home Assistant's parsers."""
    import onvif_parsers
    values = []
    for message in messages:
        topic = message.Topic._value_1.rstrip("/.")  # as Home Assistant reads it
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
            # An input toggled while a PullMessages waits returns that message at once.
            waiting = asyncio.ensure_future(service.PullMessages(PULL))
            await asyncio.sleep(0.5)
            assert not waiting.done(), "the long-poll must wait for an event"
            started = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(
                None, sim, agent, "input", "IN1", "closed")
            second = await asyncio.wait_for(waiting, 10)
            latency = time.monotonic() - started
            changed = await parsed(second.NotificationMessage)
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
