"""The UsernameToken verifier against tokens rendered by real client code (CPython only).

zeep's `UsernameToken` and onvif-zeep-async's `UsernameDigestTokenDtDiff` (the class Home
Assistant's ONVIF integration authenticates with) are applied to an envelope built from the
official devicemgmt.wsdl, serialized, and read back through the agent's envelope reader. The
Created parser is also cross-checked against the datetime module here, since MicroPython has none.
"""

import base64
import datetime as dt
import random
import time

import pytest
from lxml import etree
from onvif.client import UsernameDigestTokenDtDiff
from zeep.wsse.username import UsernameToken

from agent.datetimes import parse_datetime
from agent.soap import SoapFault, read_envelope
from agent.wsse import PASSWORD_DIGEST, WSSE, WSU, UsernameTokenVerifier
from tests.clients import DEVICE_BINDING, zeep_service

USERS = {"admin": "s3cret"}


@pytest.fixture(scope="module")
def render():
    """render(wsse) -> the request bytes zeep sends for GetUsers with that wsse plugin."""
    client = zeep_service("devicemgmt", DEVICE_BINDING, "http://192.0.2.10/onvif/device_service")

    def message(wsse):
        client.wsse = wsse
        return etree.tostring(client.create_message(client.service, "GetUsers"))
    return message


def security_of(data):
    envelope = read_envelope(data, understood=[(WSSE, "Security")])
    return envelope.header(WSSE, "Security")


def verifier(skew_s=0.0):
    """A verifier whose clock runs `skew_s` seconds ahead of the host's."""
    return UsernameTokenVerifier(USERS.get, clock=lambda: time.time() + skew_s)


def token_fields(data):
    """(Created text, decoded nonce length, Password Type) of the token in `data`."""
    root = etree.fromstring(data)
    token = root.find(".//{%s}UsernameToken" % WSSE)
    nonce = token.findtext("{%s}Nonce" % WSSE)
    return (token.findtext("{%s}Created" % WSU), nonce and len(base64.b64decode(nonce)),
            token.find("{%s}Password" % WSSE).get("Type"))


def test_zeep_digest_token(render):
    data = render(UsernameToken("admin", "s3cret", use_digest=True))
    created, nonce_len, kind = token_fields(data)
    # What zeep sends: 16 random nonce bytes, Created in whole seconds with a numeric offset.
    assert (nonce_len, kind) == (16, PASSWORD_DIGEST)
    assert created.endswith("+00:00") and "." not in created
    assert verifier().verify(security_of(data)) == "admin"


def test_onvif_zeep_async_digest_token(render):
    data = render(UsernameDigestTokenDtDiff("admin", "s3cret", use_digest=True))
    created, nonce_len, kind = token_fields(data)
    # onvif-zeep-async switches zeep to Zulu timestamps (some firmwares refuse "+00:00").
    assert (nonce_len, kind) == (16, PASSWORD_DIGEST)
    assert created.endswith("Z") and "." not in created
    assert verifier().verify(security_of(data)) == "admin"


def test_onvif_zeep_async_corrects_its_clock(render):
    """The client adds the offset it measured with GetSystemDateAndTime (a PRE_AUTH call)."""
    skew = dt.timedelta(hours=2)
    data = render(UsernameDigestTokenDtDiff("admin", "s3cret", dt_diff=skew, use_digest=True))
    assert verifier(skew.total_seconds()).verify(security_of(data)) == "admin"
    with pytest.raises(SoapFault) as caught:
        verifier().verify(security_of(data))
    assert "stale" in caught.value.log_reason


def _tampered(data, qname, change):
    root = etree.fromstring(data)
    element = root.find(".//" + qname)
    element.text = change(element.text)
    return etree.tostring(root)


@pytest.mark.parametrize("qname, change", [
    ("{%s}Password" % WSSE, lambda t: ("B" if t[0] == "A" else "A") + t[1:]),
    ("{%s}Nonce" % WSSE, lambda t: ("B" if t[0] == "A" else "A") + t[1:]),
    ("{%s}Created" % WSU, lambda t: t[:18] + str((int(t[18]) + 1) % 10) + t[19:]),  # +1 s
    ("{%s}Username" % WSSE, lambda t: t + "x"),
])
def test_tampered_tokens_fail(render, qname, change):
    for wsse in (UsernameToken("admin", "s3cret", use_digest=True),
                 UsernameDigestTokenDtDiff("admin", "s3cret", use_digest=True)):
        data = render(wsse)
        v = verifier()
        tampered = _tampered(data, qname, change)
        assert tampered != data
        with pytest.raises(SoapFault) as caught:
            v.verify(security_of(tampered))
        assert caught.value.reason == "Sender not Authorized"
        assert v.verify(security_of(data)) == "admin"  # the untouched original still passes


def test_replayed_message_fails(render):
    data = render(UsernameDigestTokenDtDiff("admin", "s3cret", use_digest=True))
    v = verifier()
    assert v.verify(security_of(data)) == "admin"
    with pytest.raises(SoapFault) as caught:
        v.verify(security_of(data))
    assert "replayed" in caught.value.log_reason


def test_wrong_password_fails(render):
    data = render(UsernameDigestTokenDtDiff("admin", "guess", use_digest=True))
    with pytest.raises(SoapFault):
        verifier().verify(security_of(data))


@pytest.mark.parametrize("wsse", [UsernameToken("admin", "s3cret"),
                                  UsernameDigestTokenDtDiff("admin", "s3cret", use_digest=False)])
def test_their_password_text_tokens_lack_nonce_and_created(render, wsse):
    """Both libraries send PasswordText without Nonce and Created, which ONVIF requires: refused
    even over TLS (onvif-zeep-async's ONVIFCamera(encrypt=False) cannot authenticate here)."""
    data = render(wsse)
    assert token_fields(data) == (None, None, PASSWORD_DIGEST.replace("Digest", "Text"))
    with pytest.raises(SoapFault) as caught:
        UsernameTokenVerifier(USERS.get, clock=time.time, allow_text=True).verify(
            security_of(data), secure_transport=True)
    assert "Nonce" in caught.value.log_reason


def test_parse_created_agrees_with_datetime():
    rng = random.Random(7)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    checked = 0
    for _ in range(20000):
        # Fields a little beyond their ranges, so invalid dates are generated too.
        fields = (rng.randrange(0, 10000), rng.randrange(0, 14), rng.randrange(0, 33),
                  rng.randrange(0, 25), rng.randrange(0, 61), rng.randrange(0, 61))
        minutes = rng.choice([0, rng.randrange(-14 * 60, 14 * 60 + 1)])
        text = "%04d-%02d-%02dT%02d:%02d:%02d" % fields
        if rng.random() < 0.5:
            text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 12)))
        if minutes == 0 and rng.random() < 0.5:
            text += "Z"
        else:
            text += "%s%02d:%02d" % ("-" if minutes < 0 else "+", abs(minutes) // 60,
                                     abs(minutes) % 60)
        try:
            moment = dt.datetime(*fields, tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))
        except ValueError:
            assert parse_datetime(text) is None, text
            continue
        assert parse_datetime(text) == (moment - epoch) // dt.timedelta(seconds=1), text
        checked += 1
    assert checked > 10000
