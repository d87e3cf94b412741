import unittest

from agent.soap import SOAP12, SoapFault, read_envelope, write_envelope, write_fault
from agent.xmltree import parse
from agent.xmlwrite import XmlWriter

TDS = "http://www.onvif.org/ver10/device/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
ENV = '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" ' \
      'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">%s</e:Envelope>'


def read(inner, understood=()):
    return read_envelope((ENV % inner).encode(), understood)


def fault_of(inner, understood=()):
    try:
        read(inner, understood)
    except SoapFault as fault:
        return fault.code, [s[1] for s in fault.subcodes]
    raise AssertionError("no fault")


class EnvelopeReaderTest(unittest.TestCase):
    def test_body_child_and_header_blocks(self):
        env = read('<e:Header><h xmlns="urn:x"/></e:Header>'
                   '<e:Body><tds:GetServices><tds:IncludeCapability>true'
                   '</tds:IncludeCapability></tds:GetServices></e:Body>')
        self.assertEqual((env.body.ns, env.body.name), (TDS, "GetServices"))
        self.assertEqual(env.body.findtext(TDS, "IncludeCapability"), "true")
        self.assertEqual([(h.ns, h.name) for h in env.headers], [("urn:x", "h")])

    def test_whitespace_between_parts_is_fine(self):
        env = read('\n <e:Header>\n</e:Header>\n <e:Body>\n <tds:GetHostname/>\n </e:Body>\n')
        self.assertEqual(env.body.name, "GetHostname")

    def test_security_found_by_namespace_whatever_the_prefix(self):
        env = read('<e:Header><Security xmlns="%s" e:mustUnderstand="1"/></e:Header>'
                   '<e:Body><tds:GetHostname/></e:Body>' % WSSE, understood=((WSSE, "Security"),))
        self.assertIsNotNone(env.header(WSSE, "Security"))

    def test_must_understand_unknown_block(self):
        for value in ("1", "true", " true "):
            self.assertEqual(fault_of('<e:Header><x:h xmlns:x="urn:x" e:mustUnderstand="%s"/>'
                                      '</e:Header><e:Body><tds:GetHostname/></e:Body>' % value),
                             ("MustUnderstand", []))

    def test_must_understand_for_another_role_is_not_ours(self):
        read('<e:Header><x:h xmlns:x="urn:x" e:mustUnderstand="true" e:role="urn:other"/>'
             '</e:Header><e:Body><tds:GetHostname/></e:Body>')

    def test_must_understand_false_is_ignored(self):
        read('<e:Header><x:h xmlns:x="urn:x" e:mustUnderstand="false"/></e:Header>'
             '<e:Body><tds:GetHostname/></e:Body>')

    def test_bad_must_understand_value(self):
        self.assertEqual(fault_of('<e:Header><x:h xmlns:x="urn:x" e:mustUnderstand="yes"/>'
                                  '</e:Header><e:Body><tds:GetHostname/></e:Body>'),
                         ("Sender", ["InvalidArgVal"]))

    def test_soap11_envelope_is_version_mismatch(self):
        data = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">' \
               b'<s:Body><x/></s:Body></s:Envelope>'
        with self.assertRaises(SoapFault) as ctx:
            read_envelope(data)
        self.assertEqual(ctx.exception.code, "VersionMismatch")
        self.assertEqual(ctx.exception.status, 500)

    def test_non_envelope_root_is_version_mismatch(self):
        with self.assertRaises(SoapFault) as ctx:
            read_envelope(b"<Envelope/>")
        self.assertEqual(ctx.exception.code, "VersionMismatch")

    def test_malformed_xml_is_well_formed_fault(self):
        with self.assertRaises(SoapFault) as ctx:
            read_envelope((ENV % "<e:Body><tds:GetHostname></e:Body>").encode())
        self.assertEqual((ctx.exception.code, ctx.exception.subcodes[0][1]),
                         ("Sender", "WellFormed"))
        self.assertEqual(ctx.exception.status, 400)

    def test_structure_faults(self):
        self.assertEqual(fault_of(""), ("Sender", ["Tag"]))
        self.assertEqual(fault_of("<e:Body/>"), ("Sender", ["Tag"]))
        self.assertEqual(fault_of("<e:Header/>"), ("Sender", ["Tag"]))
        self.assertEqual(fault_of("<e:Body><tds:A/><tds:B/></e:Body>"),
                         ("Sender", ["InvalidArgs"]))
        self.assertEqual(fault_of("<e:Body><tds:A/></e:Body><e:Header/>"),
                         ("Sender", ["TagMismatch"]))
        self.assertEqual(fault_of("text<e:Body><tds:A/></e:Body>"),
                         ("Sender", ["TagMismatch"]))

    def test_soap_encoding_is_refused(self):
        self.assertEqual(
            fault_of('<e:Body><tds:A e:encodingStyle="http://www.w3.org/2003/05/soap-encoding"/>'
                     '</e:Body>'), ("DataEncodingUnknown", []))

    def test_doctype_is_refused(self):
        with self.assertRaises(SoapFault) as ctx:
            read_envelope(b'<!DOCTYPE e [<!ENTITY a "x">]>' + (ENV % "<e:Body/>").encode())
        self.assertEqual(ctx.exception.code, "Sender")


class FaultWriterTest(unittest.TestCase):
    def render(self, fault):
        out = []
        write_envelope(XmlWriter(out.append), lambda w: write_fault(w, fault))
        return parse(b"".join(out))

    def test_nested_subcodes_are_resolvable_qnames(self):
        doc = self.render(SoapFault("Receiver", "ActionNotSupported", "NoSuchService"))
        code = doc.find(SOAP12, "Body").find(SOAP12, "Fault").find(SOAP12, "Code")
        values = []
        while code is not None:
            values.append(code.resolve_qname(code.findtext(SOAP12, "Value")))
            code = code.find(SOAP12, "Subcode")
        ter = "http://www.onvif.org/ver10/error"
        self.assertEqual(values, [(SOAP12, "Receiver"), (ter, "ActionNotSupported"),
                                  (ter, "NoSuchService")])

    def test_reason_is_table5_text_in_english(self):
        doc = self.render(SoapFault("Sender", "NotAuthorized"))
        text = doc.find(SOAP12, "Body").find(SOAP12, "Fault").find(SOAP12, "Reason") \
            .find(SOAP12, "Text")
        self.assertEqual(text.text, "Sender not Authorized")
        self.assertEqual(text.attrs[("http://www.w3.org/XML/1998/namespace", "lang")], "en")

    def test_status_follows_the_code(self):
        self.assertEqual(SoapFault("Sender", "InvalidArgs").status, 400)
        for code in ("Receiver", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"):
            self.assertEqual(SoapFault(code).status, 500)
