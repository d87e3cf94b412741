"""HTTPS for the selector loop: the device certificate, the server context, TLS per connection.

CPython only (checklist 11: MicroPython boards report no TLS). Nothing here is imported unless
HTTPS is asked for, and every import outside the common subset is guarded, so a missing `ssl` or
`cryptography` turns HTTPS off with a reason (TlsUnavailable) instead of failing the agent.

TLS is sans-IO here (`ssl.SSLContext.wrap_bio`): the SSL object reads and writes memory buffers,
never the socket. The server moves ciphertext exactly as it moves HTTP bytes, so its deadlines,
back-pressure and eviction apply unchanged, and the SSLSocket gotchas of non-blocking use cannot
occur: no decrypted bytes wait inside the SSL object unseen by poll (every read drains it until
SSLWantReadError), no partial write has to be retried with the same buffer (a memory BIO takes
all of it) and no read waits for the socket to become writable.
"""

import os

from . import compat, log
from .errors import AgentError, ConfigError

try:
    import calendar
    import ssl
except ImportError:  # a runtime without TLS
    ssl = None

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 3650
# TLS 1.2: forward secrecy and AEAD only (checklist 11 "modern practice"; the Core 2.x CBC/RSA
# key-exchange list is not offered). TLS 1.3 suites are set apart by OpenSSL and all AEAD.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
READ_SIZE = 16384  # one TLS record's plaintext at most


class TlsUnavailable(AgentError):
    """HTTPS cannot be offered on this installation; the message says why."""


def server_context(cert_file, key_file):
    """An SSLContext for serving with this certificate chain and key (checklist 11)."""
    _require_ssl()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # verify_mode CERT_NONE: no client cert
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    # OP_NO_COMPRESSION: CRIME. OP_NO_RENEGOTIATION: a TLS 1.2 client cannot make a read wait on
    # a write (or cost a handshake) mid-connection.
    context.options |= (ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
                        | ssl.OP_CIPHER_SERVER_PREFERENCE)
    try:
        context.load_cert_chain(cert_file, key_file)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError("cannot use TLS certificate %s with key %s: %s"
                          % (cert_file, key_file, getattr(exc, "reason", None) or exc))
    return context


def _require_ssl():
    if ssl is None or not hasattr(ssl, "MemoryBIO"):
        raise TlsUnavailable("this Python has no ssl module with memory BIOs")


def device_certificate(directory, hostname, addresses, now=None):
    """Paths (cert, key) of the device's self-signed certificate, made on first start.

    An existing pair is kept while it is whole, matching and unexpired, checked with `ssl` alone:
    `cryptography` (some 13 MB of resident memory) is loaded only to make a new EC P-256 key
    and certificate, written with the key mode 0600 and each file replaced atomically, for the
    host name, "localhost", 127.0.0.1, ::1 and `addresses` (IPv4 and IPv6; link-local ones are left
    out: a certificate cannot name an address that only has a meaning with its zone), valid
    VALID_DAYS from a day ago. `now` is in Unix seconds.
    """
    _require_ssl()
    now = compat.utc_seconds() if now is None else now
    cert_path = directory + "/" + CERT_FILE
    key_path = directory + "/" + KEY_FILE
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
        with open(cert_path) as f:
            if _not_after(f.read()) > now:
                return cert_path, key_path
        log.info("TLS certificate %s has expired: making a new one", cert_path)
    except (OSError, ValueError, IndexError):
        pass  # first start, or a pair cut short by a power loss (a mismatch): make it again
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise TlsUnavailable("the cryptography package is not installed "
                             "(pip install 'onvif-agent[tls]') to make the device certificate")

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost")]
    if _is_dns_name(hostname):
        names[:0] = [x509.DNSName(hostname), x509.DNSName(hostname + ".local")]
    ips = []
    for text in ["127.0.0.1", "::1"] + list(addresses):
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip not in ips and not ip.is_link_local:
            ips.append(ip)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            hostname[:64] if hostname else "onvif-agent")])
    # From a day ago: a client whose clock is a little behind still accepts it.
    start = datetime.datetime.fromtimestamp(now - 86400, datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(
                names + [x509.IPAddress(ip) for ip in ips]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # The key first: a power loss between the two leaves a mismatch, remade on next start.
        _write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        compat.write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise ConfigError("cannot write the TLS certificate in %s: %s" % (directory, exc))
    log.debug("made TLS certificate %s for %s", cert_path,
              ", ".join([n.value for n in names] + [str(ip) for ip in ips]))
    return cert_path, key_path


_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def _is_dns_name(name):
    """A host name that fits a dNSName SAN (RFC 5280 4.2.1.6: LDH labels)."""
    labels = name.split(".") if name else []
    return bool(labels) and len(name) <= 253 and all(
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c in _LABEL_CHARS for c in label) for label in labels)


def _write_private(path, data):
    """Like compat.write_atomic, but the file is created 0600: never readable by others."""
    tmp = path + ".tmp"
    try:
        os.remove(tmp)  # O_CREAT keeps an existing file's mode
    except FileNotFoundError:
        pass
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
        compat.fsync(f)
    compat.replace(tmp, path)


def _not_after(pem):
    """A PEM certificate's notAfter in Unix seconds, read from its DER (RFC 5280 4.1)."""
    tbs = _der_items(_der_items(_der_items(ssl.PEM_cert_to_DER_cert(pem))[0][1])[0][1])
    validity = tbs[4 if tbs[0][0] == 0xA0 else 3][1]  # after [0] version, serial, alg, issuer
    tag, value = _der_items(validity)[1]
    text = value.decode()  # UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ
    if tag == 0x17:
        text = ("19" if text[:2] >= "50" else "20") + text
    return calendar.timegm([int(text[:4])] + [int(text[i:i + 2]) for i in range(4, 14, 2)])


def _der_items(data):
    """The (tag, content) of each DER element in `data`."""
    items, i = [], 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[i:i + size], "big")
            i += size
        items.append((tag, data[i:i + length]))
        i += length
    return items


class TlsSession:
    """One connection's TLS, sans-IO, around its plaintext agent.session.Session.

    Same face as Session for the server: `receive(ciphertext)`, `step()`, `busy`, `closed`;
    ciphertext leaves through `send`. `make_session(send)` builds the inner Session.
    """

    def __init__(self, context, make_session, send, peer):
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_side=True)
        self._send = send
        self._plain = []
        self.peer = peer
        self.inner = make_session(self._plain.append)
        self.handshaking = True
        self.failed = False
        self._heard = False

    @property
    def busy(self):
        """Bytes of a handshake, a TLS record or a request arrived and are not yet acted on.

        Before the ClientHello's first byte a connection counts as idle (evictable at the
        connection cap); the server's handshake deadline runs from accept all the same.
        """
        return (self.handshaking and self._heard) or self._in.pending > 0 or self.inner.busy

    @property
    def closed(self):
        return self.failed or self.inner.closed

    @property
    def waiting(self):
        return self.inner.waiting

    def abandon(self):
        self.inner.abandon()

    def receive(self, data):
        if self.failed:
            return
        if not data:  # the peer's EOF (no close_notify needed: HTTP frames its own messages)
            if self.handshaking:
                self.failed = True
            else:
                self.inner.receive(b"")
            return
        self._heard = True
        self._in.write(data)
        try:
            if self.handshaking:
                self._tls.do_handshake()
                self.handshaking = False
            self._read()
        except ssl.SSLWantReadError:
            pass  # the handshake needs more of the peer's bytes
        except ssl.SSLError as exc:
            # Garbage, plain HTTP, an old protocol or no common suite (clause 11: TLS 1.2+ only).
            log.info("TLS %s with %s failed: %s", "handshake" if self.handshaking else "record",
                     self.peer, exc.reason or exc)
            self.failed = True
        self._flush()  # handshake records, or the alert explaining a failure

    def _read(self):
        """Hand every byte the SSL object can decrypt now to the inner session."""
        data = []
        eof = False
        try:
            while True:
                chunk = self._tls.read(READ_SIZE)
                if not chunk:
                    eof = True  # the peer's close_notify
                    break
                data.append(chunk)
        except ssl.SSLWantReadError:
            pass
        if data:
            self.inner.receive(b"".join(data))
        if eof:
            self.inner.receive(b"")

    def step(self):
        if self.failed:
            return False
        answered = self.inner.step()
        if self._plain:
            # One write per step: a response's ~1 KiB pieces travel in full-size records.
            self._tls.write(b"".join(self._plain))
            del self._plain[:]
            self._flush()
        return answered

    def _flush(self):
        if self._out.pending:
            self._send(self._out.read())
