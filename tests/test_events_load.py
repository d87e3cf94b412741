"""Fifty pull points long-polling on one loop while another client is served at normal latency,
and an input change answering all of them at once (issue 7). A socket timeout is the hang
detector; no wall-clock figure is asserted (tests/bench/bench_events.py prints them)."""

import pytest

from agent.subscriptions import MAX_PULL_POINTS
from tests.eventrig import DATE, Rig, pull


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def test_fifty_long_polls_and_an_ordinary_client(rig):
    assert MAX_PULL_POINTS >= 50
    pollers = []
    for _ in range(50):
        client = rig.client()
        path = client.pull_point()
        client.send(pull("PT60S"), path)
        pollers.append(client)
    other = rig.client()
    other.sock.settimeout(5)  # served at once despite the 50 waiting requests
    for _ in range(20):
        assert other.call(DATE, "/onvif/device_service").status == 200
    rig.set_input(True)
    for client in pollers:
        client.sock.settimeout(10)
        response = client.receive()
        assert response.status == 200
        assert b"Device/Trigger/DigitalInput" in response.body
        assert b'PropertyOperation="Changed"' in response.body
    for client in pollers + [other]:
        client.close()


def test_a_pull_point_beyond_the_limit_is_refused_and_the_rest_keep_working(rig):
    client = rig.client()
    for _ in range(MAX_PULL_POINTS):
        client.pull_point()
    response = client.call("<tev:CreatePullPointSubscription/>")
    assert response.status == 500 and b"SubscribeCreationFailedFault" in response.body
    assert client.call(DATE, "/onvif/device_service").status == 200
    client.close()
