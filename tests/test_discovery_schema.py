"""Every WS-Discovery message agent/discovery.py writes, against the official schemas and the
PyPI `wsdiscovery` package's own parser and builder (checklist 7; clients.md item 7)."""

import pytest
from wsdiscovery.actions import constructProbe, constructResolve
from wsdiscovery.message import createSOAPMessage, parseSOAPMessage
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope

from agent import discovery
from agent.discovery import D, TDS
from tests.schema import NS, body_child, fault_codes, validate_envelope
from tests.test_discovery import ENDPOINT, LOCAL, SCOPES, SOURCE, make, resolve, scopes_probe

UNICAST = False


def reply(d, data, multicast=UNICAST):
    (send,) = d.receive(data, SOURCE, [LOCAL], multicast)
    return send.data


def wsd_probe(types=(), scopes=()):
    """A Probe as wsdiscovery's client sends it."""
    return createSOAPMessage(constructProbe(list(types), list(scopes))).encode()


@pytest.fixture
def d():
    return make()


def test_probe_matches_validate(d):
    root = validate_envelope(reply(d, scopes_probe("onvif://www.onvif.org/hardware")))
    assert body_child(root).tag == "{%s}ProbeMatches" % D


def test_resolve_matches_validate(d):
    root = validate_envelope(reply(d, resolve(ENDPOINT)))
    assert body_child(root).tag == "{%s}ResolveMatches" % D


def test_hello_and_bye_validate(d):
    assert body_child(validate_envelope(d.hello([LOCAL]).data)).tag == "{%s}Hello" % D
    assert body_child(validate_envelope(d.bye().data)).tag == "{%s}Bye" % D


def test_matching_rule_fault_validates(d):
    root = validate_envelope(reply(d, scopes_probe("ldap:///ou=x", D + "/ldap")))
    assert fault_codes(root) == ((NS["env"], "Sender"), [(D, "MatchingRuleNotSupported")])
    rules = root.find("{%s}Body/{%s}Fault/{%s}Detail/{%s}SupportedMatchingRules"
                      % (NS["env"], NS["env"], NS["env"], D))
    assert rules.text.split() == list(discovery.MATCHING_RULES)


def test_no_scopes_and_no_xaddrs_still_validate():
    d = make(scopes=lambda: [], xaddrs=lambda local: [])
    validate_envelope(reply(d, resolve(ENDPOINT)))
    validate_envelope(reply(d, scopes_probe("")))
    validate_envelope(d.hello([LOCAL]).data)


def test_wsdiscovery_parses_our_probe_matches(d):
    env = parseSOAPMessage(reply(d, wsd_probe()), SOURCE[0])
    assert env is not None and env.getAction() == D + "/ProbeMatches"
    (match,) = env.getProbeResolveMatches()
    assert match.getEPR() == ENDPOINT
    assert [(t.getNamespace(), t.getLocalname()) for t in match.getTypes()] == [(TDS, "Device")]
    assert [s.getValue() for s in match.getScopes()] == [s.replace("%20", " ") for s in SCOPES]
    assert match.getXAddrs()[0] == "http://%s:8080/onvif/device_service" % LOCAL
    assert match.getMetadataVersion() == "3"
    assert env.getInstanceId() == "42" and env.getMessageNumber() == "1"


def test_wsdiscovery_parses_our_resolve_matches_hello_and_bye(d):
    resolve_env = createSOAPMessage(constructResolve(ENDPOINT)).encode()
    env = parseSOAPMessage(reply(d, resolve_env), SOURCE[0])
    assert env.getAction() == D + "/ResolveMatches"
    assert env.getProbeResolveMatches()[0].getEPR() == ENDPOINT
    hello = parseSOAPMessage(d.hello([LOCAL]).data, LOCAL)
    assert hello.getAction() == D + "/Hello" and hello.getEPR() == ENDPOINT
    bye = parseSOAPMessage(d.bye().data, LOCAL)
    assert bye.getAction() == D + "/Bye" and bye.getEPR() == ENDPOINT


@pytest.mark.parametrize("types, scopes, answered", [
    ((), (), True),
    ([QName(TDS, "Device")], (), True),
    ([QName(TDS, "Device", "x")], [Scope("onvif://www.onvif.org/name/Front Door")], True),
    ([QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")], (), False),
    ((), [Scope("onvif://www.onvif.org/Profile/Streaming")], False),
    ((), [Scope("onvif://www.onvif.org/hardware/D1-566", D + "/strcmp0")], True),
])
def test_probes_built_by_wsdiscovery(d, types, scopes, answered):
    data = wsd_probe(types, scopes)
    sends = d.receive(data, SOURCE, [LOCAL], True)
    assert len(sends) == (1 if answered else 0), data
    if answered:
        root = validate_envelope(sends[0].data)
        relates_to = root.find("{%s}Header/{%s}RelatesTo" % (NS["env"], NS["wsadis"])).text
        assert relates_to == parseSOAPMessage(data, SOURCE[0]).getMessageId()
