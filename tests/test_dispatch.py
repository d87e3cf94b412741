import unittest

from agent import log
from agent.app import build_app
from agent.device import Device
from agent.access import operations
from agent.settings import Settings
from tests.soapclient import SOAP12, InMemoryClient, envelope, http_request
from tests.support import AllowAll, Quiet

PATHS = {"device": "/onvif/device_service", "deviceio": "/onvif/deviceio_service",
         "events": "/onvif/event_service"}
# Implemented so far: the PRE_AUTH device operations and the capabilities (issue 3),
# GetDeviceInformation, the user operations and GetNetworkProtocols (issue 4), scopes and
# discovery mode (issue 5), the relay operations and DeviceIO (issue 6), pull points (issue 7).
IMPLEMENTED = {
    "device": ("GetServices", "GetServiceCapabilities", "GetCapabilities", "GetWsdlUrl",
               "GetHostname", "GetSystemDateAndTime", "GetEndpointReference",
               "GetDeviceInformation", "GetUsers", "CreateUsers", "DeleteUsers", "SetUser",
               "GetNetworkProtocols", "GetScopes", "SetScopes", "AddScopes", "RemoveScopes",
               "GetDiscoveryMode", "SetDiscoveryMode", "GetRelayOutputs",
               "SetRelayOutputSettings", "SetRelayOutputState", "SetSystemDateAndTime",
               "GetIPAddressFilter", "SetIPAddressFilter", "AddIPAddressFilter",
               "RemoveIPAddressFilter", "GetSystemLog", "GetSystemSupportInformation",
               "GetSystemUris", "StartSystemRestore", "SetSystemFactoryDefault", "SystemReboot",
               # The network operations that answer without a network backend (as here); the
               # others are ActionNotSupported then (agent.services.network_ops).
               "GetDNS", "SetDNS", "GetNTP", "SetNTP", "SetHostname", "SetHostnameFromDHCP",
               "SetNetworkInterfaces", "GetNetworkDefaultGateway", "SetZeroConfiguration"),
    # All but the nine configuration operations DeviceIO 16.12 deprecated (checklist 9.4).
    "deviceio": ("GetServiceCapabilities", "GetRelayOutputs", "SetRelayOutputState",
                 "GetRelayOutputOptions", "SetRelayOutputSettings", "GetDigitalInputs",
                 "GetDigitalInputConfigurationOptions", "SetDigitalInputConfigurations",
                 "GetSerialPorts", "GetSerialPortConfiguration", "SetSerialPortConfiguration",
                 "GetSerialPortConfigurationOptions", "SendReceiveSerialCommand",
                 "GetVideoSources", "GetAudioSources", "GetAudioOutputs", "GetVideoOutputs",
                 "GetVideoOutputConfiguration", "SetVideoOutputConfiguration",
                 "GetVideoOutputConfigurationOptions"),
    # Subscribe answers ActionNotSupported while push is off (no sender, as here).
    "events": ("GetServiceCapabilities", "CreatePullPointSubscription", "GetEventProperties"),
}


def make_client(hostname=lambda: "door-1"):
    device = Device({"name": "t", "hal": "sim"}, Settings(), hostname=hostname)
    # Dispatch is the subject here; who may call what is tests/test_auth.py's.
    return InMemoryClient(build_app(device, policy=AllowAll()))


def call_element(client, path, ns, name):
    body = '<op:%s xmlns:op="%s"/>' % (name, ns)
    return client.call(body, path=path)


class DispatchTest(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())

    def tearDown(self):
        log.set_stream(None)

    def test_every_wsdl_operation_gets_an_answer(self):
        client = make_client()
        for key, path in PATHS.items():
            for ns, name, _ in operations(key):
                r = call_element(client, path, ns, name)
                if name in IMPLEMENTED[key]:
                    # implemented: success, or the client's fault for the empty request
                    self.assertIn(r.status, (200, 400), name)
                    if r.status == 400:
                        self.assertEqual(r.fault()[0], "Sender", name)
                else:  # a further subcode may say why (e.g. InvalidDot11, 8.3 #22)
                    code, subcodes = r.fault()
                    self.assertEqual((r.status, code, subcodes[:1]),
                                     (500, "Receiver", ["ActionNotSupported"]),
                                     "%s %s" % (key, name))

    def test_element_of_another_service_is_unknown_action(self):
        client = make_client()
        cases = (("/onvif/device_service", "http://www.onvif.org/ver10/deviceIO/wsdl",
                  "GetDigitalInputs"),
                 ("/onvif/deviceio_service", "http://www.onvif.org/ver10/device/wsdl",
                  "GetHostname"),
                 ("/onvif/event_service", "http://www.onvif.org/ver10/events/wsdl",
                  "PullMessages"),
                 ("/onvif/device_service", "urn:nobody", "GetHostname"))
        for path, ns, name in cases:
            r = call_element(client, path, ns, name)
            self.assertEqual((r.status, r.fault()), (400, ("Sender", ["UnknownAction"])), name)

    def test_deviceio_accepts_the_tds_relay_elements(self):
        # deviceio.wsdl uses tds:GetRelayOutputs and tds:SetRelayOutputState (checklist 9.1).
        client = make_client()
        r = call_element(client, "/onvif/deviceio_service",
                         "http://www.onvif.org/ver10/device/wsdl", "GetRelayOutputs")
        self.assertEqual((r.status, r.body_child.name), (200, "GetRelayOutputsResponse"))
        r = call_element(client, "/onvif/deviceio_service",
                         "http://www.onvif.org/ver10/device/wsdl", "SetRelayOutputState")
        self.assertEqual(r.fault(), ("Sender", ["InvalidArgs"]), "read, and found incomplete")

    def test_a_failing_handler_is_action_failed_without_internals(self):
        def broken():
            raise RuntimeError("secret /etc/path detail")
        client = make_client(hostname=broken)
        r = client.call("<tds:GetHostname/>")
        self.assertEqual((r.status, r.fault()), (500, ("Receiver", ["Action"])))
        self.assertFalse(b"secret" in r.body)
        self.assertFalse(b"Traceback" in r.body)
        # and the next request is served normally
        self.assertEqual(client.call("<tds:GetWsdlUrl/>").status, 200)


    def test_a_failing_plain_resource_is_500_without_internals(self):
        client = make_client()
        resource = client.session.app.by_path["/onvif/system/log/system"]

        def broken():
            raise RuntimeError("secret /etc/path detail")
        resource.text = broken
        r = client.post("/onvif/system/log/system", None, method="GET", content_type=None)
        self.assertEqual(r.status, 500)
        self.assertFalse(b"secret" in r.body)
        self.assertEqual(client.call("<tds:GetWsdlUrl/>").status, 200)


class HttpLevelTest(unittest.TestCase):
    def setUp(self):
        log.set_stream(Quiet())

    def tearDown(self):
        log.set_stream(None)

    def test_unknown_path_is_404(self):
        r = make_client().post("/nowhere", envelope("<tds:GetHostname/>"))
        self.assertEqual(r.status, 404)

    def test_get_on_a_soap_endpoint_is_405_with_allow(self):
        r = make_client().post("/onvif/device_service", None, method="GET", content_type=None)
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["allow"], "POST")

    def test_wrong_content_type_is_415(self):
        r = make_client().post("/onvif/device_service", envelope("<tds:GetHostname/>"),
                               content_type="application/json")
        self.assertEqual(r.status, 415)
        self.assertIsNone(r.xml)  # Table 6: no SOAP fault at HTTP level

    def test_other_charset_is_415(self):
        r = make_client().post("/onvif/device_service", envelope("<tds:GetHostname/>"),
                               content_type="application/soap+xml; charset=iso-8859-1")
        self.assertEqual(r.status, 415)

    def test_action_parameter_is_ignored(self):
        r = make_client().post(
            "/onvif/device_service", envelope("<tds:GetHostname/>"),
            content_type='application/soap+xml; charset=utf-8; action="http://x/GetHostname"')
        self.assertEqual(r.status, 200)

    def test_soap11_gets_version_mismatch_with_upgrade(self):
        body = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                b'<GetHostname xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body>'
                b'</s:Envelope>')
        r = make_client().post("/onvif/device_service", body, content_type="text/xml")
        self.assertEqual((r.status, r.fault()), (500, ("VersionMismatch", [])))
        upgrade = r.xml.find(SOAP12, "Header").find(SOAP12, "Upgrade")
        supported = upgrade.find(SOAP12, "SupportedEnvelope")
        self.assertEqual(supported.resolve_qname(supported.attrs[("", "qname")]),
                         (SOAP12, "Envelope"))

    def test_malformed_xml_is_sender_well_formed(self):
        r = make_client().post("/onvif/device_service", b"<s:Envelope><unclosed>")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["WellFormed"])))

    def test_keep_alive_and_pipelining_through_the_app(self):
        client = make_client()
        one = http_request("/onvif/device_service", envelope("<tds:GetHostname/>"))
        two = http_request("/onvif/device_service", envelope("<tds:GetWsdlUrl/>"))
        responses = client.exchange(one + two + one[:40])
        self.assertEqual([r.body_child.name for r in responses],
                         ["GetHostnameResponse", "GetWsdlUrlResponse"])
        responses = client.exchange(one[40:])
        self.assertEqual([r.body_child.name for r in responses], ["GetHostnameResponse"])
