"""System maintenance against the real agent process, through strict zeep on the official
WSDLs and `requests` (checklist 8.4 #2, #5, #8, #13): SystemReboot restarts the process in
place (same PID, same port, answering again), a Hard factory default replaces the
administrator's password with a new one in STATE and forgets the configuration, and an HTTP
backup restored through StartSystemRestore brings the configuration back; a bad upload is 415
and the agent does not restart."""

import socket
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests import schema
from tests.agentproc import URL, AgentProcess
from tests.clients import DEVICE_BINDING, zeep_service
from tests.test_e2e_clients import RecordingTransport

ADMIN, ADMIN_PASSWORD = "admin", "Adm1n-secret-pw"
LAB = "onvif://www.onvif.org/location/lab"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(state_dir, admin=True):
    """An agent on a fixed HTTP port (a restart must find it on the same one), HTTPS off."""
    # An empty ONVIF_AGENT_ADMIN: a generated password, as on a device's first start.
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD) if admin else ""}
    return AgentProcess(state_dir, "--http-port", str(free_port()), "--https-port", "off",
                        env=env)


def restarted(agent, timeout_s=20):
    """The lines the restarted process printed, up to its device service URL (same PID)."""
    lines = []
    deadline = time.monotonic() + timeout_s
    for line in agent.proc.stdout:
        lines.append(line)
        match = URL.search(line)
        if match and match.group(2) == "http":
            assert match.group(1) == agent.url, "the restart serves the same URL"
            return lines
        assert time.monotonic() < deadline
    raise AssertionError("the agent did not come back: %s" % agent.proc.stderr.read())


def device(agent, password=ADMIN_PASSWORD, transport=None):
    from zeep.wsse.username import UsernameToken
    return zeep_service("devicemgmt", DEVICE_BINDING, agent.url,
                        transport=transport or RecordingTransport(),
                        wsse=UsernameToken(ADMIN, password, use_digest=True)).service


def scopes(service):
    return [s.ScopeItem for s in service.GetScopes()]


@pytest.fixture
def agent(tmp_path):
    with start(tmp_path / "state") as proc:
        yield proc


def test_system_reboot_restarts_the_process_in_place(agent):
    transport = RecordingTransport()
    pid = agent.proc.pid
    message = device(agent, transport=transport).SystemReboot()
    assert message
    lines = restarted(agent)
    assert agent.proc.poll() is None and agent.proc.pid == pid
    assert any(line.startswith("onvif-agent ") for line in lines)
    info = device(agent, transport=transport).GetDeviceInformation()
    assert info.FirmwareVersion
    for body in transport.received:
        schema.validate_envelope(body)
    status, stderr = agent.stop()
    assert "restarting (reboot)" in stderr
    # WS-Discovery said Bye (its stop) before the restart, and again at the end.
    assert stderr.count("WS-Discovery stopped") == 2, stderr


def test_hard_factory_default_makes_a_new_administrator(tmp_path):
    state = tmp_path / "state"
    with start(state, admin=False) as agent:
        old_password = (state / "initial-admin-password").read_text().strip()
        service = device(agent, old_password)
        uuid = service.GetEndpointReference().GUID
        service.SetScopes([LAB])
        assert LAB in scopes(service)
        assert service.SetSystemFactoryDefault("Hard") is None
        lines = restarted(agent)
        new_password = (state / "initial-admin-password").read_text().strip()
        assert new_password != old_password
        assert any(new_password in line for line in lines)  # shown once, as on a first start
        import zeep.exceptions
        with pytest.raises(zeep.exceptions.Fault):
            device(agent, old_password).GetScopes()
        service = device(agent, new_password)
        assert LAB not in scopes(service)
        assert service.GetEndpointReference().GUID == uuid  # identity survives
        assert not (state / "maintenance.pending").exists()


def test_backup_then_restore_brings_the_configuration_back(agent):
    transport = RecordingTransport()
    service = device(agent, transport=transport)
    uris = service.GetSystemUris()
    service.SetScopes([LAB])
    auth = HTTPDigestAuth(ADMIN, ADMIN_PASSWORD)
    response = requests.get(uris.SystemBackupUri, auth=auth, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    archive = response.content
    assert requests.get(uris.SystemBackupUri, timeout=10).status_code == 401
    log = requests.get(uris.SystemLogUris.SystemLog[1].Uri, auth=auth, timeout=10)
    assert "GetSystemUris" in log.text  # the access log, over HTTP

    service.SetScopes(["onvif://www.onvif.org/location/elsewhere"])
    pid = agent.proc.pid
    restore = service.StartSystemRestore()
    assert restore.ExpectedDownTime
    headers = {"Content-Type": "application/octet-stream"}
    bad = requests.post(service.StartSystemRestore().UploadUri, data=archive[:-10],
                        headers=headers, auth=auth, timeout=10)
    assert bad.status_code == 415
    assert LAB not in scopes(device(agent)), "a refused archive changed nothing"
    good = requests.post(restore.UploadUri, data=archive, headers=headers, auth=auth,
                         timeout=10)
    assert good.status_code == 200
    restarted(agent)
    assert agent.proc.pid == pid
    assert LAB in scopes(device(agent, transport=transport))
    for body in transport.received:
        schema.validate_envelope(body)
