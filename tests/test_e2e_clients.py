"""Real ONVIF client libraries against the real agent process over loopback."""

import asyncio
import datetime
import uuid

import pytest

from tests import schema
from tests.agentproc import AgentProcess
from tests.clients import (DEVICE_BINDING, DEVICEIO_BINDING, EVENT_BINDING, OfflineTransport,
                           zeep_service)

TDS = "http://www.onvif.org/ver10/device/wsdl"
TMD = "http://www.onvif.org/ver10/deviceIO/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"


class RecordingTransport(OfflineTransport):
    """Keeps every raw response body, so each can be checked against the official schemas."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.received = []

    def post(self, address, message, headers):
        response = super().post(address, message, headers)
        self.received.append(response.content)
        return response


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    with AgentProcess(tmp_path_factory.mktemp("state")) as proc:
        yield proc


@pytest.fixture
def transport():
    t = RecordingTransport()
    yield t
    assert t.received, "no response was recorded"
    for body in t.received:
        schema.validate_envelope(body)


def url(agent, path):
    return "http://127.0.0.1:%d/onvif/%s" % (agent.port, path)


def test_zeep_device_operations(agent, transport):
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport).service
    sdt = device.GetSystemDateAndTime()
    utc = sdt.UTCDateTime
    device_time = datetime.datetime(utc.Date.Year, utc.Date.Month, utc.Date.Day,
                                    utc.Time.Hour, utc.Time.Minute, utc.Time.Second,
                                    tzinfo=datetime.timezone.utc)
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - device_time).total_seconds())
    assert skew < 120  # the device reports this host's clock, not a made-up one

    services = device.GetServices(IncludeCapability=True)
    assert {s.Namespace: s.XAddr for s in services} == {
        TDS: agent.url, TMD: url(agent, "deviceio_service"), TEV: url(agent, "event_service")}

    caps = device.GetCapabilities(Category=["All"])
    assert caps.Device.XAddr == agent.url
    assert caps.Events.XAddr == url(agent, "event_service")
    # tt:CapabilitiesExtension opens with xs:any namespace="##other"; zeep ignores the namespace
    # constraint and files our (schema-valid, tt:) DeviceIO there as a raw element.
    deviceio = caps.Extension.DeviceIO or caps.Extension._value_1[0]
    xaddr = getattr(deviceio, "XAddr", None) or deviceio.findtext(
        "{http://www.onvif.org/ver10/schema}XAddr")
    assert xaddr == url(agent, "deviceio_service")

    assert device.GetWsdlUrl() == "http://www.onvif.org/"
    assert device.GetHostname().FromDHCP is False
    guid = device.GetEndpointReference().GUID
    assert uuid.UUID(guid[len("urn:uuid:"):]).version == 4
    assert device.GetServiceCapabilities().Security["UsernameToken"] is False


def test_zeep_fault_for_an_unimplemented_operation(agent, transport):
    import zeep.exceptions
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport).service
    with pytest.raises(zeep.exceptions.Fault) as info:
        device.SystemReboot()
    assert "Optional Action Not Implemented" in info.value.message
    with pytest.raises(zeep.exceptions.Fault):
        device.GetCapabilities(Category=["Media"])


def test_zeep_other_services_capabilities(agent, transport):
    deviceio = zeep_service("deviceio", DEVICEIO_BINDING, url(agent, "deviceio_service"),
                            transport=transport).service
    assert deviceio.GetServiceCapabilities().RelayOutputs == 0
    events = zeep_service("event", EVENT_BINDING, url(agent, "event_service"),
                          transport=transport).service
    assert events.GetServiceCapabilities().MaxPullPoints == 0


def test_onvif_zeep_async_connects(agent):
    from onvif import ONVIFCamera

    async def connect():
        camera = ONVIFCamera("127.0.0.1", agent.port, "admin", "unused", adjust_time=True)
        try:
            await camera.update_xaddrs()
            devicemgmt = await camera.create_devicemgmt_service()
            sdt = await devicemgmt.GetSystemDateAndTime()
            return camera.xaddrs, sdt
        finally:
            await camera.close()
    xaddrs, sdt = asyncio.run(connect())
    assert xaddrs[TDS] == agent.url
    assert xaddrs[TEV] == url(agent, "event_service")
    assert xaddrs[TMD] == url(agent, "deviceio_service")
    assert sdt.UTCDateTime.Date.Year >= 2024


def test_endpoint_reference_survives_a_restart(tmp_path):
    def guid():
        with AgentProcess(tmp_path) as proc:
            device = zeep_service("devicemgmt", DEVICE_BINDING, proc.url).service
            return device.GetEndpointReference().GUID
    assert guid() == guid()
