"""The IP address filter over real sockets (issue 8): the server closes a refused connection
before answering, the agent's filter is set by strict zeep and kept across a restart, loopback
is never locked out, and in two network namespaces joined by a veth pair this test creates, a
denied address is refused while an allowed one is served, over IPv4 and IPv6."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from agent import log
from agent.app import build_app
from agent.device import Device
from agent.ipfilter import parse_ipv4, peer_address
from agent.loop import Loop
from agent.server import HttpServer
from agent.settings import Settings
from tests.agentproc import ROOT, AgentProcess
from tests.clients import DEVICE_BINDING, zeep_service
from tests.soapclient import envelope, http_request
from tests.support import Lines

ADMIN, PASSWORD = "admin", "Adm1n-secret-pw"
HANG = 5.0

# Connect from SRC to DST:PORT, ask GetSystemDateAndTime, print the status line or "closed".
PROBE = """
import socket, sys
from tests.soapclient import envelope, http_request
src, dst, port = sys.argv[1:4]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
s.settimeout(5)
s.bind((src, 0))
s.connect((dst, int(port)))
try:
    s.sendall(http_request("/onvif/device_service", envelope("<tds:GetSystemDateAndTime/>")))
    data = s.recv(64)
except ConnectionError:
    data = b""
print(data.split(b"\\r\\n")[0].decode() or "closed")
"""


def ask(family, host, port):
    """The status line of a GetSystemDateAndTime over a fresh connection, or "closed"."""
    with socket.socket(family) as s:
        s.settimeout(HANG)
        s.connect((host, port))
        try:
            s.sendall(http_request("/onvif/device_service",
                                   envelope("<tds:GetSystemDateAndTime/>")))
            data = s.recv(64)
        except ConnectionError:
            data = b""
    return data.split(b"\r\n")[0].decode() or "closed"


def test_the_server_closes_a_refused_connection_without_answering():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    lines = Lines()
    log.set_stream(lines)
    loop = Loop()
    loop.enable_wakeup()
    app = build_app(Device({"name": "t", "hal": "sim"}, Settings(), hostname=lambda: "h"))
    # A dual-stack socket: 127.0.0.1 arrives as ::ffff:127.0.0.1, which the hook must see as it.
    srv = HttpServer(loop, app, bind="::", port=0,
                     admit=lambda peer: peer_address(peer) != parse_ipv4("127.0.0.1"))
    try:
        srv.start()
    except OSError as exc:
        pytest.skip("cannot listen on [::]: %s" % exc)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        assert ask(socket.AF_INET, "127.0.0.1", srv.port) == "closed"
        assert ask(socket.AF_INET, "127.0.0.1", srv.port) == "closed"
        assert ask(socket.AF_INET6, "::1", srv.port) == "HTTP/1.1 200 OK"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        srv.close()
        loop.close()
        log.set_stream(None)
    refusals = [line for line in lines.lines if "IP address filter: refused" in line]
    assert len(refusals) == 1, lines.lines  # the second one within 10 s is only counted
    assert srv.connections == []


def device_service(agent):
    return zeep_service("devicemgmt", DEVICE_BINDING, agent.url, wsse=token()).service


def token():
    from zeep.wsse.username import UsernameToken
    return UsernameToken(ADMIN, PASSWORD, use_digest=True)


def entries(ipfilter):
    return (ipfilter.Type, [(e.Address, e.PrefixLength) for e in ipfilter.IPv4Address],
            [(e.Address, e.PrefixLength) for e in ipfilter.IPv6Address])


def prefixed(*pairs):
    return [{"Address": a, "PrefixLength": n} for a, n in pairs]


def test_zeep_operations_persistence_and_loopback(tmp_path):
    import zeep.exceptions
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, PASSWORD)}
    with AgentProcess(tmp_path, env=env) as agent:
        device = device_service(agent)
        assert device.GetServiceCapabilities().Network.IPFilter is True
        assert entries(device.GetIPAddressFilter()) == ("Deny", [], [])
        # Allow only documentation networks: the loopback caller must still get through.
        device.SetIPAddressFilter(IPAddressFilter={
            "Type": "Allow", "IPv4Address": prefixed(("192.0.2.0", 24)),
            "IPv6Address": prefixed(("2001:DB8::", 32))})
        device.AddIPAddressFilter(IPAddressFilter={
            "Type": "Deny", "IPv4Address": prefixed(("198.51.100.7", 32))})
        device.RemoveIPAddressFilter(IPAddressFilter={
            "Type": "Allow", "IPv4Address": prefixed(("192.0.2.0", 24))})
        assert entries(device.GetIPAddressFilter()) == (
            "Allow", [("198.51.100.7", 32)], [("2001:db8::", 32)])
        for call, entry, subcode in (
                (device.AddIPAddressFilter, {"IPv4Address": prefixed(("1.2.3", 8))},
                 "InvalidIPv4Address"),
                (device.SetIPAddressFilter, {"IPv6Address": prefixed(("::1", 129))},
                 "InvalidIPv6Address"),
                (device.RemoveIPAddressFilter, {"IPv4Address": prefixed(("192.0.2.0", 24))},
                 "NoIPv4Address"),
                (device.RemoveIPAddressFilter, {"IPv6Address": prefixed(("fd00::", 8))},
                 "NoIPv6Address")):
            with pytest.raises(zeep.exceptions.Fault) as fault:
                call(IPAddressFilter=dict(entry, Type="Deny"))
            assert [q.localname for q in fault.value.subcodes] == ["InvalidArgVal", subcode]
    with AgentProcess(tmp_path, env=env) as agent:  # kept across a restart
        assert entries(device_service(agent).GetIPAddressFilter()) == (
            "Allow", [("198.51.100.7", 32)], [("2001:db8::", 32)])


# -- two network namespaces --------------------------------------------------------------------

TAG = "%05d" % (os.getpid() % 100000)
NS_AGENT, NS_CLIENT = "oaf-agent-" + TAG, "oaf-client-" + TAG
AGENT_IF, CLIENT_IF = "of%sa" % TAG, "of%sc" % TAG
AGENT_IP, ALLOWED_IP, DENIED_IP = "10.231.9.1", "10.231.9.2", "10.231.9.3"
AGENT_IP6, ALLOWED_IP6, DENIED_IP6 = "fd00:231:9::1", "fd00:231:9::2", "fd00:231:9::3"


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


@pytest.fixture
def netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("IP FILTER NAMESPACE TEST NOT RUN: it needs root and iproute2 (`ip`) to "
                    "make its own network namespaces")
    made = []
    try:
        for ns in (NS_AGENT, NS_CLIENT):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", AGENT_IF, "type", "veth", "peer", "name", CLIENT_IF)
        for ns, dev, addresses in ((NS_AGENT, AGENT_IF, (AGENT_IP, AGENT_IP6)),
                                   (NS_CLIENT, CLIENT_IF, (ALLOWED_IP, DENIED_IP,
                                                           ALLOWED_IP6, DENIED_IP6))):
            ip("link", "set", dev, "netns", ns)
            for address in addresses:
                if ":" in address:
                    ip("-n", ns, "addr", "add", address + "/64", "dev", dev, "nodad")
                else:
                    ip("-n", ns, "addr", "add", address + "/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
    except subprocess.CalledProcessError as exc:
        remove(made)
        pytest.skip("IP FILTER NAMESPACE TEST NOT RUN: cannot make network namespaces: %s"
                    % exc.stderr.decode().strip())
    yield
    remove(made)


def remove(namespaces):
    for ns in namespaces:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", AGENT_IF], capture_output=True)


def probe(src, dst, port):
    result = subprocess.run(["ip", "netns", "exec", NS_CLIENT, sys.executable, "-c", PROBE,
                             src, dst, str(port)], cwd=ROOT, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_denied_address_is_refused_and_an_allowed_one_served(netns, tmp_path):
    # The filter as SetIPAddressFilter leaves it in the settings file: read at start.
    (tmp_path / "settings.json").write_text(json.dumps({"ip_filter": {
        "type": "Deny", "ipv4": [[DENIED_IP, 32]], "ipv6": [[DENIED_IP6, 128]]}}))
    agent = AgentProcess(tmp_path, bind=None, prefix=("ip", "netns", "exec", NS_AGENT),
                         env={"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, PASSWORD)})
    try:
        assert probe(ALLOWED_IP, AGENT_IP, agent.port) == "HTTP/1.1 200 OK"
        assert probe(DENIED_IP, AGENT_IP, agent.port) == "closed"
        assert probe(ALLOWED_IP6, AGENT_IP6, agent.port) == "HTTP/1.1 200 OK"
        assert probe(DENIED_IP6, AGENT_IP6, agent.port) == "closed"
    finally:
        status, stderr = agent.stop()
    assert "IP address filter: refused" in stderr
