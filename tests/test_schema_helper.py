"""The schema validator and the offline zeep clients: they accept valid messages and, above all,
reject invalid ones - a validator that never fails would make every other test worthless."""

import socket
import types

import pytest
from lxml import etree

from tests.clients import (
    DEVICE_BINDING, DEVICEIO_BINDING, EVENT_BINDING, PULLPOINT_SUBSCRIPTION_BINDING,
    SUBSCRIPTION_MANAGER_BINDING, OfflineTransport, offline_transport, zeep_service)
from tests.schema import NS, body_child, fault_codes, validate_envelope, validate_response

DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
PREFIXES = " ".join(
    f'xmlns:{p}="{NS[p]}"' for p in ("env", "tds", "tmd", "tev", "tt", "wsnt", "wsa"))
EVENTS = "http://www.onvif.org/ver10/events/wsdl/"
TDS_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
ADDRESS = "http://192.0.2.1/onvif/device_service"


def envelope(body, header=""):
    header = f"<env:Header>{header}</env:Header>" if header else ""
    text = f"<env:Envelope {PREFIXES}>{header}<env:Body>{body}</env:Body></env:Envelope>"
    return DECL + text.encode()


def fault(ter=f'xmlns:ter="{NS["ter"]}"', lang=' xml:lang="en"'):
    return envelope(
        f"<env:Fault {ter}><env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
        "<env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason>"
        f"<env:Text{lang}>Sender not Authorized</env:Text></env:Reason></env:Fault>")


DATE_TIME = envelope(
    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
    "<tt:UTCDateTime><tt:Time><tt:Hour>12</tt:Hour><tt:Minute>30</tt:Minute>"
    "<tt:Second>5</tt:Second></tt:Time><tt:Date><tt:Year>2024</tt:Year><tt:Month>5</tt:Month>"
    "<tt:Day>17</tt:Day></tt:Date></tt:UTCDateTime>"
    "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

NAMESPACE = f"<tds:Namespace>{TDS_DEVICE}</tds:Namespace>"
XADDR = f"<tds:XAddr>{ADDRESS}</tds:XAddr>"
VERSION = "<tds:Version><tt:Major>16</tt:Major><tt:Minor>6</tt:Minor></tds:Version>"


def services(*children):
    return envelope(f"<tds:GetServicesResponse><tds:Service>{''.join(children)}</tds:Service>"
                    "</tds:GetServicesResponse>")


def device_information(hardware_id="<tds:HardwareId>1.0</tds:HardwareId>"):
    return envelope(
        "<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme</tds:Manufacturer>"
        "<tds:Model>Door 1</tds:Model><tds:FirmwareVersion>0.1</tds:FirmwareVersion>"
        f"<tds:SerialNumber>42</tds:SerialNumber>{hardware_id}"
        "</tds:GetDeviceInformationResponse>")


def pull_messages(utc_time=' UtcTime="2024-05-17T12:30:05Z"'):
    return envelope(
        "<tev:PullMessagesResponse><tev:CurrentTime>2024-05-17T12:30:05Z</tev:CurrentTime>"
        "<tev:TerminationTime>2024-05-17T12:31:05Z</tev:TerminationTime>"
        "<wsnt:NotificationMessage>"
        '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet" '
        'xmlns:tns1="http://www.onvif.org/ver10/topics">tns1:Device/Trigger/DigitalInput'
        "</wsnt:Topic><wsnt:Message>"
        f'<tt:Message{utc_time}><tt:Source><tt:SimpleItem Name="InputToken" Value="DI0"/>'
        '</tt:Source><tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data>'
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse>",
        header=f"<wsa:Action>{EVENTS}PullPointSubscription/PullMessagesResponse</wsa:Action>")


# -- valid -----------------------------------------------------------------------------------------

def test_system_date_and_time_response():
    root = validate_response(DATE_TIME)
    assert body_child(root).tag == f"{{{NS['tds']}}}GetSystemDateAndTimeResponse"


def test_get_services_response():
    validate_response(services(NAMESPACE, XADDR, VERSION))


def test_fault_not_authorized():
    root = validate_response(fault())
    assert fault_codes(root) == ((NS["env"], "Sender"), [(NS["ter"], "NotAuthorized")])


def test_event_service_capabilities_with_wsa_header():
    validate_response(envelope(
        '<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false"'
        ' WSPausableSubscriptionManagerInterfaceSupport="false" MaxPullPoints="2"/>'
        "</tev:GetServiceCapabilitiesResponse>",
        header=f"<wsa:Action>{EVENTS}EventPortType/GetServiceCapabilitiesResponse</wsa:Action>"))


def test_pull_messages_response():
    validate_response(pull_messages())


# -- invalid ---------------------------------------------------------------------------------------

def test_missing_required_element():
    validate_response(device_information())
    with pytest.raises(AssertionError, match="Tag 'tds:HardwareId' expected"):
        validate_response(device_information(hardware_id=""))


def test_elements_out_of_order():
    with pytest.raises(AssertionError, match="Unexpected child with tag 'tds:XAddr'"):
        validate_response(services(XADDR, NAMESPACE, VERSION))


def test_tt_message_inside_lax_wildcard_is_validated():
    # wsnt:Message is xs:any lax: only a schema set that also knows tt:Message checks it.
    with pytest.raises(AssertionError, match="tt:Message: missing required attribute 'UtcTime'"):
        validate_response(pull_messages(utc_time=""))


def test_element_in_wrong_namespace():
    # deviceio.wsdl uses tds:GetRelayOutputsResponse; there is no tmd: one.
    with pytest.raises(AssertionError, match="GetRelayOutputsResponse: no schema declares"):
        validate_response(envelope("<tmd:GetRelayOutputsResponse/>"))


def test_unknown_namespace_body_child():
    with pytest.raises(AssertionError, match="no schema declares"):
        validate_response(envelope('<x:Thing xmlns:x="urn:example:x"/>'))


def test_unknown_header_block():
    with pytest.raises(AssertionError, match="env:Header/.*no schema declares"):
        validate_response(envelope("<tds:GetSystemDateAndTime/>",
                                   header='<x:Trace xmlns:x="urn:example:x"/>'))


def test_two_body_children():
    with pytest.raises(AssertionError, match="exactly one element, has 2"):
        validate_response(envelope("<tds:GetSystemDateAndTime/><tds:GetSystemDateAndTime/>"))


@pytest.mark.parametrize("prefix", [b" ", b"\n", b"\xef\xbb\xbf"], ids=["space", "newline", "bom"])
def test_bytes_before_xml(prefix):
    with pytest.raises(AssertionError, match="must start with"):
        validate_response(prefix + DATE_TIME)


def test_soap11_envelope():
    soap11 = DATE_TIME.replace(NS["env"].encode(), b"http://schemas.xmlsoap.org/soap/envelope/")
    with pytest.raises(AssertionError, match="SOAP 1.1"):
        validate_response(soap11)


def test_dtd_rejected():
    with pytest.raises(AssertionError, match="DTDForbidden"):
        validate_response(DECL + b"<!DOCTYPE x []>" + DATE_TIME[len(DECL):])


def test_fault_subcode_prefix_undeclared():
    with pytest.raises(AssertionError, match="unmapped prefix 'ter'"):
        validate_response(fault(ter=""))


def test_fault_ter_prefix_wrong_namespace():
    with pytest.raises(AssertionError, match="prefix ter is bound to 'urn:wrong'"):
        validate_response(fault(ter='xmlns:ter="urn:wrong"'))


def test_fault_reason_without_lang():
    with pytest.raises(AssertionError, match="missing required attribute .*lang"):
        validate_response(fault(lang=""))


def test_fault_codes_needs_a_validated_fault():
    with pytest.raises(AssertionError, match="not a fault"):
        fault_codes(validate_response(DATE_TIME))


# -- zeep ------------------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def to_bytes(element):
    return etree.tostring(element, xml_declaration=True, encoding="utf-8")


def test_offline_transport_refuses_remote_urls(no_network):
    with pytest.raises(ConnectionRefusedError, match="example.com"):
        offline_transport().load("http://example.com/other.xsd")
    schema = offline_transport().load("https://www.w3.org/2003/05/soap-envelope")
    assert b'targetNamespace="http://www.w3.org/2003/05/soap-envelope"' in schema


def test_zeep_device_client_renders_a_valid_request(no_network):
    client = zeep_service("devicemgmt", DEVICE_BINDING, ADDRESS)
    message = to_bytes(client.create_message(client.service, "GetSystemDateAndTime"))
    assert body_child(validate_envelope(message)).tag == f"{{{TDS_DEVICE}}}GetSystemDateAndTime"


@pytest.mark.parametrize("wsdl,binding,operation,args", [
    ("deviceio", DEVICEIO_BINDING, "GetServiceCapabilities", {}),
    ("event", EVENT_BINDING, "GetServiceCapabilities", {}),
    ("event", PULLPOINT_SUBSCRIPTION_BINDING, "PullMessages",
     {"Timeout": "PT5S", "MessageLimit": 2}),
    ("event", SUBSCRIPTION_MANAGER_BINDING, "Unsubscribe", {}),
], ids=["deviceio", "event", "pullpoint", "subscription-manager"])
def test_zeep_other_bindings_render_valid_requests(no_network, wsdl, binding, operation, args):
    client = zeep_service(wsdl, binding, "http://192.0.2.1/onvif/other_service")
    validate_envelope(to_bytes(client.create_message(client.service, operation, **args)))


class CapturingTransport(OfflineTransport):
    """Records what zeep posts and answers with a canned response instead of using the network."""

    def post(self, address, message, headers):
        self.sent = (address, message, headers)
        return types.SimpleNamespace(
            status_code=200, content=DATE_TIME, encoding=None,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"})


def test_zeep_posts_soap12_content_type_and_soapaction(no_network):
    transport = CapturingTransport()
    client = zeep_service("devicemgmt", DEVICE_BINDING, ADDRESS, transport=transport)
    result = client.service.GetSystemDateAndTime()
    address, message, headers = transport.sent
    action = f"{TDS_DEVICE}/GetSystemDateAndTime"
    assert address == ADDRESS
    assert headers["Content-Type"] == (
        f'application/soap+xml; charset=utf-8; action="{action}"')
    # zeep also sends the SOAP 1.1 header (its serializer adds it for both SOAP versions).
    assert headers["SOAPAction"] == f'"{action}"'
    validate_envelope(message)
    assert result.UTCDateTime.Date.Year == 2024
