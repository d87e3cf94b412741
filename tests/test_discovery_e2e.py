"""WS-Discovery end to end: the real agent and the `wsdiscovery` client in two network namespaces
this test creates and joins with a veth pair, so multicast never leaves them (checklist 7)."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.agentproc import ROOT, AgentProcess

TAG = "%05d" % (os.getpid() % 100000)
NS_AGENT, NS_CLIENT = "oa-agent-" + TAG, "oa-client-" + TAG
AGENT_IP, CLIENT_IP = "10.231.7.1", "10.231.7.2"
TDS = "http://www.onvif.org/ver10/device/wsdl"
ADMIN, PASSWORD = "admin", "Adm1n-secret-pw"
DISCOVERY = "http://schemas.xmlsoap.org/ws/2005/04/discovery"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("WS-DISCOVERY MULTICAST TESTS NOT RUN: they need root and iproute2 (`ip`) to "
                    "make their own network namespaces")
    made = []
    try:
        for ns in (NS_AGENT, NS_CLIENT):
            ip("netns", "add", ns)
            made.append(ns)
        ip("link", "add", "oa%sa" % TAG, "type", "veth", "peer", "name", "oa%sc" % TAG)
        for ns, dev, address in ((NS_AGENT, "oa%sa" % TAG, AGENT_IP),
                                 (NS_CLIENT, "oa%sc" % TAG, CLIENT_IP)):
            ip("link", "set", dev, "netns", ns)
            ip("-n", ns, "addr", "add", address + "/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
    except subprocess.CalledProcessError as exc:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip("WS-DISCOVERY MULTICAST TESTS NOT RUN: cannot make network namespaces: %s"
                    % exc.stderr.decode().strip())
    yield
    for ns in made:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def client(mode, **args):
    """Run tests/discovery_client.py in the client namespace; its JSON answer."""
    result = subprocess.run(["ip", "netns", "exec", NS_CLIENT, sys.executable,
                             str(ROOT / "tests" / "discovery_client.py"), mode, json.dumps(args)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class Listener:
    """Records the multicast datagrams that reach the client namespace."""

    def __init__(self, seconds):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", NS_CLIENT, sys.executable,
             str(ROOT / "tests" / "discovery_client.py"), "listen",
             json.dumps({"interface_address": CLIENT_IP, "seconds": seconds})],
            stdout=subprocess.PIPE, text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def heard(self):
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])["heard"]


def actions(datagrams, action):
    return [d for d in datagrams if "%s/%s<" % (DISCOVERY, action) in d]


@pytest.fixture
def agent(netns, tmp_path):
    proc = AgentProcess(tmp_path, "--discovery-port", "3702", bind="0.0.0.0",
                        prefix=("ip", "netns", "exec", NS_AGENT),
                        env={"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, PASSWORD)})
    yield proc
    proc.stop()


def soap(agent, body):
    return client("soap", url="http://%s:%d/onvif/device_service" % (AGENT_IP, agent.port),
                  body=body, user=ADMIN, password=PASSWORD)


def endpoint(agent):
    r = soap(agent, "<tds:GetEndpointReference/>")
    return re.search(r"urn:uuid:[0-9a-f-]+", r["text"]).group(0)


def test_hello_on_start_and_bye_on_stop(netns, tmp_path):
    listener = Listener(seconds=8)
    proc = AgentProcess(tmp_path, "--discovery-port", "3702", bind="0.0.0.0",
                        prefix=("ip", "netns", "exec", NS_AGENT))
    time.sleep(1.5)  # Hello waits 0-500 ms, then repeats
    status, _ = proc.stop()
    heard = listener.heard()
    assert status == 0
    hellos, byes = actions(heard, "Hello"), actions(heard, "Bye")
    assert hellos and byes, heard
    assert "http://%s:%d/onvif/device_service" % (AGENT_IP, proc.port) in hellos[0]


def test_probe_multicast_and_directed(agent):
    found = client("probe", types=[[TDS, "Device"]], timeout=3)["services"]
    assert len(found) == 1, found
    service = found[0]
    assert service["epr"] == endpoint(agent)
    assert "http://%s:%d/onvif/device_service" % (AGENT_IP, agent.port) in service["xaddrs"]
    directed = client("probe", address=AGENT_IP, port=3702, timeout=3)["services"]
    assert [s["epr"] for s in directed] == [service["epr"]]


def test_types_and_scopes_must_match(agent):
    found = client("probe", timeout=3)["services"]
    hardware = [s for s in found[0]["scopes"] if "/hardware/" in s][0]
    assert client("probe", scopes=[hardware], timeout=3)["services"]
    assert client("probe", scopes=["onvif://www.onvif.org"], timeout=3)["services"]
    # a longer segment is not a match: .../hardware/D1 must not match .../hardware/D1-566
    assert not client("probe", scopes=[hardware[:-1]], timeout=3)["services"]
    video = "http://www.onvif.org/ver10/network/wsdl"
    assert not client("probe", types=[[video, "NetworkVideoTransmitter"]],
                      timeout=3)["services"]


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
