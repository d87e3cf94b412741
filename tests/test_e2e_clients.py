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


ADMIN, ADMIN_PASSWORD = "admin", "Adm1n-secret-pw"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(tmp_path_factory.mktemp("state"), env=env) as proc:
        yield proc


def token(user=ADMIN, password=ADMIN_PASSWORD):
    from zeep.wsse.username import UsernameToken
    return UsernameToken(user, password, use_digest=True)


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
    security = device.GetServiceCapabilities().Security
    assert (security["UsernameToken"], security["HttpDigest"]) == (True, True)
    assert security["TLS1.2"] is True  # tests/agentproc.py serves HTTPS too


def test_zeep_fault_for_an_unimplemented_operation(agent, transport):
    import zeep.exceptions
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                          wsse=token()).service
    with pytest.raises(zeep.exceptions.Fault) as info:
        device.StartFirmwareUpgrade()  # checklist 8.4 #10: not offered
    assert "Optional Action Not Implemented" in info.value.message
    with pytest.raises(zeep.exceptions.Fault):
        device.GetCapabilities(Category=["Media"])


def test_zeep_other_services_capabilities(agent, transport):
    deviceio = zeep_service("deviceio", DEVICEIO_BINDING, url(agent, "deviceio_service"),
                            transport=transport).service
    assert deviceio.GetServiceCapabilities().RelayOutputs == 2  # the desktop board's R1, R2
    events = zeep_service("event", EVENT_BINDING, url(agent, "event_service"),
                          transport=transport).service
    assert events.GetServiceCapabilities().MaxPullPoints == 50


def test_onvif_zeep_async_full_connect(agent):
    """Home Assistant's sequence: clock from the unauthenticated GetSystemDateAndTime, XAddrs,
    then authenticated calls with a PasswordDigest UsernameToken."""
    from onvif import ONVIFCamera

    async def connect():
        camera = ONVIFCamera("127.0.0.1", agent.port, ADMIN, ADMIN_PASSWORD, adjust_time=True)
        try:
            await camera.update_xaddrs()
            devicemgmt = await camera.create_devicemgmt_service()
            info = await devicemgmt.GetDeviceInformation()
            users = await devicemgmt.GetUsers()
            return camera.xaddrs, info, users
        finally:
            await camera.close()
    xaddrs, info, users = asyncio.run(connect())
    assert xaddrs[TDS] == agent.url
    assert xaddrs[TEV] == url(agent, "event_service")
    assert xaddrs[TMD] == url(agent, "deviceio_service")
    assert info.FirmwareVersion and info.HardwareId
    assert [(u.Username, u.UserLevel) for u in users] == [(ADMIN, "Administrator")]


def test_onvif_zeep_async_with_a_wrong_password_is_refused(agent):
    from onvif import ONVIFCamera
    from onvif.exceptions import ONVIFError
    import zeep.exceptions

    async def connect():
        camera = ONVIFCamera("127.0.0.1", agent.port, ADMIN, "wrong-password")
        try:
            devicemgmt = await camera.create_devicemgmt_service()
            return await devicemgmt.GetDeviceInformation()
        finally:
            await camera.close()
    with pytest.raises((ONVIFError, zeep.exceptions.Fault)) as info:
        asyncio.run(connect())
    assert "not Authorized" in str(info.value)


def test_zeep_username_token_levels(agent, transport):
    import zeep.exceptions
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                          wsse=token()).service
    device.CreateUsers(User=[{"Username": "viewer", "Password": "V1ewer-pw!!",
                              "UserLevel": "User"}])
    try:
        info = device.GetDeviceInformation()
        assert info.Model == "Desktop simulator"
        assert [(p.Name, p.Enabled, p.Port) for p in device.GetNetworkProtocols()] == [
            ("HTTP", True, [agent.port]), ("HTTPS", True, [agent.https_port])]
        viewer = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                              wsse=token("viewer", "V1ewer-pw!!")).service
        assert viewer.GetDeviceInformation().Model == "Desktop simulator"  # READ_SYSTEM
        with pytest.raises(zeep.exceptions.Fault) as refused:
            viewer.GetUsers()  # READ_SYSTEM_SECRET: Administrator only
        assert "Sender not Authorized" in refused.value.message
    finally:
        device.DeleteUsers(Username=["viewer"])


def test_zeep_without_credentials_gets_401(agent):
    import zeep.exceptions
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url).service
    with pytest.raises(zeep.exceptions.TransportError) as info:
        device.GetDeviceInformation()
    assert info.value.status_code == 401


def soap_post(agent_url, operation, **kw):
    import requests
    body = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/'
            '05/soap-envelope"><s:Body><%s xmlns="%s"/></s:Body></s:Envelope>' % (operation, TDS))
    return requests.post(agent_url, data=body.encode(), timeout=10,
                         headers={"Content-Type": "application/soap+xml; charset=utf-8"}, **kw)


def test_requests_http_digest(agent):
    from requests.auth import HTTPDigestAuth
    r = soap_post(agent.url, "GetDeviceInformation", auth=HTTPDigestAuth(ADMIN, ADMIN_PASSWORD))
    assert r.status_code == 200
    schema.validate_envelope(r.content)
    r = soap_post(agent.url, "GetDeviceInformation", auth=HTTPDigestAuth(ADMIN, "wrong"))
    assert r.status_code == 401
    assert "Digest" in r.headers["WWW-Authenticate"]


def test_curl_digest(agent):
    import shutil
    import subprocess
    if shutil.which("curl") is None:
        pytest.skip("CURL NOT INSTALLED: the curl --digest interop check did not run")
    body = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
            '<GetDeviceInformation xmlns="%s"/></s:Body></s:Envelope>' % TDS)
    result = subprocess.run(
        ["curl", "-s", "--digest", "-u", "%s:%s" % (ADMIN, ADMIN_PASSWORD), "-w",
         "\n%{http_code}", "-H", "Content-Type: application/soap+xml; charset=utf-8",
         "--data-binary", body, agent.url], capture_output=True, timeout=20)
    content, _, status = result.stdout.rpartition(b"\n")
    assert status == b"200", result
    schema.validate_envelope(content)


def test_endpoint_reference_survives_a_restart(tmp_path):
    def guid():
        with AgentProcess(tmp_path) as proc:
            device = zeep_service("devicemgmt", DEVICE_BINDING, proc.url).service
            return device.GetEndpointReference().GUID
    assert guid() == guid()
