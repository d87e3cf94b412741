"""The rest of the device service through strict zeep (the official WSDLs) against the real agent
process on the desktop board: logs and support information (checklist 8.4 #11, #12), auxiliary
commands reaching the simulated relay (8.6), the 802.11 operations' faults (8.3 #22), scopes and
discovery mode (8.4 #14-#19) and SetUser (8.5). Every response is schema-validated by the rig."""

import requests

from tests.test_datetime_e2e import ADMIN
from tests.test_deviceio_e2e import sim
from tests.test_network_e2e import rig, subcode  # noqa: F401 (rig is a fixture)


def test_system_log_access_log_and_support_information(rig):
    agent, device = rig
    tds = device()
    tds.GetDeviceInformation()
    refused = requests.post(agent.url, data=b"<not-soap", timeout=10,
                            headers={"Content-Type": "application/soap+xml"})
    assert refused.status_code == 400
    system = tds.GetSystemLog(LogType="System").String
    assert "refused request to /onvif/device_service" in system, system
    access = tds.GetSystemLog(LogType="Access").String.splitlines()
    assert any((" %s device GetDeviceInformation 200" % ADMIN) in line for line in access), access
    info = tds.GetSystemSupportInformation().String
    assert "desktop" in info, info
    assert subcode(tds.GetSystemLog, LogType="Kernel") == "InvalidArgVal"


def test_auxiliary_commands_drive_the_boards_relay(rig):
    agent, device = rig
    tds = device()
    assert "R2=open" in sim(agent, "state")
    tds.SendAuxiliaryCommand(AuxiliaryCommand="Buzzer|On")
    assert "R2=closed" in sim(agent, "state")
    tds.SendAuxiliaryCommand(AuxiliaryCommand="Buzzer|Off")
    assert "R2=open" in sim(agent, "state")
    assert subcode(tds.SendAuxiliaryCommand, AuxiliaryCommand="Siren|On") == \
        "AuxiliaryDataNotSupported"


def test_no_wifi_on_the_desktop_board(rig):
    agent, device = rig
    tds = device()
    assert subcode(tds.GetDot11Status, InterfaceToken="eth0") == "InvalidDot11"
    assert subcode(tds.ScanAvailableDot11Networks, InterfaceToken="eth0") == "InvalidDot11"


def test_scopes_discovery_mode_and_set_user(rig):
    agent, device = rig
    tds = device()
    tds.AddScopes(ScopeItem=["onvif://www.onvif.org/location/lobby"])
    assert "onvif://www.onvif.org/location/lobby" in [s.ScopeItem for s in tds.GetScopes()]
    assert tds.RemoveScopes(ScopeItem=["onvif://www.onvif.org/location/lobby"]) == [
        "onvif://www.onvif.org/location/lobby"]
    assert subcode(tds.RemoveScopes, ScopeItem=["onvif://www.onvif.org/location/lobby"]) == \
        "NoScope"
    tds.SetDiscoveryMode(DiscoveryMode="NonDiscoverable")
    assert tds.GetDiscoveryMode() == "NonDiscoverable"
    tds.CreateUsers(User=[{"Username": "guard", "Password": "Guard-pw-123", "UserLevel": "User"}])
    tds.SetUser(User=[{"Username": "guard", "Password": "Guard-pw-456", "UserLevel": "Operator"}])
    assert [(u.Username, u.UserLevel) for u in tds.GetUsers() if u.Username == "guard"] == [
        ("guard", "Operator")]
    assert subcode(tds.SetUser, User=[{"Username": "nobody", "Password": "Nobody-pw-1",
                                       "UserLevel": "User"}]) == "UsernameMissing"
