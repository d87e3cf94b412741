import unittest

from agent.app import build_app
from agent.compat import gmtime
from agent.device import Device
from agent.settings import Settings
from tests.soapclient import FIXED_NOW, TDS, TEV, TMD, TT, InMemoryClient
from tests.support import AllowAll


def make_client(hostname="door-1", **kw):
    device = Device({"name": "test", "hal": "sim"}, Settings(), hostname=lambda: hostname)
    return InMemoryClient(build_app(device), **kw), device


class DateTimeTest(unittest.TestCase):
    def test_utc_is_always_present_and_from_the_device_clock(self):
        client, _ = make_client()
        r = client.call("<tds:GetSystemDateAndTime/>")
        self.assertEqual(r.status, 200)
        sdt = r.body_child.find(TDS, "SystemDateAndTime")
        utc = sdt.find(TT, "UTCDateTime")
        t = gmtime(FIXED_NOW)
        date, time = utc.find(TT, "Date"), utc.find(TT, "Time")
        self.assertEqual([int(date.findtext(TT, n)) for n in ("Year", "Month", "Day")],
                         list(t[:3]))
        self.assertEqual([int(time.findtext(TT, n)) for n in ("Hour", "Minute", "Second")],
                         list(t[3:6]))
        self.assertEqual(sdt.find(TT, "TimeZone").findtext(TT, "TZ"), "UTC0")

    def test_needs_no_credentials_even_when_they_are_wrong(self):
        client, _ = make_client()
        header = ('<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-'
                  'wssecurity-secext-1.0.xsd" s:mustUnderstand="1"><UsernameToken><Username>x'
                  '</Username><Password>wrong</Password></UsernameToken></Security>')
        self.assertEqual(client.call("<tds:GetSystemDateAndTime/>", header=header).status, 200)


class ServicesTest(unittest.TestCase):
    def services(self, include, **kw):
        client, _ = make_client()
        r = client.call("<tds:GetServices><tds:IncludeCapability>%s</tds:IncludeCapability>"
                        "</tds:GetServices>" % include, **kw)
        self.assertEqual(r.status, 200)
        return r.body_child.findall(TDS, "Service")

    def test_lists_device_deviceio_and_events_with_xaddrs_from_the_host_used(self):
        services = self.services("false", host="10.1.2.3:8080")
        found = {s.findtext(TDS, "Namespace"): s.findtext(TDS, "XAddr") for s in services}
        self.assertEqual(found, {
            TDS: "http://10.1.2.3:8080/onvif/device_service",
            TMD: "http://10.1.2.3:8080/onvif/deviceio_service",
            TEV: "http://10.1.2.3:8080/onvif/event_service"})
        for s in services:
            self.assertIsNone(s.find(TDS, "Capabilities"))
            version = s.find(TDS, "Version")
            self.assertEqual(version.findtext(TT, "Major"), "16")

    def test_with_capabilities(self):
        caps = {s.findtext(TDS, "Namespace"): s.find(TDS, "Capabilities").children[0]
                for s in self.services(" 1 ")}
        self.assertEqual((caps[TDS].ns, caps[TDS].name), (TDS, "Capabilities"))
        self.assertEqual(caps[TMD].attrs[("", "RelayOutputs")], "0")
        self.assertEqual(caps[TEV].attrs[("", "WSPullPointSupport")], "true")

    def test_ipv6_host_and_bad_host_header(self):
        services = self.services("false", host="[fe80::1]:80")
        self.assertTrue(services[0].findtext(TDS, "XAddr").startswith("http://[fe80::1]:80/"))
        services = self.services("false", host='evil"><x')
        self.assertTrue(services[0].findtext(TDS, "XAddr").startswith("http://192.0.2.10:8080/"))

    def test_missing_or_bad_include_capability(self):
        client, _ = make_client()
        r = client.call("<tds:GetServices/>")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["InvalidArgs"])))
        r = client.call("<tds:GetServices><tds:IncludeCapability>yes</tds:IncludeCapability>"
                        "</tds:GetServices>")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["InvalidArgVal"])))


class CapabilitiesTest(unittest.TestCase):
    def capabilities(self, *categories):
        client, _ = make_client()
        body = "".join("<tds:Category>%s</tds:Category>" % c for c in categories)
        return client.call("<tds:GetCapabilities>%s</tds:GetCapabilities>" % body)

    def sections(self, r):
        return [c.name for c in r.body_child.find(TDS, "Capabilities").children]

    def test_all_and_none_give_every_section_we_have(self):
        for categories in ((), ("All",)):
            r = self.capabilities(*categories)
            self.assertEqual(self.sections(r), ["Device", "Events", "Extension"])
            ext = r.body_child.find(TDS, "Capabilities").find(TT, "Extension")
            self.assertEqual(ext.find(TT, "DeviceIO").findtext(TT, "XAddr"),
                             "http://device.test:8080/onvif/deviceio_service")

    def test_single_categories(self):
        self.assertEqual(self.sections(self.capabilities("Device")), ["Device"])
        self.assertEqual(self.sections(self.capabilities("Events")), ["Events"])
        self.assertEqual(self.sections(self.capabilities("Events", "Device")),
                         ["Device", "Events"])

    def test_services_we_do_not_have(self):
        for category in ("Analytics", "Imaging", "Media", "PTZ"):
            r = self.capabilities("Device", category)
            self.assertEqual((r.status, r.fault()),
                             (500, ("Receiver", ["ActionNotSupported", "NoSuchService"])))

    def test_unknown_category(self):
        r = self.capabilities("Everything")
        self.assertEqual((r.status, r.fault()), (400, ("Sender", ["InvalidArgVal"])))

    def test_device_section_is_honest(self):
        r = self.capabilities("Device")
        device = r.body_child.find(TDS, "Capabilities").find(TT, "Device")
        self.assertEqual(device.find(TT, "IO").findtext(TT, "RelayOutputs"), "0")
        self.assertTrue(device.find(TT, "System").findall(TT, "SupportedVersions"))


class ServiceCapabilitiesTest(unittest.TestCase):
    def test_each_service_answers_at_its_own_endpoint(self):
        client, _ = make_client()
        for path, prefix, ns in (("/onvif/device_service", "tds", TDS),
                                 ("/onvif/deviceio_service", "tmd", TMD),
                                 ("/onvif/event_service", "tev", TEV)):
            r = client.call("<%s:GetServiceCapabilities/>" % prefix, path=path)
            self.assertEqual(r.status, 200)
            self.assertEqual((r.body_child.ns, r.body_child.name),
                             (ns, "GetServiceCapabilitiesResponse"))
            self.assertEqual(r.body_child.children[0].name, "Capabilities")

    def test_security_capabilities_tell_the_truth(self):
        for https_port, tls in ((None, "false"), (8443, "true")):
            client, device = make_client()
            device.https_port = https_port
            caps = client.call("<tds:GetServiceCapabilities/>").body_child.children[0]
            security = caps.find(TDS, "Security")
            for name in ("UsernameToken", "HttpDigest", "DefaultAccessPolicy"):
                self.assertEqual(security.attrs[("", name)], "true")
            for name in ("TLS1.0", "TLS1.1", "OnboardKeyGeneration", "AccessPolicyConfig",
                         "X.509Token", "Dot1X", "RemoteUserHandling"):
                self.assertEqual(security.attrs[("", name)], "false")
            self.assertEqual(security.attrs[("", "TLS1.2")], tls)
            r = client.call("<tds:GetCapabilities><tds:Category>Device</tds:Category>"
                            "</tds:GetCapabilities>")
            legacy = r.body_child.find(TDS, "Capabilities").find(TT, "Device").find(TT, "Security")
            self.assertEqual((legacy.findtext(TT, "TLS1.1"), legacy.findtext(TT, "TLS1.2")),
                             ("false", tls))


class NetworkProtocolsTest(unittest.TestCase):
    def protocols(self, https_port):
        device = Device({"name": "test", "hal": "sim"}, Settings())
        device.http_port, device.https_port = 8080, https_port
        client = InMemoryClient(build_app(device, policy=AllowAll()))
        r = client.call("<tds:GetNetworkProtocols/>")
        return [(p.findtext(TT, "Name"), p.findtext(TT, "Enabled"), p.findtext(TT, "Port"))
                for p in r.body_child.findall(TDS, "NetworkProtocols")]

    def test_https_is_reported_only_while_it_is_served(self):
        self.assertEqual(self.protocols(None), [("HTTP", "true", "8080")])
        self.assertEqual(self.protocols(8443),
                         [("HTTP", "true", "8080"), ("HTTPS", "true", "8443")])


class IdentityTest(unittest.TestCase):
    def test_wsdl_url_and_hostname(self):
        client, _ = make_client(hostname="door-1")
        self.assertEqual(client.call("<tds:GetWsdlUrl/>").body_child.findtext(TDS, "WsdlUrl"),
                         "http://www.onvif.org/")
        info = client.call("<tds:GetHostname/>").body_child.find(TDS, "HostnameInformation")
        self.assertEqual((info.findtext(TT, "FromDHCP"), info.findtext(TT, "Name")),
                         ("false", "door-1"))

    def test_empty_hostname_is_left_out(self):
        client, _ = make_client(hostname="")
        info = client.call("<tds:GetHostname/>").body_child.find(TDS, "HostnameInformation")
        self.assertIsNone(info.find(TT, "Name"))

    def test_endpoint_reference_is_a_urn_uuid(self):
        client, device = make_client()
        guid = client.call("<tds:GetEndpointReference/>").body_child.findtext(TDS, "GUID")
        self.assertEqual(guid, device.endpoint_reference)
        self.assertTrue(guid.startswith("urn:uuid:"))
        self.assertEqual(len(guid), 45)
        self.assertEqual(guid[23], "4")
