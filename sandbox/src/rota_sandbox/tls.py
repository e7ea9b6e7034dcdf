"""The sandbox's local PKI: a private CA and a server certificate it signed.

Clients trust the sandbox by pointing at ``ca.pem`` (``httpx.get(url, verify=...)``,
``curl --cacert``), exactly as they would trust a company CA, so a TLS check against the
sandbox exercises real verification instead of ``verify=False``.

The CA is kept across calls on the same directory, so re-issuing the server certificate
(a renewal drill, or a short-lived certificate for an expiry drill) never breaks clients
that already trust ``ca.pem``. Pass ``new_ca=True`` to start over.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "cert_not_after", "make_pki"]

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
CERT = "server.pem"
KEY = "server-key.pem"

_CA_DAYS = 3650
_ORG = "rota sandbox"


@dataclass(frozen=True)
class Pki:
    """Where the sandbox's CA and server certificate live, and when the server cert expires."""

    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path
    not_before: datetime
    not_after: datetime
    hosts: tuple[str, ...]

    @property
    def expired(self) -> bool:
        return self.not_after <= datetime.now(UTC)


def make_pki(
    dir: Path,
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    *,
    days: float = 90,
    lifetime_days: float = 90,
    new_ca: bool = False,
    now: datetime | None = None,
) -> Pki:
    """Issue a server certificate for ``hosts`` that expires ``days`` from now.

    ``days`` may be small (an expiry warning drill) or negative (already expired). The
    certificate is back-dated so its whole validity spans ``lifetime_days``: a 10-day
    certificate looks like a 90-day one issued 80 days ago, which is what a checker that
    alerts on the fraction of lifetime left must see.
    """
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    ca_key, ca_cert = _load_or_make_ca(dir, now=now, new=new_ca)

    not_after = now + timedelta(days=days)
    # Keep five minutes of slack for clock skew between this process and a client.
    not_before = min(not_after - timedelta(days=lifetime_days), now - timedelta(minutes=5))
    key = ec.generate_private_key(ec.SECP256R1())
    san: list[x509.GeneralName] = []
    for host in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            san.append(x509.DNSName(host))
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0] if hosts else "sandbox"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(_leaf_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(dir / KEY, _key_pem(key))
    (dir / CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(
        ca_cert=dir / CA_CERT,
        ca_key=dir / CA_KEY,
        cert=dir / CERT,
        key=dir / KEY,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        hosts=tuple(hosts),
    )


def cert_not_after(path: Path) -> datetime:
    """The expiry date (UTC) of the first certificate in a PEM file."""
    return x509.load_pem_x509_certificate(Path(path).read_bytes()).not_valid_after_utc


def _load_or_make_ca(
    dir: Path, *, now: datetime, new: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    cert_path, key_path = dir / CA_CERT, dir / CA_KEY
    if not new and cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > now:
            return key, cert
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name("rota sandbox CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (and replaced atomically) so the key is never readable by
    # others, not even for the instant between write and chmod.
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
