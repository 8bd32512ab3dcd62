"""TLS identity: a per-process Ed25519 certificate whose extension carries the node key's signature over the
certificate's public key (libp2p's TLS handshake pattern), and the check that turns a peer's certificate into
its node id."""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from eth_utils import keccak

from ..errors import NodeError
from .identity import NodeKey, verify

ALPN = "pamchain-p2p/2"
# What the node key signs: this prefix followed by the DER SubjectPublicKeyInfo of the TLS certificate key
# (libp2p signs "libp2p-tls-handshake:" + SPKI; our own prefix keeps the two protocols' signatures apart).
SIGNATURE_PREFIX = b"pamchain-tls-handshake:"
# A UUID-derived OID (ITU-T X.667 arc 2.25): needs no registration and cannot clash with anyone's.
EXTENSION_OID = x509.ObjectIdentifier("2.25.55299976456135595642456133138438726672")
# DER of SEQUENCE { OCTET STRING (64) node id, OCTET STRING (65) signature r|s|v }: every field has a fixed
# length, so the encoding is a fixed layout and is checked byte for byte rather than parsed.
_EXT_HEAD, _EXT_MIDDLE = bytes.fromhex("3081850440"), bytes.fromhex("0441")
_EXT_LEN = len(_EXT_HEAD) + 64 + len(_EXT_MIDDLE) + 65
MAX_CERTIFICATE = 4096  # ours is ~500 bytes; anything far larger is not a pamchain certificate
# Fixed validity: a certificate lives as long as its process and proves nothing by its dates (its key is
# fresh per process), so clocks that disagree between sites must never break a link.
_NOT_BEFORE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
# The issuer every node's certificate chains to. Its private key is PUBLIC on purpose (derived from a fixed
# label): it authenticates nothing. It exists because Python's ssl module has no verify callback, so a TLS
# server only requests and accepts a client certificate that chains to a root in its trust store. Every check
# that matters is in ``peer_node_id`` (see docs/network.md, "Transport").
_ISSUER_SEED = hashlib.sha256(b"pamchain-p2p/2 public certificate issuer (not a secret)").digest()
_ISSUER_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pamchain-p2p public issuer")])


class IdentityError(NodeError):
    """A peer's TLS certificate does not prove a node identity."""


def _issuer() -> tuple[ed25519.Ed25519PrivateKey, x509.Certificate]:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(_ISSUER_SEED)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_ISSUER_NAME)
        .issuer_name(_ISSUER_NAME)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True
        )
        .add_extension(ski, critical=False)
        .sign(key, None)
    )
    return key, cert


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _digest(spki: bytes) -> bytes:
    return keccak(SIGNATURE_PREFIX + spki)


@dataclass(frozen=True)
class TlsIdentity:
    """This process's TLS key and certificate, and the two TLS 1.3 contexts (listener, dialer) built on them."""

    node_id: bytes
    certificate_der: bytes
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext

    @classmethod
    def create(cls, key: NodeKey) -> TlsIdentity:
        """A fresh Ed25519 TLS key, certified for ``key`` (its signature over the TLS key's SPKI)."""
        issuer_key, issuer_cert = _issuer()
        tls_key = ed25519.Ed25519PrivateKey.generate()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key.node_id.hex()[:32])]))
            .issuer_name(_ISSUER_NAME)
            .public_key(tls_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_NOT_BEFORE)
            .not_valid_after(_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        spki = tls_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signed = _EXT_HEAD + key.node_id + _EXT_MIDDLE + key.sign(_digest(spki))
        # Not critical: OpenSSL would refuse a critical extension it does not know before we could read it.
        builder = builder.add_extension(x509.UnrecognizedExtension(EXTENSION_OID, signed), critical=False)
        cert = builder.sign(issuer_key, None)
        return cls(
            key.node_id,
            cert.public_bytes(serialization.Encoding.DER),
            _context(ssl.PROTOCOL_TLS_SERVER, cert, tls_key, issuer_cert),
            _context(ssl.PROTOCOL_TLS_CLIENT, cert, tls_key, issuer_cert),
        )


def _context(
    protocol: ssl._SSLMethod,
    cert: x509.Certificate,
    key: ed25519.Ed25519PrivateKey,
    issuer: x509.Certificate,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # peers are named by node id, checked after the handshake, never by host name
    ctx.verify_mode = ssl.CERT_REQUIRED  # listener: request the dialer's certificate and require one
    ctx.load_verify_locations(cadata=issuer.public_bytes(serialization.Encoding.DER))
    ctx.set_alpn_protocols([ALPN])
    # ssl loads keys only from files: a private directory, removed as soon as the context has read them.
    with tempfile.TemporaryDirectory(prefix="pamchain-tls-") as folder:
        key_path, cert_path = Path(folder) / "key.pem", Path(folder) / "cert.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as sink:
            sink.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


def peer_node_id(tls: ssl.SSLObject | None) -> bytes:
    """The node id a completed TLS 1.3 handshake proves, or IdentityError.

    TLS itself has already checked that the peer holds the private key of the certificate it sent (the
    CertificateVerify signature over the handshake transcript). Here: the link is TLS 1.3 with our ALPN; the
    certificate is one Ed25519 certificate of sane size; it carries our extension exactly once, with the fixed
    layout; and the signature in it, over prefix + this certificate's SPKI, recovers to the node id it names.
    """
    if tls is None:
        raise IdentityError("not a TLS link")
    if tls.version() != "TLSv1.3":
        raise IdentityError(f"TLS version {tls.version()} (only TLS 1.3)")
    if tls.selected_alpn_protocol() != ALPN:
        raise IdentityError(f"peer does not speak {ALPN}")
    der = tls.getpeercert(binary_form=True)
    if not der:
        raise IdentityError("peer presented no certificate")
    if len(der) > MAX_CERTIFICATE:
        raise IdentityError(f"peer certificate too large ({len(der)} bytes)")
    try:
        cert = x509.load_der_x509_certificate(der)
        if not isinstance(cert.public_key(), ed25519.Ed25519PublicKey):
            raise IdentityError("peer certificate key is not Ed25519")
        value = cert.extensions.get_extension_for_oid(EXTENSION_OID).value
    except x509.ExtensionNotFound:
        raise IdentityError("peer certificate carries no node identity") from None
    except (
        ValueError,
        UnsupportedAlgorithm,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise IdentityError(f"malformed peer certificate: {type(exc).__name__}") from exc
    signed = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    if len(signed) != _EXT_LEN or signed[:5] != _EXT_HEAD or signed[69:71] != _EXT_MIDDLE:
        raise IdentityError("malformed node identity extension")
    node_id, signature = signed[5:69], signed[71:]
    if not verify(node_id, _digest(_spki(cert)), signature):
        raise IdentityError("node key signature over the certificate key is invalid")
    return node_id
