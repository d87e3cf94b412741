"""NTP end to end (checklist 8.4 #6, #7; 8.7): the real agent process, a fake NTP server on
loopback named in its settings, SetSystemDateAndTime NTP through strict zeep; then
GetSystemDateAndTime reports the server's time and a pull point receives
LastClockSynchronization stamped with it. The host clock is never touched."""

import datetime
import json
import time

import pytest

from tests import schema
from tests.agentproc import AgentProcess
from tests.clients import DEVICE_BINDING, EVENT_BINDING, PULLPOINT_SUBSCRIPTION_BINDING, \
    zeep_service
from tests.ntp_server import FakeNtpServer
from tests.test_datetime_e2e import ADMIN, ADMIN_PASSWORD, device_time, token, utc_now
from tests.test_e2e_clients import RecordingTransport
from tests.test_events_e2e import messages

AHEAD = datetime.timedelta(hours=1, milliseconds=250)
TOPIC = "tns1:Monitoring/OperatingTime/LastClockSynchronization"


@pytest.fixture
def server():
    with FakeNtpServer(int(AHEAD.total_seconds() * 1000)) as fake:
        yield fake


@pytest.fixture
def agent(tmp_path, server):
    state = tmp_path / "state"
    state.mkdir()
    # SetNTP is another part's operation: the server is configured the way it persists it.
    (state / "settings.json").write_text(json.dumps({"ntp_servers": [server.address]}))
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(state, env=env) as proc:
        yield proc


def test_ntp_mode_synchronises_the_device_clock(agent, server):
    transport = RecordingTransport()

    def device(wsse=None):
        return zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                            wsse=wsse).service
    events = zeep_service("event", EVENT_BINDING, agent.url.replace("device", "event"),
                          transport=transport, wsse=token()).service
    created = events.CreatePullPointSubscription(InitialTerminationTime="PT120S")
    address = created.SubscriptionReference.Address._value_1
    assert server.requests == 0, "Manual mode asks no server"

    device(token()).SetSystemDateAndTime(DateTimeType="NTP", DaylightSavings=False)
    deadline = time.monotonic() + 10
    while True:
        sdt = device().GetSystemDateAndTime()  # PRE_AUTH
        skew = device_time(sdt.UTCDateTime) - utc_now()
        if abs(skew - AHEAD).total_seconds() < 1.5 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sdt.DateTimeType == "NTP"
    assert abs(skew - AHEAD).total_seconds() < 1.5, skew
    assert server.requests == 1

    # The pull point is asked with a token stamped on the device's (now synchronised) clock.
    pull_point = zeep_service("event", PULLPOINT_SUBSCRIPTION_BINDING, address,
                              transport=transport, wsse=token(created=utc_now() + AHEAD)).service
    pulled = messages(pull_point.PullMessages(Timeout=datetime.timedelta(seconds=2),
                                              MessageLimit=100), transport)
    synchronisations = [m for m in pulled if m[0] == TOPIC]
    # One for SetSystemDateAndTime itself, one for the NTP synchronisation it started.
    assert len(synchronisations) >= 2 and synchronisations[-1][1] == "Changed", pulled
    stamped = datetime.datetime.fromisoformat(synchronisations[-1][2].replace("Z", "+00:00"))
    assert abs(stamped - utc_now() - AHEAD).total_seconds() < 5
    for body in transport.received:
        schema.validate_envelope(body)
