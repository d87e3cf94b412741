"""WS-Discovery end to end: the real agent and the `wsdiscovery` client in two network namespaces
this test creates and joins with a veth pair, so multicast never leaves them (checklist 7).

The pair carries IPv4 and IPv6 (a ULA address each, `nodad` so it is usable at once, beside the
automatic link-local ones). A third namespace is joined to the agent's by a second pair with
link-local IPv6 only: the one case where XAddrs name a link-local address.
"""

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from agent import compat, discovery_net
from agent.discovery import Discovery
from agent.loop import Loop
from agent.protocols import Listeners
from tests.agentproc import ROOT, AgentProcess

TAG = "%05d" % (os.getpid() % 100000)
NS_AGENT, NS_CLIENT, NS_LINK = "oa6-agent-" + TAG, "oa6-client-" + TAG, "oa6-link-" + TAG
AGENT_IF, CLIENT_IF = "oa%sa" % TAG, "oa%sc" % TAG
AGENT_LINK_IF, LINK_IF = "ol%sa" % TAG, "ol%sc" % TAG  # the link-local-only pair
AGENT_IP, CLIENT_IP = "10.231.7.1", "10.231.7.2"
AGENT_IP6, CLIENT_IP6 = "fd00:231:7::1", "fd00:231:7::2"
TDS = "http://www.onvif.org/ver10/device/wsdl"
ADMIN, PASSWORD = "admin", "Adm1n-secret-pw"
DISCOVERY = "http://schemas.xmlsoap.org/ws/2005/04/discovery"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


@pytest.fixture(scope="module")
def netns():
    """The namespaces; yields None, or why they have no IPv6 (then the IPv6 tests skip)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("WS-DISCOVERY MULTICAST TESTS NOT RUN: they need root and iproute2 (`ip`) to "
                    "make their own network namespaces")
    made = []
    try:
        for ns in (NS_AGENT, NS_CLIENT, NS_LINK):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", AGENT_IF, "type", "veth", "peer", "name", CLIENT_IF)
        for ns, dev, address in ((NS_AGENT, AGENT_IF, AGENT_IP), (NS_CLIENT, CLIENT_IF, CLIENT_IP)):
            ip("link", "set", dev, "netns", ns)
            ip("-n", ns, "addr", "add", address + "/24", "dev", dev)
        ipv6 = add_ipv6()  # before the links are up: their link-local addresses skip DAD
        for ns, dev in ((NS_AGENT, AGENT_IF), (NS_CLIENT, CLIENT_IF)):
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
    except subprocess.CalledProcessError as exc:
        remove(made)
        pytest.skip("WS-DISCOVERY MULTICAST TESTS NOT RUN: cannot make network namespaces: %s"
                    % exc.stderr.decode().strip())
    yield ipv6
    remove(made)


def remove(namespaces):
    """Delete the namespaces (with the veth ends they hold) and any end still outside them."""
    for ns in namespaces:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for dev in (AGENT_IF, AGENT_LINK_IF):
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


def add_ipv6():
    """IPv6 on the pair, and the link-local-only pair; None when it worked, else why not."""
    if not os.path.exists("/proc/net/if_inet6"):
        return "the kernel has no IPv6"
    try:
        ip("link", "add", AGENT_LINK_IF, "type", "veth", "peer", "name", LINK_IF)
        for ns, dev, address in ((NS_AGENT, AGENT_LINK_IF, None), (NS_LINK, LINK_IF, None),
                                 (NS_AGENT, AGENT_IF, AGENT_IP6),
                                 (NS_CLIENT, CLIENT_IF, CLIENT_IP6)):
            if address is None:
                ip("link", "set", dev, "netns", ns)
            else:
                ip("-n", ns, "addr", "add", address + "/64", "dev", dev, "nodad")
            # no duplicate address detection: the automatic link-local address is usable at once
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.%s.accept_dad=0" % dev], check=True,
                           capture_output=True)
        for ns, dev in ((NS_AGENT, AGENT_LINK_IF), (NS_LINK, LINK_IF)):
            ip("-n", ns, "link", "set", dev, "up")
    except subprocess.CalledProcessError as exc:
        return "cannot set up IPv6: %s" % exc.stderr.decode().strip()
    return None


def need_ipv6(netns):
    if netns is not None:
        pytest.skip("WS-DISCOVERY IPv6 TESTS NOT RUN: " + netns)


CLIENT = str(ROOT / "tests" / "discovery_client.py")


def client(mode, ns=NS_CLIENT, **args):
    """Run tests/discovery_client.py in a namespace (the client's by default); its JSON answer."""
    result = subprocess.run(["ip", "netns", "exec", ns, sys.executable, CLIENT, mode,
                             json.dumps(args)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class Listener:
    """Records the multicast datagrams that reach a namespace: over IPv4 on the client's
    address, or over IPv6 on `interface`."""

    def __init__(self, seconds, ns=NS_CLIENT, interface=None):
        where = {"interface_address": CLIENT_IP} if interface is None else {"interface": interface}
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, CLIENT, "listen",
             json.dumps(dict(where, seconds=seconds))],
            stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def heard(self):
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])["heard"]


def actions(datagrams, action):
    return [d for d in datagrams if "%s/%s<" % (DISCOVERY, action) in d]


def start_agent(tmp_path, bind=None, **options):
    """The agent in its namespace on port 3702; with bind None, on its default addresses (both
    IP versions)."""
    return AgentProcess(tmp_path, "--discovery-port", "3702", bind=bind,
                        prefix=("ip", "netns", "exec", NS_AGENT), **options)


@pytest.fixture
def agent(netns, tmp_path):
    proc = start_agent(tmp_path, env={"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, PASSWORD)})
    yield proc
    proc.stop()


def url(host, port, scheme="http"):
    return "%s://%s:%d/onvif/device_service" % (scheme, host, port)


def xaddrs(host, agent):
    """What a probe answered at `host` carries: the HTTPS URL first, then the HTTP one."""
    return [url(host, agent.https_port, "https"), url(host, agent.port)]


def soap(agent, body, address=None, ns=NS_CLIENT, **options):
    return client("soap", ns=ns, url=address or url(AGENT_IP, agent.port), body=body,
                  user=ADMIN, password=PASSWORD, **options)


def endpoint(agent):
    r = soap(agent, "<tds:GetEndpointReference/>")
    return re.search(r"urn:uuid:[0-9a-f-]+", r["text"]).group(0)


def clock_answers(agent, address, ns=NS_CLIENT, **options):
    r = soap(agent, "<tds:GetSystemDateAndTime/>", address, ns, **options)
    return r["status"] == 200 and "UTCDateTime" in r["text"]


def test_hello_on_start_and_bye_on_stop(netns, tmp_path):
    listener = Listener(seconds=8)
    proc = start_agent(tmp_path, bind="0.0.0.0")
    time.sleep(1.5)  # Hello waits 0-500 ms, then repeats
    status, _ = proc.stop()
    heard = listener.heard()
    assert status == 0
    hellos, byes = actions(heard, "Hello"), actions(heard, "Bye")
    assert hellos and byes, heard
    assert url(AGENT_IP, proc.port) in hellos[0]


def test_probe_multicast_and_directed(agent):
    found = client("probe", types=[[TDS, "Device"]], timeout=3, family=4)["services"]
    assert len(found) == 1, found
    service = found[0]
    assert service["epr"] == endpoint(agent)
    # IPv4 answers name the IPv4 address the probe reached, https first
    assert service["xaddrs"] == xaddrs(AGENT_IP, agent), service
    directed = client("probe", address=AGENT_IP, port=3702, timeout=3)["services"]
    assert [s["epr"] for s in directed] == [service["epr"]]


def test_types_and_scopes_must_match(agent):
    found = client("probe", timeout=3, family=4)["services"]
    hardware = [s for s in found[0]["scopes"] if "/hardware/" in s][0]
    assert client("probe", scopes=[hardware], timeout=3, family=4)["services"]
    assert client("probe", scopes=["onvif://www.onvif.org"], timeout=3, family=4)["services"]
    # a longer segment is not a match: .../hardware/D1 must not match .../hardware/D1-566
    assert not client("probe", scopes=[hardware[:-1]], timeout=3, family=4)["services"]
    video = "http://www.onvif.org/ver10/network/wsdl"
    assert not client("probe", types=[[video, "NetworkVideoTransmitter"]], timeout=3,
                      family=4)["services"]


def resolve(epr):
    return ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://'
            'schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="%s"><s:Header><a:Action>%s/'
            'Resolve</a:Action><a:MessageID>urn:uuid:6f1c1a2e-0000-4000-8000-000000000001'
            '</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>'
            '<s:Body><d:Resolve><a:EndpointReference><a:Address>%s</a:Address>'
            '</a:EndpointReference></d:Resolve></s:Body></s:Envelope>' % (DISCOVERY, DISCOVERY, epr))


def test_resolve_and_garbage(agent):
    epr = endpoint(agent)
    garbage = ["", "\x00" * 100, "<not-soap/>", "x" * 20000, resolve(epr)[:200]]
    replies = client("send", address=AGENT_IP, port=3702, datagrams=garbage + [resolve(epr)],
                     timeout=2)["replies"]
    # one ResolveMatches, sent 1 + UNICAST_UDP_REPEAT times (SOAP-over-UDP), and nothing else
    ids = set(re.findall(r"MessageID>([^<]+)<", "".join(replies)))
    assert len(ids) == 1 and all("ResolveMatches" in r and epr in r for r in replies), replies
    other = client("send", address=AGENT_IP, port=3702,
                   datagrams=[resolve("urn:uuid:00000000-0000-4000-8000-000000000000")],
                   timeout=1)["replies"]
    assert other == []
    assert client("probe", address=AGENT_IP, port=3702, timeout=3)["services"]  # still serving


def test_set_scopes_says_hello_and_non_discoverable_is_silent(agent):
    listener = Listener(seconds=5)
    r = soap(agent, "<tds:AddScopes><tds:ScopeItem>onvif://www.onvif.org/location/door-7"
                    "</tds:ScopeItem></tds:AddScopes>")
    assert r["status"] == 200, r
    time.sleep(1.5)
    r = soap(agent, "<tds:SetDiscoveryMode><tds:DiscoveryMode>NonDiscoverable"
                    "</tds:DiscoveryMode></tds:SetDiscoveryMode>")
    assert r["status"] == 200, r
    heard = listener.heard()
    hellos = actions(heard, "Hello")
    assert any("location/door-7" in h for h in hellos), heard
    assert actions(heard, "Bye"), heard
    assert client("probe", timeout=2)["services"] == []
    assert client("probe", address=AGENT_IP, port=3702, timeout=2)["services"] == []
    r = soap(agent, "<tds:SetDiscoveryMode><tds:DiscoveryMode>Discoverable"
                    "</tds:DiscoveryMode></tds:SetDiscoveryMode>")
    assert r["status"] == 200, r
    assert client("probe", timeout=3)["services"]


def test_port_and_address_changes_say_hello(agent):
    """SetNetworkProtocols: Hello with the new XAddrs once the port moved; SetNetworkInterfaces
    (the simulated network): Hello again, an address change (checklist 8.3 #11, #13)."""
    listener = Listener(seconds=5)
    moved = agent.port + 1 if agent.port < 65535 else agent.port - 1  # free: a fresh namespace
    r = soap(agent, "<tds:SetNetworkProtocols><tds:NetworkProtocols><tt:Name>HTTP</tt:Name>"
                    "<tt:Enabled>true</tt:Enabled><tt:Port>%d</tt:Port></tds:NetworkProtocols>"
                    "</tds:SetNetworkProtocols>" % moved)
    assert r["status"] == 200, r
    time.sleep(1.5)
    r = soap(agent, "<tds:SetNetworkInterfaces><tds:InterfaceToken>eth0</tds:InterfaceToken>"
                    "<tds:NetworkInterface><tt:MTU>1400</tt:MTU></tds:NetworkInterface>"
                    "</tds:SetNetworkInterfaces>", url(AGENT_IP, moved))
    assert r["status"] == 200, r
    hellos = [h for h in actions(listener.heard(), "Hello") if url(AGENT_IP, moved) in h]
    assert len(set(re.findall(r"MessageID>([^<]+)<", "".join(hellos)))) >= 2, hellos


# -- IPv6 -------------------------------------------------------------------------------------

def test_ipv6_probe_gets_the_interface_addresses_and_they_serve(netns, agent):
    need_ipv6(netns)
    found = client("probe", types=[[TDS, "Device"]], timeout=3, family=6)["services"]
    assert [s["epr"] for s in found] == [endpoint(agent)], found
    # the routable address of the interface the probe came in on, not its link-local one, nor
    # the agent's other interface, nor IPv4
    assert found[0]["xaddrs"] == xaddrs("[%s]" % AGENT_IP6, agent), found
    assert clock_answers(agent, found[0]["xaddrs"][1])
    assert not client("probe", scopes=["onvif://www.onvif.org/Profile/Streaming"], timeout=2,
                      family=6)["services"]


def test_ipv6_hello_and_bye(netns, tmp_path):
    need_ipv6(netns)
    listener = Listener(seconds=8, interface=CLIENT_IF)
    proc = start_agent(tmp_path)
    time.sleep(1.5)
    status, _ = proc.stop()
    heard = listener.heard()
    assert status == 0
    hellos, byes = actions(heard, "Hello"), actions(heard, "Bye")
    assert hellos and byes, heard
    assert url("[%s]" % AGENT_IP6, proc.port) in hellos[0]
    assert AGENT_IP not in hellos[0]


def test_ipv6_unicast_probe_on_loopback(netns, agent):
    need_ipv6(netns)
    found = client("probe", ns=NS_AGENT, address="::1", port=3702, timeout=2)["services"]
    assert len(found) == 1 and url("[::1]", agent.port) in found[0]["xaddrs"], found
    assert clock_answers(agent, url("[::1]", agent.port), ns=NS_AGENT)


def test_link_local_only_link_gets_the_link_local_address_with_our_zone(netns, agent):
    """The decision xaddr_hosts documents: on a link without routable addresses the XAddr is
    the link-local address with the *agent's* interface as zone; a client that puts in its own
    interface reaches the device (urllib3 takes the %25 zone of RFC 6874; requests cannot)."""
    need_ipv6(netns)
    found = client("probe", ns=NS_LINK, address="ff02::c%" + LINK_IF, port=3702,
                   timeout=2)["services"]
    assert len(found) == 1, found
    (xaddr,) = [x for x in found[0]["xaddrs"] if x.startswith("http:")]
    match = re.match(r"http://\[(fe80:[0-9a-f:]+)%25([^\]]+)\]:(\d+)/onvif/device_service$", xaddr)
    assert match and match.group(2) == AGENT_LINK_IF, xaddr
    ours = xaddr.replace("%25" + AGENT_LINK_IF, "%25" + LINK_IF)
    assert clock_answers(agent, ours, ns=NS_LINK, library="urllib3")


def test_new_ipv6_address_is_announced_at_the_recheck(netns, agent):
    need_ipv6(netns)
    listener = Listener(seconds=discovery_net.RECHECK_MS / 1000 + 3, ns=NS_LINK, interface=LINK_IF)
    ip("-n", NS_AGENT, "addr", "add", "fd00:231:8::1/64", "dev", AGENT_LINK_IF, "nodad")
    try:
        heard = listener.heard()
    finally:  # the link-local-only link must stay so for the other tests
        ip("-n", NS_AGENT, "addr", "del", "fd00:231:8::1/64", "dev", AGENT_LINK_IF)
    hellos = [h for h in actions(heard, "Hello") if url("[fd00:231:8::1]", agent.port) in h]
    assert hellos, heard
    assert "%25" not in hellos[0]  # the link has a routable address now: no link-local one


# -- the IPv6 transport's pieces, without namespaces -------------------------------------------

def test_if_inet6_lists_the_usable_addresses():
    text = ("fe80000000000000000000000000abcd 02 40 20 80     eth0\n"
            "20010db8000000000000000000000001 02 40 00 80     eth0\n"
            "20010db8000000000000000000000002 02 40 00 c0     eth0\n"  # tentative: DAD running
            "20010db8000000000000000000000003 02 40 00 88     eth0\n"  # DAD failed
            "00000000000000000000000000000001 01 80 10 80       lo\n")
    assert compat.parse_if_inet6(text) == [("fe80::abcd", "eth0"), ("2001:db8::1", "eth0"),
                                           ("::1", "lo")]


def test_ipv6_links_are_the_interfaces_with_a_served_address(monkeypatch):
    indexes = {"lo": 1, "eth0": 2, "wlan0": 3, "eth1": 4}

    def index(name):
        if name not in indexes:
            raise OSError("no such interface")  # went away since it was listed
        return indexes[name]
    monkeypatch.setattr(discovery_net.socket, "if_nametoindex", index)
    table = [("fe80::1", "eth0"), ("2001:db8::1", "eth0"), ("fe80::2", "wlan0"),
             ("fe80::3", "eth1"), ("2001:db8:2::1", "eth1"), ("fe80::4", "eth9"), ("::1", "lo")]
    family = discovery_net._IPv6(lambda: table)
    served = ["192.0.2.1", "fe80::1%eth0", "2001:DB8:0::1", "fe80::2%wlan0", "fe80::4%eth9", "::1"]
    assert family.find_links(served) == {2: ["2001:db8::1"], 3: ["fe80::2%wlan0"], 1: ["::1"]}
    assert family.find_links(["192.0.2.1"]) == {}


def test_a_machine_without_ipv6_serves_ipv4_alone(monkeypatch):
    """A kernel without IPv6 refuses AF_INET6 sockets: the default's IPv6 HTTP listener and the
    IPv6 discovery socket are left out, with a warning, and IPv4 carries on (loopback only)."""
    make_socket = socket.socket

    def without_ipv6(family=socket.AF_INET, *args, **kwargs):
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return make_socket(family, *args, **kwargs)
    monkeypatch.setattr(socket, "socket", without_ipv6)
    loop = Loop()
    listeners = Listeners(loop, SimpleNamespace(), None, bind="127.0.0.1", twins=True)
    listeners.start({"HTTP": 0})
    assert [s.bind for s in listeners.all_servers()] == ["127.0.0.1"]
    assert listeners.ipv6 is False
    discovery = Discovery(endpoint="urn:uuid:0f3c8a52-1d2e-4b6f-9a7c-1234567890ab",
                          scopes=lambda: [], xaddrs=lambda hosts: [], instance_id=1,
                          metadata_version=lambda: 1, rand=lambda n: 0, clock=lambda: 0)

    def service(served):
        return discovery_net.DiscoveryService(
            loop, discovery, SimpleNamespace(mode="Discoverable", on_change=[]),
            rand=lambda n: 0, addresses=lambda: served, port=0,
            interfaces6=lambda: [("::1", "lo")])
    both = service(["127.0.0.1", "::1"])
    both.start()
    try:
        assert [family.name for family in both.families if family.sock is not None] == ["IPv4"]
        with pytest.raises(OSError):  # nothing it could listen on: the CLI says discovery is off
            service(["::1"]).start()
    finally:
        both.stop()
        listeners.close()
        loop.close()
