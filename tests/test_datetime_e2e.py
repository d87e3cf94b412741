"""SetSystemDateAndTime through strict zeep against the real agent process (checklist 8.4 #6,
#7): the device clock moves, the host's does not, and WS-Security then follows the device's
clock, as clients that stamp tokens from GetSystemDateAndTime expect."""

import datetime

import pytest

from tests import schema
from tests.agentproc import AgentProcess
from tests.clients import DEVICE_BINDING, EVENT_BINDING, zeep_service
from tests.test_e2e_clients import RecordingTransport

ADMIN, ADMIN_PASSWORD = "admin", "Adm1n-secret-pw"
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def agent(tmp_path):
    env = {"ONVIF_AGENT_ADMIN": "%s:%s" % (ADMIN, ADMIN_PASSWORD)}
    with AgentProcess(tmp_path / "state", env=env) as proc:
        yield proc


def token(created=None):
    from zeep.wsse.username import UsernameToken
    return UsernameToken(ADMIN, ADMIN_PASSWORD, use_digest=True, created=created)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def device_time(value):
    return datetime.datetime(value.Date.Year, value.Date.Month, value.Date.Day,
                             value.Time.Hour, value.Time.Minute, value.Time.Second,
                             tzinfo=datetime.timezone.utc)


def test_manual_time_one_hour_ahead(agent):
    transport = RecordingTransport()

    def device(wsse=None):
        return zeep_service("devicemgmt", DEVICE_BINDING, agent.url, transport=transport,
                            wsse=wsse).service
    ahead = (utc_now() + HOUR).replace(microsecond=0)
    device(token()).SetSystemDateAndTime(
        DateTimeType="Manual", DaylightSavings=True,
        TimeZone={"TZ": "CET-1CEST,M3.5.0,M10.5.0/3"},
        UTCDateTime={"Date": {"Year": ahead.year, "Month": ahead.month, "Day": ahead.day},
                     "Time": {"Hour": ahead.hour, "Minute": ahead.minute,
                              "Second": ahead.second}})

    sdt = device().GetSystemDateAndTime()  # PRE_AUTH: no token
    assert (sdt.DateTimeType, sdt.TimeZone.TZ) == ("Manual", "CET-1CEST,M3.5.0,M10.5.0/3")
    reported = device_time(sdt.UTCDateTime)
    assert abs((reported - ahead).total_seconds()) < 30
    local = device_time(sdt.LocalDateTime) - reported
    assert local == (2 * HOUR if sdt.DaylightSavings else HOUR)
    assert abs((utc_now() + HOUR - reported).total_seconds()) < 30, "the host clock is untouched"

    # UsernameToken freshness is judged on the device clock: a token stamped with the host's
    # time is an hour old there; one stamped with the reported time is fresh.
    import zeep.exceptions
    with pytest.raises(zeep.exceptions.Fault):
        device(token()).GetDeviceInformation()
    skew = reported - utc_now()
    assert device(token(created=utc_now() + skew)).GetDeviceInformation().FirmwareVersion

    events = zeep_service("event", EVENT_BINDING, agent.url.replace("device", "event"),
                          transport=transport, wsse=token(created=utc_now() + skew)).service
    topics = events.GetEventProperties().TopicSet._value_1
    assert "{http://www.onvif.org/ver10/topics}Monitoring" in [t.tag for t in topics]
    for body in transport.received:
        schema.validate_envelope(body)


def test_ntp_without_servers_is_refused(agent):
    import zeep.exceptions
    device = zeep_service("devicemgmt", DEVICE_BINDING, agent.url, wsse=token()).service
    with pytest.raises(zeep.exceptions.Fault) as info:
        device.SetSystemDateAndTime(DateTimeType="NTP", DaylightSavings=False)
    assert info.value.subcodes[-1].localname == "NtpServerUndefined"
    assert device.GetSystemDateAndTime().DateTimeType == "Manual"
