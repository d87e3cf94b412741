"""WS-Security UsernameToken verification (checklist 5.4), on the header shapes real clients send
(portable: runs on CPython and MicroPython)."""

import binascii
import unittest

from agent import compat, wsse
from agent.datetimes import parse_datetime
from agent.soap import TER, SoapFault
from agent.wsse import (BASE64_BINARY, PASSWORD_DIGEST, PASSWORD_TEXT, WSSE, WSU,
                        UsernameTokenVerifier)
from agent.xmlparse import XmlError
from agent.xmltree import parse
from tests.support import Rng

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NOW = 1795429230  # 2026-11-23T10:20:30Z
CREATED = "2026-11-23T10:20:30Z"
NONCE = b"0123456789abcdef"
USERS = {"admin": "s3cret", "op": "pässword"}


def b64(data):
    return binascii.b2a_base64(data, newline=False).decode()


def digest(nonce, created, password):
    """The profile's formula, written out independently of agent/wsse.py."""
    return b64(compat.sha1(nonce + created.encode() + password.encode()))


def prefixed(user="admin", password=None, nonce=NONCE, created=CREATED, kind=PASSWORD_DIGEST,
             nonce_b64=None, extra=""):
    """A Security header as zeep writes it: wsse/wsu prefixes, EncodingType on the Nonce."""
    if password is None:
        password = digest(nonce, created, USERS.get(user, "x")) if kind == PASSWORD_DIGEST \
            else USERS.get(user, "x")
    type_attr = "" if kind is None else ' Type="%s"' % kind
    return ('<wsse:Security xmlns:wsse="%s" xmlns:wsu="%s"><wsse:UsernameToken>'
            '<wsse:Username>%s</wsse:Username><wsse:Password%s>%s</wsse:Password>'
            '<wsse:Nonce EncodingType="%s">%s</wsse:Nonce><wsu:Created>%s</wsu:Created>%s'
            '</wsse:UsernameToken></wsse:Security>'
            % (WSSE, WSU, user, type_attr, password, BASE64_BINARY,
               b64(nonce) if nonce_b64 is None else nonce_b64, created, extra))


def default_ns(user="admin", nonce=NONCE, created="2026-11-23T10:20:30.042Z"):
    """A Security header as UniFi Protect (agsh onvif) writes it: default namespace,
    s:mustUnderstand, Created in its own default namespace, milliseconds."""
    return ('<Security s:mustUnderstand="1" xmlns:s="%s" xmlns="%s"><UsernameToken>'
            '<Username>%s</Username><Password Type="%s">%s</Password>'
            '<Nonce EncodingType="%s">%s</Nonce><Created xmlns="%s">%s</Created>'
            '</UsernameToken></Security>'
            % (SOAP12, WSSE, user, PASSWORD_DIGEST, digest(nonce, created, USERS[user]),
               BASE64_BINARY, b64(nonce), WSU, created))


def tree(xml):
    return parse(xml.encode() if isinstance(xml, str) else xml)


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def verifier(clock=None, **kw):
    return UsernameTokenVerifier(USERS.get, clock=clock or Clock(), **kw)


class TestAccepted(unittest.TestCase):
    def test_zeep_shape(self):
        self.assertEqual(verifier().verify(tree(prefixed())), "admin")

    def test_default_namespace_with_milliseconds(self):
        self.assertEqual(verifier().verify(tree(default_ns())), "admin")

    def test_created_forms(self):
        for created in ("2026-11-23T10:20:30Z", "2026-11-23T10:20:30+00:00",
                        "2026-11-23T10:20:30.042Z", "2026-11-23T10:20:30.123456789Z",
                        "2026-11-23T12:20:30+02:00", "2026-11-23T05:50:30.5-04:30",
                        "\n 2026-11-23T10:20:30Z "):
            self.assertEqual(verifier().verify(tree(prefixed(created=created))), "admin", created)

    def test_non_ascii_password_is_utf8(self):
        self.assertEqual(verifier().verify(tree(prefixed(user="op"))), "op")

    def test_digest_with_surrounding_whitespace(self):
        text = "\n  %s\n" % digest(NONCE, CREATED, "s3cret")
        self.assertEqual(verifier().verify(tree(prefixed(password=text))), "admin")

    def test_nonce_lengths(self):
        # Older agsh onvif sends a decimal number of up to 11 digits; zeep 16 random bytes.
        for nonce in (b"7", b"4821907733", b"\xff" * 16, b"n" * wsse.MAX_NONCE):
            self.assertEqual(verifier().verify(tree(prefixed(nonce=nonce))), "admin")

    def test_encoding_type_may_be_absent(self):
        xml = prefixed().replace(' EncodingType="%s"' % BASE64_BINARY, "")
        self.assertEqual(verifier().verify(tree(xml)), "admin")

    def test_other_security_children_are_ignored(self):
        timestamp = '<wsu:Timestamp><wsu:Created>%s</wsu:Created></wsu:Timestamp>' % CREATED
        xml = prefixed().replace("</wsse:Security>", timestamp + "</wsse:Security>")
        self.assertEqual(verifier().verify(tree(xml)), "admin")

    def test_password_text_over_tls(self):
        token = tree(prefixed(kind=PASSWORD_TEXT))
        self.assertEqual(verifier().verify(token, secure_transport=True), "admin")

    def test_password_text_when_allowed(self):
        self.assertEqual(verifier(allow_text=True).verify(tree(prefixed(kind=PASSWORD_TEXT))),
                         "admin")

    def test_absent_type_means_text(self):
        # Profile 3.1: Type defaults to PasswordText.
        self.assertEqual(verifier().verify(tree(prefixed(kind=None, password="s3cret")),
                                           secure_transport=True), "admin")


class TestRefused(unittest.TestCase):
    def refused(self, xml, v=None, **kw):
        """Assert the token is refused with the one generic fault; return its log reason."""
        with self.assertRaises(SoapFault) as caught:
            (v or verifier()).verify(tree(xml) if isinstance(xml, (str, bytes)) else xml, **kw)
        fault = caught.exception
        self.assertEqual((fault.code, fault.subcodes, fault.status),
                         ("Sender", [(TER, "NotAuthorized")], 400))
        self.assertEqual(fault.reason, "Sender not Authorized")
        return fault.log_reason

    def test_same_answer_for_every_cause_but_the_log_differs(self):
        reasons = [self.refused(prefixed(password=digest(NONCE, CREATED, "guess"))),
                   self.refused(prefixed(user="nobody")),
                   self.refused(prefixed(created="2026-11-23T10:10:00Z"))]
        self.assertIn("wrong password", reasons[0])
        self.assertIn("unknown user", reasons[1])
        self.assertIn("stale", reasons[2])

    def test_unknown_user_costs_the_same_hashing(self):
        calls = []
        real = compat.sha1

        def counting(data):
            calls.append(len(data))
            return real(data)

        guess = digest(NONCE, CREATED, "guess")
        wrong_password, unknown_user = prefixed(password=guess), prefixed("nobody", guess)
        compat.sha1 = counting
        try:
            self.refused(wrong_password)
            wrong = list(calls)
            del calls[:]
            self.refused(unknown_user)
        finally:
            compat.sha1 = real
        self.assertEqual(len(calls), len(wrong))
        self.assertEqual(len(calls), 1)

    def test_password_text_without_tls(self):
        self.assertIn("TLS", self.refused(prefixed(kind=PASSWORD_TEXT)))
        self.assertIn("TLS", self.refused(prefixed(kind=None, password="s3cret")))

    def test_wrong_password_text(self):
        self.refused(prefixed(kind=PASSWORD_TEXT, password="s3cre"), secure_transport=True)
        self.refused(prefixed(kind=PASSWORD_TEXT, password=" s3cret"), secure_transport=True)
        self.refused(prefixed(kind=PASSWORD_TEXT, password="x" * 300), secure_transport=True)

    def test_nonce_and_created_are_required(self):
        nonce = '<wsse:Nonce EncodingType="%s">%s</wsse:Nonce>' % (BASE64_BINARY, b64(NONCE))
        created = "<wsu:Created>%s</wsu:Created>" % CREATED
        for kind in (PASSWORD_DIGEST, PASSWORD_TEXT):
            xml = prefixed(kind=kind)
            self.assertIn("Nonce", self.refused(xml.replace(nonce, ""), secure_transport=True))
            self.assertIn("Created", self.refused(xml.replace(created, ""), secure_transport=True))

    def test_freshness_window_edges(self):
        for delta, ok in ((-300, True), (300, True), (-301, False), (301, False)):
            v = verifier(Clock(NOW + delta))
            token = tree(prefixed())
            if ok:
                self.assertEqual(v.verify(token), "admin", delta)
            else:
                self.assertIn("stale", self.refused(token, v))

    def test_window_is_configurable(self):
        self.refused(prefixed(), verifier(Clock(NOW + 31), window_s=30))
        self.assertEqual(verifier(Clock(NOW + 30), window_s=30).verify(tree(prefixed())),
                         "admin")

    def test_malformed_created(self):
        for created in ("2026-11-23T10:20:30", "2026-11-23 10:20:30Z", "2026-11-23t10:20:30Z",
                        "2026-11-23T10:20:30z", "tomorrow", ""):
            self.assertIn("Created", self.refused(prefixed(created=created)))

    def test_bad_base64(self):
        for bad in ("!!!!", "MDEyMw", "MD=yMw==", "MDEy MzQ1", "MDEy\nMzQ1", "====", "",
                    "MDEyMw===", "MDEy" * 44):
            self.assertIn("Nonce", self.refused(prefixed(nonce_b64=bad)))
        for bad in ("not base64!", digest(NONCE, CREATED, "s3cret")[:-4], b64(b"x" * 16), ""):
            self.assertIn("PasswordDigest", self.refused(prefixed(password=bad)))

    def test_nonce_too_long(self):
        self.refused(prefixed(nonce=b"n" * (wsse.MAX_NONCE + 1)))

    def test_other_encoding_type(self):
        xml = prefixed().replace("#Base64Binary", "#HexBinary")
        self.assertIn("EncodingType", self.refused(xml))

    def test_bad_type(self):
        for kind in (_type("PasswordDigestX"), "wsse:PasswordDigest", "PasswordDigest", ""):
            self.assertIn("Type", self.refused(prefixed(kind=kind)))

    def test_token_count(self):
        self.refused("<wsse:Security xmlns:wsse='%s'/>" % WSSE)
        one = prefixed()
        token = one[one.index("<wsse:UsernameToken>"):one.index("</wsse:Security>")]
        self.assertIn("2 UsernameTokens",
                      self.refused(one.replace("</wsse:Security>", token + "</wsse:Security>")))

    def test_children_must_be_single_and_plain(self):
        one = prefixed()
        user = "<wsse:Username>admin</wsse:Username>"
        self.refused(one.replace(user, user + user))
        self.refused(one.replace(user, ""))
        self.refused(one.replace(user, "<wsse:Username><b>admin</b></wsse:Username>"))
        self.refused(one.replace(user, "<wsse:Username></wsse:Username>"))
        self.refused(one.replace(user, "<Username>admin</Username>"))  # no namespace
        self.refused(prefixed(user="a" * (wsse.MAX_USERNAME + 1)))

    def test_user_name_is_exact(self):
        # xs:string keeps whitespace; the clients we know never add any.
        self.refused(prefixed().replace(">admin<", "> admin<"))
        self.refused(prefixed().replace(">admin<", ">Admin<"))


def _type(fragment):
    return "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#" \
        + fragment


class TestReplay(unittest.TestCase):
    def test_replay_inside_the_window(self):
        v = verifier()
        self.assertEqual(v.verify(tree(prefixed())), "admin")
        with self.assertRaises(SoapFault) as caught:
            v.verify(tree(prefixed()))
        self.assertIn("replayed", caught.exception.log_reason)

    def test_same_nonce_with_another_created(self):
        # Profile section 4: a nonce already used is refused, whatever else changed.
        v = verifier()
        v.verify(tree(prefixed()))
        with self.assertRaises(SoapFault):
            v.verify(tree(prefixed(created="2026-11-23T10:20:31Z")))
        with self.assertRaises(SoapFault):
            v.verify(tree(prefixed(user="op")))

    def test_replay_after_the_window_is_stale(self):
        clock = Clock()
        v = verifier(clock)
        v.verify(tree(prefixed()))
        clock.now = NOW + 301
        with self.assertRaises(SoapFault) as caught:
            v.verify(tree(prefixed()))
        self.assertIn("stale", caught.exception.log_reason)

    def test_nonce_reusable_once_its_token_is_stale(self):
        clock = Clock()
        v = verifier(clock)
        v.verify(tree(prefixed()))
        clock.now = NOW + 301
        self.assertEqual(v.verify(tree(prefixed(created="2026-11-23T10:25:31Z"))), "admin")

    def test_failed_tokens_are_not_remembered(self):
        v = verifier()
        with self.assertRaises(SoapFault):
            v.verify(tree(prefixed(password=digest(NONCE, CREATED, "guess"))))
        self.assertEqual(v.verify(tree(prefixed())), "admin")

    def test_cache_is_bounded_and_drops_the_oldest(self):
        v = verifier(max_nonces=4)
        nonces = [bytes([65 + i]) * 16 for i in range(5)]
        for nonce in nonces:
            v.verify(tree(prefixed(nonce=nonce)))
        self.assertEqual(len(v._ring), 4 * 12)  # 4 slots of fingerprint + expiry
        for nonce in nonces[1:]:  # the four newest are still remembered
            with self.assertRaises(SoapFault):
                v.verify(tree(prefixed(nonce=nonce)))
        # The documented cost of the bound: the oldest was overwritten, so its replay passes
        # (and in turn pushes out the next oldest).
        self.assertEqual(v.verify(tree(prefixed(nonce=nonces[0]))), "admin")
        self.assertEqual(v.verify(tree(prefixed(nonce=nonces[1]))), "admin")
        with self.assertRaises(SoapFault):
            v.verify(tree(prefixed(nonce=nonces[4])))
        self.assertEqual(len(v._ring), 4 * 12)

    def test_many_tokens_in_a_small_cache(self):
        v = verifier(max_nonces=3)
        for i in range(40):
            v.verify(tree(prefixed(nonce=("%04d" % i).encode())))
            with self.assertRaises(SoapFault):
                v.verify(tree(prefixed(nonce=("%04d" % i).encode())))
        self.assertEqual(len(v._ring), 3 * 12)

    def test_max_nonces_must_be_positive(self):
        with self.assertRaises(ValueError):
            verifier(max_nonces=0)


class TestParseCreated(unittest.TestCase):
    def test_values(self):
        for text, seconds in (("1970-01-01T00:00:00Z", 0),
                              ("1969-12-31T23:59:59Z", -1),
                              ("2000-03-01T00:00:00Z", 951868800),
                              ("2000-02-29T12:00:00Z", 951825600),
                              ("2024-02-29T23:59:59.999Z", 1709251199),
                              ("2026-11-23T10:20:30Z", NOW),
                              ("2026-11-23T10:20:30.042Z", NOW),
                              ("2026-11-23T10:20:30+00:00", NOW),
                              ("2026-11-23T10:20:30-00:00", NOW),
                              ("2026-11-24T00:20:30+14:00", NOW),
                              ("2026-11-22T20:20:30-14:00", NOW),
                              ("2026-11-23T15:50:30+05:30", NOW),
                              ("2038-01-19T03:14:08Z", 2147483648),
                              ("2106-02-07T06:28:16Z", 4294967296),
                              ("0001-01-01T00:00:00Z", -62135596800),
                              ("9999-12-31T23:59:59Z", 253402300799)):
            self.assertEqual(parse_datetime(text), seconds, text)

    def test_garbage(self):
        for text in ("", "2026-11-23", "2026-11-23T10:20:30", "2026-11-23T10:20:30.Z",
                     "2026-11-23T10:20:30.5", "2026-11-23T10:20Z", "2026-11-23T10:20:30ZZ",
                     "2026-11-23T10:20:30+0000", "2026-11-23T10:20:30+00", "2026-11-23T10:20:30 Z",
                     "2026-11-23T10:20:30+14:01", "2026-11-23T10:20:30+00:60",
                     "2026-11-23T10:20:30+0a:00", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
                     "2026-11-31T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                     "2026-11-00T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z",
                     "2026-11-23T10:20:60Z", "0000-01-01T00:00:00Z", "-2026-11-23T10:20:30Z",
                     "+026-11-23T10:20:30Z", " 026-11-23T10:20:30Z", "2026-1_-23T10:20:30Z",
                     "20261-11-23T10:20:30Z", "2026/11/23T10:20:30Z", "2026-11-23T10-20-30Z",
                     "\uff12026-11-23T10:20:30Z", "2026-11-23T10:20:30." + "1" * 60 + "Z",
                     "2026-11-23T10:20:30.\u0661Z"):
            self.assertIsNone(parse_datetime(text), text)


# Pieces the fuzzer splices into a valid token's text.
_SNIPPETS = (b"<", b">", b"&amp;", b"<x/>", b"=", b"==", b"\x00", b"\xff", b"\xc3\xa4", b" ",
             b"\n", b"Z", b"+00:00", b".", b"T", b"-", b":", b"9", b"0", b"</wsse:Nonce>",
             b"<wsse:Nonce>QUJD</wsse:Nonce>", b"<wsse:UsernameToken>",
             b"</wsse:UsernameToken>", b"#PasswordText", b"xmlns='urn:x'", b"wsu:", b"wsse:")


class TestFuzz(unittest.TestCase):
    def check(self, data, v):
        """Anything the XML parser accepts is either the right user or NotAuthorized."""
        try:
            security = parse(data)
        except XmlError:
            return 0
        try:
            user = v.verify(security, secure_transport=True)
        except SoapFault as fault:
            self.assertEqual(fault.reason, "Sender not Authorized")
            return 1
        self.assertIn(user, USERS)
        return 1

    def test_mutated_bytes(self):
        rng = Rng(4)
        seeds = [prefixed().encode(), default_ns().encode(),
                 prefixed(kind=PASSWORD_TEXT).encode()]
        checked = 0
        for _ in range(400):
            data = seeds[rng.below(len(seeds))]
            for _ in range(1 + rng.below(3)):
                at = rng.below(len(data) + 1)
                cut = at + rng.below(8) if rng.below(2) else at
                data = data[:at] + _SNIPPETS[rng.below(len(_SNIPPETS))] + data[cut:]
            checked += self.check(data, verifier(max_nonces=2))
        self.assertTrue(checked > 100, checked)

    def test_mutated_trees(self):
        rng = Rng(5)
        alphabet = "AZaz09+/=:.-TZ \n\xe4\u20ac"

        def text(n):
            return "".join(alphabet[rng.below(len(alphabet))] for _ in range(rng.below(n)))

        for _ in range(300):
            security = tree(default_ns() if rng.below(2) else prefixed())
            token = security.children[0]
            for _ in range(1 + rng.below(3)):
                if not token.children:
                    break
                el = token.children[rng.below(len(token.children))]
                op = rng.below(5)
                if op == 0:
                    token.children.remove(el)
                elif op == 1:
                    token.children.append(el)
                elif op == 2:
                    el.text = text(40)
                elif op == 3:
                    el.attrs = {("", "Type"): text(12), ("", "EncodingType"): text(12)}
                else:
                    el.children.append(tree("<x/>"))
            try:
                verifier().verify(security, secure_transport=bool(rng.below(2)))
            except SoapFault as fault:
                self.assertEqual(fault.reason, "Sender not Authorized")
