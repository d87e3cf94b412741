"""SetNetworkProtocols over real listening sockets on loopback (checklist 8.3 #12, #13;
agent.protocols): new sockets bound first, the old ones closed only after the response, on the
loop; PortAlreadyInUse changing nothing; HTTPS only with TLS; the lock-out refused; persisted
ports and the CLI's precedence at the next start."""

import socket
from types import SimpleNamespace

import pytest

from agent import cli, compat, log
from agent.app import build_app
from agent.device import Device
from agent.loop import Loop
from agent.protocols import Listeners, stored
from agent.settings import Settings
from tests.soapclient import TDS, TT, InMemoryClient
from tests.support import AllowAll, Quiet

BOARD = {"name": "test", "hal": "sim"}


def protocol(name, enabled, *ports):
    return ("<tds:NetworkProtocols><tt:Name>%s</tt:Name><tt:Enabled>%s</tt:Enabled>%s"
            "</tds:NetworkProtocols>" % (name, enabled,
                                         "".join("<tt:Port>%s</tt:Port>" % p for p in ports)))


def set_protocols(*entries):
    return "<tds:SetNetworkProtocols>%s</tds:SetNetworkProtocols>" % "".join(entries)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def rig(tmp_path):
    log.set_stream(Quiet())
    loop = Loop()
    device = Device(BOARD, Settings(str(tmp_path)))
    app = build_app(device, policy=AllowAll())
    announced = []
    # A stand-in TLS context: HTTPS sockets are only bound here, never handshaken.
    listeners = Listeners(loop, device, app, bind="127.0.0.1", tls_context=object(),
                          on_change=lambda: announced.append(device.http_port))
    listeners.start({"HTTP": 0, "HTTPS": 0})
    device.protocols = listeners
    client = InMemoryClient(app)
    yield SimpleNamespace(loop=loop, device=device, listeners=listeners, client=client,
                          announced=announced, dir=str(tmp_path))
    listeners.close()
    loop.close()
    log.set_stream(None)


def get(rig):
    r = rig.client.call("<tds:GetNetworkProtocols/>")
    assert r.status == 200, r.body
    return [(p.findtext(TT, "Name"), p.findtext(TT, "Enabled"), int(p.findtext(TT, "Port")))
            for p in r.body_child.findall(TDS, "NetworkProtocols")]


def fault(rig, body):
    r = rig.client.call(body)
    assert r.status in (400, 500), r.body
    return r.fault()


def test_moving_http_binds_first_and_closes_the_old_socket_after_the_response(rig):
    old = rig.device.http_port
    new = free_port()
    r = rig.client.call(set_protocols(protocol("HTTP", "true", new)))
    assert r.status == 200, r.body
    assert listening(new)
    assert listening(old), "the old socket stays until the response has left"
    assert rig.announced == []
    rig.loop.run_once(0)
    assert not listening(old)
    assert rig.device.http_port == new
    assert len(rig.announced) == 1  # discovery's Hello with the new XAddrs
    assert get(rig) == [("HTTP", "true", new), ("HTTPS", "true", rig.device.https_port)]
    assert stored(rig.device.settings) == {"HTTP": (True, new),
                                           "HTTPS": (True, rig.device.https_port)}


def test_a_busy_port_changes_nothing(rig):
    before = get(rig)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        assert fault(rig, set_protocols(protocol("HTTP", "true", busy))) == (
            "Sender", ["InvalidArgVal", "PortAlreadyInUse"])
        # Both change, the second cannot: the first's new socket is released again.
        other = free_port()
        assert fault(rig, set_protocols(protocol("HTTP", "true", other),
                                        protocol("HTTPS", "true", busy))) == (
            "Sender", ["InvalidArgVal", "PortAlreadyInUse"])
        assert not listening(other)
    assert get(rig) == before
    assert stored(rig.device.settings) == {}
    # HTTP and HTTPS on one port.
    assert fault(rig, set_protocols(protocol("HTTPS", "true", rig.device.http_port))) == (
        "Sender", ["InvalidArgVal", "PortAlreadyInUse"])


def test_https_off_and_on_again(rig):
    https = rig.device.https_port
    assert rig.client.call(set_protocols(protocol("HTTPS", "false", https))).status == 200
    rig.loop.run_once(0)
    assert not listening(https)
    assert rig.device.https_port is None
    assert get(rig)[1] == ("HTTPS", "false", https)
    port = free_port()
    assert rig.client.call(set_protocols(protocol("HTTPS", "true", port))).status == 200
    assert listening(port)
    assert rig.device.https_port == port


def test_refused_requests(rig):
    port = rig.device.http_port
    for entries, expected in (
            ((protocol("RTSP", "true", 554),), ("Sender", ["InvalidArgVal",
                                                          "ServiceNotSupported"])),
            ((protocol("FTP", "true", 21),), ("Sender", ["InvalidArgVal",
                                                        "ServiceNotSupported"])),
            ((protocol("HTTP", "true", 0),), ("Sender", ["InvalidArgVal"])),
            ((protocol("HTTP", "true", 65536),), ("Sender", ["InvalidArgVal"])),
            ((protocol("HTTP", "true", 8080, 8081),), ("Sender", ["InvalidArgVal"])),
            ((protocol("HTTP", "false", port), protocol("HTTPS", "false", 1)),
             ("Sender", ["InvalidArgVal"]))):
        assert fault(rig, set_protocols(*entries)) == expected, entries
    assert listening(port)


def test_https_needs_tls(tmp_path):
    log.set_stream(Quiet())
    loop = Loop()
    device = Device(BOARD, Settings(str(tmp_path)))
    app = build_app(device, policy=AllowAll())
    listeners = Listeners(loop, device, app, bind="127.0.0.1")
    listeners.start({"HTTP": 0, "HTTPS": None})
    device.protocols = listeners
    client = InMemoryClient(app)
    try:
        r = client.call(set_protocols(protocol("HTTPS", "true", free_port())))
        assert r.fault() == ("Receiver", ["ActionNotSupported", "EnablingTlsFailed"])
        # HTTP cannot go off either: HTTPS cannot take over.
        r = client.call(set_protocols(protocol("HTTP", "false", device.http_port)))
        assert r.fault() == ("Sender", ["InvalidArgVal"])
        r = client.call("<tds:GetNetworkProtocols/>")
        assert [p.findtext(TT, "Name") for p in r.body_child.children] == ["HTTP"]
    finally:
        listeners.close()
        loop.close()
        log.set_stream(None)


def test_start_precedence(tmp_path):
    settings = Settings(str(tmp_path))
    tls = object()
    default = 80 if compat.is_root() else 8080
    assert cli.listening_ports({}, settings, 8443, tls) == (default, 8443)
    settings.update(net_protocols={"HTTP": {"enabled": True, "port": 8100},
                                   "HTTPS": {"enabled": False, "port": 8543}})
    assert cli.listening_ports({}, settings, 8443, tls) == (8100, None)
    # The command line wins.
    assert cli.listening_ports({"http-port": 9000, "https-port": 9443}, settings, 9443,
                               tls) == (9000, 9443)
    settings.update(net_protocols={"HTTP": {"enabled": False, "port": 8100},
                                   "HTTPS": {"enabled": True, "port": 8543}})
    assert cli.listening_ports({}, settings, 8443, tls) == (None, 8543)
    # HTTP off and no TLS this time: HTTP comes back rather than lock everyone out.
    assert cli.listening_ports({}, settings, None, None) == (8100, None)


def test_a_busy_port_at_start_is_one_error(tmp_path):
    loop = Loop()
    device = Device(BOARD, Settings(str(tmp_path)))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        listeners = Listeners(loop, device, None, bind="127.0.0.1")
        with pytest.raises(cli.ConfigError) as caught:
            listeners.start({"HTTP": held.getsockname()[1]})
        assert "port %d" % held.getsockname()[1] in str(caught.value)
    assert listeners.all_servers() == []
    loop.close()
