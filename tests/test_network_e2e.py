"""Every network operation of checklist 8.3 through strict zeep (the official WSDLs) against the
real agent process on the desktop board and its simulated network: values round-trip, faults
carry their subcodes, every response validates, and SetNetworkProtocols moves HTTP to a new
port (the old one closes) or answers PortAlreadyInUse for a port the test holds."""

import socket
import time

import pytest
import zeep.exceptions

from tests import schema
from tests.agentproc import AgentProcess
from tests.clients import DEVICE_BINDING, zeep_service
from tests.test_datetime_e2e import ADMIN, ADMIN_PASSWORD, token
from tests.test_e2e_clients import RecordingTransport
from tests.test_protocols import free_port, listening


@pytest.fixture
def rig(tmp_path):
    """A fresh agent (the tests change its network and its port) and a maker of device
    service clients (at the agent's URL or another); every response they receive is validated
    against the official schemas at the end."""
    transport = RecordingTransport()
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(tmp_path / "state", env=env) as agent:
        yield agent, lambda url=None: zeep_service(
            "devicemgmt", DEVICE_BINDING, url or agent.url, transport=transport,
            wsse=token()).service
    for body in transport.received:
        schema.validate_envelope(body)


def subcode(call, *args, **kwargs):
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kwargs)
    return info.value.subcodes[-1].localname


def test_host_name_dns_ntp_gateway_zero_configuration(rig):
    agent, device = rig
    tds = device()
    assert tds.GetHostname().Name == "onvif-agent"
    tds.SetHostname(Name="door-2")
    assert tds.GetHostname().Name == "door-2"
    assert subcode(tds.SetHostname, Name="door_2") == "InvalidHostname"
    assert tds.SetHostnameFromDHCP(FromDHCP=True) is True  # RebootNeeded
    assert tds.GetHostname().FromDHCP is True

    tds.SetDNS(FromDHCP=False, SearchDomain=["example.com"],
               DNSManual=[{"Type": "IPv4", "IPv4Address": "192.0.2.53"}])
    dns = tds.GetDNS()
    assert (dns.FromDHCP, dns.SearchDomain, dns.DNSManual[0].IPv4Address) == (
        False, ["example.com"], "192.0.2.53")
    assert subcode(tds.SetDNS, FromDHCP=False, DNSManual=[
        {"Type": "IPv6", "IPv6Address": "2001:db8::zz"}]) == "InvalidIPv6Address"

    tds.SetNTP(FromDHCP=False, NTPManual=[{"Type": "DNS", "DNSname": "ntp.example.com"},
                                          {"Type": "IPv4", "IPv4Address": "192.0.2.123"}])
    ntp = tds.GetNTP()
    assert [(h.Type, h.DNSname or h.IPv4Address) for h in ntp.NTPManual] == [
        ("DNS", "ntp.example.com"), ("IPv4", "192.0.2.123")]
    assert subcode(tds.SetNTP, FromDHCP=False, NTPManual=[
        {"Type": "DNS", "DNSname": "bad..name"}]) == "InvalidDnsName"
    tds.SetSystemDateAndTime(DateTimeType="NTP", DaylightSavings=False)
    assert subcode(tds.SetNTP, FromDHCP=False) == "TimeSyncedToNtp"

    tds.SetNetworkDefaultGateway(IPv4Address=["192.168.1.1"])
    assert tds.GetNetworkDefaultGateway().IPv4Address == ["192.168.1.1"]
    assert subcode(tds.SetNetworkDefaultGateway, IPv4Address=["239.1.1.1"]) == \
        "InvalidGatewayAddress"

    assert tds.GetZeroConfiguration().Enabled is True
    tds.SetZeroConfiguration(InterfaceToken="eth0", Enabled=False)
    assert tds.GetZeroConfiguration().Enabled is False
    assert subcode(tds.SetZeroConfiguration, InterfaceToken="eth9", Enabled=True) == \
        "InvalidNetworkInterface"

    assert subcode(tds.GetDot11Capabilities) == "InvalidDot11"
    caps = tds.GetServiceCapabilities().Network
    assert (caps.ZeroConfiguration, caps.IPVersion6, caps.HostnameFromDHCP, caps.NTP) == (
        True, True, True, 4)


def test_network_interfaces(rig):
    agent, device = rig
    tds = device()
    (eth0,) = tds.GetNetworkInterfaces()
    assert (eth0.token, eth0.Enabled, eth0.IPv4.Config.DHCP) == ("eth0", True, True)
    assert tds.SetNetworkInterfaces(InterfaceToken="eth0", NetworkInterface={
        "IPv4": {"Enabled": True, "DHCP": False,
                 "Manual": [{"Address": "192.168.7.20", "PrefixLength": 24}]},
        "MTU": 1400}) is False
    (eth0,) = tds.GetNetworkInterfaces()
    assert eth0.IPv4.Config.Manual[0].Address == "192.168.7.20"
    assert (eth0.IPv4.Config.DHCP, eth0.Info.MTU) == (False, 1400)
    assert subcode(tds.SetNetworkInterfaces, InterfaceToken="eth0",
                   NetworkInterface={"MTU": 20000}) == "InvalidMtuValue"
    assert subcode(tds.SetNetworkInterfaces, InterfaceToken="wlan0",
                   NetworkInterface={"Enabled": True}) == "InvalidNetworkInterface"
    assert subcode(tds.SetNetworkInterfaces, InterfaceToken="eth0", NetworkInterface={
        "IPv4": {"Manual": [{"Address": "192.168.7.255", "PrefixLength": 24}]}}) == \
        "InvalidIPv4Address"
    assert subcode(tds.SetNetworkInterfaces, InterfaceToken="eth0", NetworkInterface={
        "IPv6": {"DHCP": "Stateful"}}) == "InvalidDHCPv6"


def test_set_network_protocols_moves_http(rig):
    agent, device = rig
    tds = device()
    protocols = {p.Name: p for p in tds.GetNetworkProtocols()}
    assert protocols["HTTP"].Port == [agent.port]
    new = free_port()
    tds.SetNetworkProtocols(NetworkProtocols=[{"Name": "HTTP", "Enabled": True, "Port": [new]}])
    deadline = time.monotonic() + 5
    while listening(agent.port):  # closed from a loop timer, after the response
        assert time.monotonic() < deadline, "the old port still listens"
        time.sleep(0.05)
    moved = device(agent.url.replace(":%d/" % agent.port, ":%d/" % new))
    protocols = {p.Name: p for p in moved.GetNetworkProtocols()}
    assert (protocols["HTTP"].Enabled, protocols["HTTP"].Port) == (True, [new])

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        assert subcode(moved.SetNetworkProtocols, NetworkProtocols=[
            {"Name": "HTTP", "Enabled": True, "Port": [busy]}]) == "PortAlreadyInUse"
    assert subcode(moved.SetNetworkProtocols, NetworkProtocols=[
        {"Name": "RTSP", "Enabled": True, "Port": [554]}]) == "ServiceNotSupported"
    assert moved.GetNetworkProtocols()[0].Port == [new]
