"""agent.digest on both runtimes: RFC worked examples, round trips and every refusal.

The client side is computed here from the RFC 7616 3.4.1 formulas with compat's hashes, not with
agent.digest's own response_digest, so a mistake there cannot cancel itself out.
"""

import binascii
import random
import unittest

from agent import compat
from agent.digest import MAX_HEADER, DigestAuth, DigestFailure, parse_credentials, response_digest
from agent.errors import LocalProtocolError
from tests.support import Clock

REALM = "onvif-agent@urn:uuid:5f0c8d1e-0000-4000-8000-000000000001"
SECRET = b"0123456789abcdef0123456789abcdef"
URI = "/onvif/device_service"
USERS = {"admin": "pa55word", "operator": "s3cret \"quoted\" \\ pass", "jos\u00e9": "ni\u00f1o"}
HASHES = {"MD5": compat.md5, "SHA-256": compat.sha256}


def make_auth(clock=None, **options):
    return DigestAuth(USERS.get, realm=REALM, secret=SECRET, clock=clock or Clock(1000.0), **options)


def challenge_param(value, name):
    """One quoted parameter of our own challenge (which never escapes anything)."""
    start = value.index(name + '="') + len(name) + 2
    return value[start:value.index('"', start)]


def challenge(auth, algorithm="MD5", stale=False):
    for _, value in auth.challenges(stale):
        if "algorithm=%s," % algorithm in value:
            return value
    raise AssertionError("no %s challenge" % algorithm)


def hexhash(algorithm, text):
    return binascii.hexlify(HASHES[algorithm](text.encode())).decode()


def quote(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def client_fields(challenge_value, username="admin", password=None, method="POST", uri=URI,
                  nc="00000001", cnonce="0a4f113b", algorithm="MD5"):
    """The auth-params an RFC 7616 client sends, as an ordered list of [name, wire text]."""
    if password is None:
        password = USERS[username]
    nonce = challenge_param(challenge_value, "nonce")
    realm = challenge_param(challenge_value, "realm")
    ha1 = hexhash(algorithm, "%s:%s:%s" % (username, realm, password))
    ha2 = hexhash(algorithm, "%s:%s" % (method, uri))
    response = hexhash(algorithm, ":".join((ha1, nonce, nc, cnonce, "auth", ha2)))
    return [["username", quote(username)], ["realm", quote(realm)], ["nonce", quote(nonce)],
            ["uri", quote(uri)], ["algorithm", algorithm], ["response", quote(response)],
            ["opaque", quote(challenge_param(challenge_value, "opaque"))], ["qop", "auth"],
            ["nc", nc], ["cnonce", quote(cnonce)]]


def render(fields, scheme="Digest"):
    """The header value as agent/http.py hands it over: UTF-8 bytes, one character per byte."""
    text = scheme + " " + ", ".join("%s=%s" % (name, value) for name, value in fields)
    return "".join(map(chr, text.encode()))


def header(challenge_value, **options):
    return render(client_fields(challenge_value, **options))


def replace(fields, name, value):
    for field in fields:
        if field[0] == name:
            field[1] = value
            return fields
    raise AssertionError(name)


def without(fields, name):
    return [f for f in fields if f[0] != name]


class RfcExamplesTest(unittest.TestCase):
    def test_rfc2617_section_3_5(self):
        response = response_digest(
            "MD5", b"Mufasa", b"testrealm@host.com", b"Circle Of Life", b"GET", b"/dir/index.html",
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093", b"00000001", b"0a4f113b", b"auth")
        self.assertEqual(response, b"6629fae49393a05397450978507c4ef1")

    def test_rfc7616_section_3_9_1(self):
        args = (b"Mufasa", b"http-auth@example.org", b"Circle of Life", b"GET", b"/dir/index.html",
                b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", b"00000001",
                b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", b"auth")
        self.assertEqual(response_digest("MD5", *args), b"8ca523f5e9506fed4657c9700eebdbec")
        self.assertEqual(response_digest("SHA-256", *args),
                         b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")


class ChallengeTest(unittest.TestCase):
    def test_sha256_first_then_md5_sharing_one_nonce(self):
        headers = make_auth().challenges()
        self.assertEqual([name for name, _ in headers], ["WWW-Authenticate"] * 2)
        sha, md5 = headers[0][1], headers[1][1]
        self.assertTrue(sha.startswith('Digest realm="%s", qop="auth", algorithm=SHA-256, '
                                       % REALM))
        self.assertTrue(md5.startswith('Digest realm="%s", qop="auth", algorithm=MD5, ' % REALM))
        self.assertEqual(challenge_param(sha, "nonce"), challenge_param(md5, "nonce"))
        self.assertEqual(challenge_param(sha, "opaque"), challenge_param(md5, "opaque"))
        self.assertFalse("stale" in sha + md5)

    def test_stale_flag(self):
        for _, value in make_auth().challenges(stale=True):
            self.assertTrue(value.endswith(", stale=true"), value)

    def test_every_challenge_has_a_new_nonce(self):
        auth = make_auth()
        nonces = [challenge_param(challenge(auth), "nonce") for _ in range(50)]
        self.assertEqual(len(set(nonces)), 50)

    def test_challenges_parse_as_credentials_syntax(self):
        for _, value in make_auth().challenges(stale=True):
            params, quoted = parse_credentials(value)
            self.assertEqual(params["realm"], REALM)
            self.assertEqual(params["stale"], "true")
            self.assertIn("nonce", quoted)

    def test_bad_constructor_arguments(self):
        for realm in ('a"b', "a\\b", "tab\there", "caf\u00e9"):
            with self.assertRaises(LocalProtocolError):
                DigestAuth(USERS.get, realm=realm, secret=SECRET, clock=Clock(1000.0))
        with self.assertRaises(LocalProtocolError):
            DigestAuth(USERS.get, realm=REALM, secret=b"short", clock=Clock(1000.0))


class RoundTripTest(unittest.TestCase):
    def test_md5_and_sha256(self):
        for algorithm in ("MD5", "SHA-256"):
            auth = make_auth()
            value = header(challenge(auth, algorithm), algorithm=algorithm)
            self.assertEqual(auth.verify("POST", URI, value), "admin")

    def test_algorithm_absent_means_md5(self):
        auth = make_auth()
        fields = without(client_fields(challenge(auth)), "algorithm")
        self.assertEqual(auth.verify("POST", URI, render(fields)), "admin")

    def test_nc_counts_up_on_one_nonce(self):
        auth = make_auth()
        value = challenge(auth, "SHA-256")
        for nc in ("00000001", "00000002", "00000007", "0000000a", "000000ff"):
            self.assertEqual(auth.verify("POST", URI, header(value, nc=nc, algorithm="SHA-256")),
                             "admin")

    def test_password_with_quotes_and_non_ascii_user(self):
        auth = make_auth()
        self.assertEqual(auth.verify("POST", URI, header(challenge(auth), username="operator")),
                         "operator")
        self.assertEqual(auth.verify("POST", URI, header(challenge(auth), username="jos\u00e9")),
                         "jos\u00e9")

    def test_lenient_spelling(self):
        auth = make_auth()
        fields = client_fields(challenge(auth))
        replace(fields, "qop", '"auth"')
        replace(fields, "algorithm", '"md5"')
        response = [f for f in fields if f[0] == "response"][0]
        response[1] = response[1].upper()
        value = render(fields, scheme="dIgEsT").replace(", ", " ,\t ,")
        self.assertEqual(auth.verify("POST", URI, value), "admin")

    def test_unknown_params_are_ignored(self):
        auth = make_auth()
        fields = client_fields(challenge(auth)) + [["charset", "UTF-8"], ["x-ext", '"a, b"']]
        self.assertEqual(auth.verify("POST", URI, render(fields)), "admin")

    def test_opaque_may_be_left_out(self):
        auth = make_auth()
        fields = without(client_fields(challenge(auth)), "opaque")
        self.assertEqual(auth.verify("POST", URI, render(fields)), "admin")

    def test_nonce_still_fresh_at_its_lifetime(self):
        clock = Clock(1000.0)
        auth = make_auth(clock, nonce_lifetime_s=60)
        value = challenge(auth)
        clock.now += 60.9
        self.assertEqual(auth.verify("POST", URI, header(value)), "admin")


class RefusalTest(unittest.TestCase):
    def refused(self, auth, value, method="POST", uri=URI):
        with self.assertRaises(DigestFailure) as caught:
            auth.verify(method, uri, value)
        return caught.exception

    def test_stale_nonce(self):
        clock = Clock(1000.0)
        auth = make_auth(clock)
        value = challenge(auth)
        clock.now += 301
        failure = self.refused(auth, header(value))
        self.assertTrue(failure.stale)
        self.assertEqual(failure.reason, "nonce expired")

    def test_expired_nonce_with_a_wrong_password_is_not_stale(self):
        clock = Clock(1000.0)
        auth = make_auth(clock)
        value = challenge(auth)
        clock.now += 301
        self.assertFalse(self.refused(auth, header(value, password="guess")).stale)

    def test_nonce_from_the_future_is_stale(self):
        clock = Clock(5000)
        auth = make_auth(clock)
        value = challenge(auth)
        clock.now = 4000  # the clock was set back
        self.assertTrue(self.refused(auth, header(value)).stale)

    def test_forged_nonces(self):
        auth = make_auth()
        other = DigestAuth(USERS.get, realm=REALM, secret=b"another secret of 32 bytes......",
                           clock=Clock(1000.0))
        value = challenge(auth)
        good = challenge_param(value, "nonce")
        flipped = good[:40] + ("0" if good[40] != "0" else "1") + good[41:]
        for nonce in (challenge_param(challenge(other), "nonce"), flipped, good[:-2], good + "00",
                      "", "g" + good[1:], good.upper(), "dcd98b7102dd2f0e8b11d0f600bfb0c093"):
            failure = self.refused(auth, header(value.replace(good, nonce)))
            self.assertFalse(failure.stale, nonce)
            self.assertEqual(failure.reason, "nonce not made here")

    def test_replayed_nc(self):
        auth = make_auth()
        value = header(challenge(auth))
        auth.verify("POST", URI, value)
        failure = self.refused(auth, value)
        self.assertTrue(failure.stale)

    def test_nc_going_backwards(self):
        auth = make_auth()
        value = challenge(auth)
        auth.verify("POST", URI, header(value, nc="00000005"))
        self.assertTrue(self.refused(auth, header(value, nc="00000004")).stale)
        auth.verify("POST", URI, header(value, nc="00000006"))

    def test_nc_zero_and_malformed(self):
        auth = make_auth()
        value = challenge(auth)
        for nc in ("00000000", "1", "000000001", "0000000g", "+0000001", "0000_001", " 0000001",
                   "000000FF"):
            fields = replace(client_fields(value), "nc", '"%s"' % nc)
            self.assertFalse(self.refused(auth, render(fields)).stale, nc)

    def test_failed_attempt_does_not_advance_nc(self):
        auth = make_auth()
        value = challenge(auth)
        self.refused(auth, header(value, nc="00000009", password="guess"))
        self.assertEqual(auth.verify("POST", URI, header(value, nc="00000002")), "admin")

    def test_wrong_uri(self):
        auth = make_auth()
        value = challenge(auth)
        for uri in ("/onvif/device_service/", "/onvif/device_service?x=1",
                    "http://host/onvif/device_service", "/onvif/Device_service"):
            self.assertFalse(self.refused(auth, header(value, uri=uri)).stale, uri)
        self.assertFalse(self.refused(auth, header(value), uri="/onvif/events").stale)

    def test_wrong_method(self):
        auth = make_auth()
        value = header(challenge(auth), method="GET")
        self.assertEqual(self.refused(auth, value, method="POST").reason, "wrong password")

    def test_wrong_password_and_unknown_user_look_alike(self):
        auth = make_auth()
        wrong = self.refused(auth, header(challenge(auth), password="pa55wore"))
        unknown = self.refused(auth, header(challenge(auth), username="mallory", password="x"))
        self.assertIs(type(wrong), type(unknown))
        self.assertFalse(wrong.stale)
        self.assertFalse(unknown.stale)
        self.assertEqual((wrong.reason, unknown.reason), ("wrong password", "unknown user"))

    def test_missing_fields(self):
        auth = make_auth()
        value = challenge(auth)
        for name in ("username", "realm", "nonce", "uri", "response", "cnonce", "qop", "nc"):
            failure = self.refused(auth, render(without(client_fields(value), name)))
            self.assertEqual(failure.reason, "%s missing" % name)

    def test_qop_auth_int_and_others(self):
        auth = make_auth()
        for qop in ("auth-int", '"auth,auth-int"', "AUTH", '""'):
            fields = replace(client_fields(challenge(auth)), "qop", qop)
            self.assertFalse(self.refused(auth, render(fields)).stale, qop)

    def test_unknown_and_sess_algorithms(self):
        auth = make_auth()
        for algorithm in ("MD5-sess", "SHA-256-sess", "SHA-512-256", "SHA1", "sha-512"):
            fields = replace(client_fields(challenge(auth)), "algorithm", algorithm)
            self.assertFalse(self.refused(auth, render(fields)).stale, algorithm)

    def test_userhash(self):
        auth = make_auth()
        fields = client_fields(challenge(auth)) + [["userhash", "true"]]
        self.assertEqual(self.refused(auth, render(fields)).reason, "userhash not supported")
        fields = client_fields(challenge(auth)) + [["userhash", "false"]]
        self.assertEqual(auth.verify("POST", URI, render(fields)), "admin")

    def test_username_must_be_quoted(self):
        auth = make_auth()
        fields = replace(client_fields(challenge(auth)), "username", "admin")
        self.assertEqual(self.refused(auth, render(fields)).reason,
                         "username must be a quoted-string")

    def test_wrong_realm_and_opaque(self):
        auth = make_auth()
        fields = replace(client_fields(challenge(auth)), "realm", '"other"')
        self.assertEqual(self.refused(auth, render(fields)).reason, "wrong realm")
        fields = replace(client_fields(challenge(auth)), "opaque", '"0123"')
        self.assertEqual(self.refused(auth, render(fields)).reason, "wrong opaque")

    def test_other_schemes_and_shapes(self):
        auth = make_auth()
        good = header(challenge(auth))
        for value in ("Basic YWRtaW46cGE1NXdvcmQ=", "Digest", "Digest ", "Digest abc==",
                      "Digest,username=\"a\"", "Digestusername=\"a\"", "", " ", "Digest =x",
                      good + ', nc=00000002', good.replace('username="admin"', 'username="adm'),
                      good.replace('username="admin"', 'username="ad\x01min"'),
                      good.replace(", ", " "), good + ",x", good + ", x=", good + ", x=\"\\"):
            self.assertFalse(self.refused(auth, value).stale, value)

    def test_oversized_and_too_many_params(self):
        auth = make_auth()
        fields = client_fields(challenge(auth))
        padding = [["x", '"%s"' % ("a" * (MAX_HEADER - len(render(fields))))]]
        self.assertEqual(self.refused(auth, render(fields + padding)).reason,
                         "credentials longer than %d" % MAX_HEADER)
        many = fields + [["x%d" % i, "1"] for i in range(20)]
        self.assertEqual(self.refused(auth, render(many)).reason, "more than 20 auth-params")

    def test_not_text(self):
        for value in (None, b'Digest username="admin"', 42):
            self.refused(make_auth(), value)

    def test_characters_no_header_can_carry(self):
        auth = make_auth()
        value = header(challenge(auth))
        reason = self.refused(auth, value.replace("0a4f113b", "0a4f\u0100")).reason
        self.assertTrue(reason.startswith("character not allowed in a quoted-string at "), reason)
        self.assertEqual(self.refused(auth, value, method="P\u0100ST").reason,
                         "character outside latin-1")


class EvictionTest(unittest.TestCase):
    def test_least_recently_used_nonce_is_forgotten_and_then_stale(self):
        auth = make_auth(max_tracked_nonces=2)
        first, second, third = (challenge(auth) for _ in range(3))
        auth.verify("POST", URI, header(first))
        auth.verify("POST", URI, header(second))
        auth.verify("POST", URI, header(first, nc="00000002"))  # `second` is now the oldest
        auth.verify("POST", URI, header(third))  # evicts `second`
        failure = self.refused(auth, header(second, nc="00000002"))
        self.assertTrue(failure.stale)
        self.assertEqual(failure.reason, "nonce no longer tracked")
        self.assertEqual(auth.verify("POST", URI, header(first, nc="00000003")), "admin")
        self.assertEqual(auth.verify("POST", URI, header(challenge(auth))), "admin")

    def test_unused_nonces_older_than_an_evicted_one_are_stale(self):
        auth = make_auth(max_tracked_nonces=1)
        unused = challenge(auth)
        first, second = challenge(auth), challenge(auth)
        auth.verify("POST", URI, header(first))
        auth.verify("POST", URI, header(second))  # evicts `first`
        self.assertTrue(self.refused(auth, header(unused)).stale)
        self.assertTrue(self.refused(auth, header(first, nc="00000002")).stale)

    def refused(self, auth, value):
        with self.assertRaises(DigestFailure) as caught:
            auth.verify("POST", URI, value)
        return caught.exception


class FuzzTest(unittest.TestCase):
    """Random and mutated credentials: verify() answers a user name or DigestFailure, only."""

    ALPHABET = ('"', "\\", ",", "=", " ", "\t", "\x00", "\x7f", "\xff", "\u0100", "a", "0", "\r\n",
                "Digest ", "nc=", "00000001", 'username="admin"', "qop=auth", '""', "-sess")

    def mutate(self, value):
        for _ in range(random.randint(1, 3)):
            at = random.randint(0, len(value))
            op = random.randint(0, 4)
            if op == 0:
                value = value[:at] + value[at + random.randint(1, 8):]
            elif op == 1:
                value = value[:at] + random.choice(self.ALPHABET) + value[at:]
            elif op == 2:
                value = value[:at]
            elif op == 3:
                value = value[:at] + chr(random.randint(0, 255)) + value[at + 1:]
            else:
                end = min(len(value), at + random.randint(1, 40))
                value = value[:end] + value[at:end] + value[end:]
        return value

    def check(self, auth, value):
        try:
            self.assertTrue(isinstance(auth.verify("POST", URI, value), str))
        except DigestFailure:
            pass

    def test_mutated_headers(self):
        random.seed(7616)
        auth = make_auth()
        values = [header(challenge(auth, a), algorithm=a) for a in ("MD5", "SHA-256")]
        for i in range(2000):
            self.check(auth, self.mutate(values[i % 2]))

    def test_random_headers(self):
        random.seed(2617)
        auth = make_auth()
        for _ in range(1000):
            pieces = [random.choice(self.ALPHABET) for _ in range(random.randint(0, 30))]
            self.check(auth, "Digest " + "".join(pieces))
            chars = [chr(random.randint(0, 300)) for _ in range(random.randint(0, 40))]
            self.check(auth, "".join(chars))
