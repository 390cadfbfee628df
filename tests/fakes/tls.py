"""A throwaway certificate authority, so a fake server can speak https to a real client.

httpx trusts the bundle named by `SSL_CERT_FILE`; the bundle written here holds certifi's roots
plus the throwaway CA, so a process given it still reaches real hosts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

CA_NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "throwaway test CA")])


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    ca_bundle: str


def write_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """Write a CA bundle, and a certificate for `host` (an IP address) with its key."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    ca_pem = _certificate(ca_key, ca_key.public_key(), host=None).public_bytes(_PEM)
    cert_pem = _certificate(ca_key, key.public_key(), host=host).public_bytes(_PEM)
    key_pem = key.private_bytes(
        _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files = TlsFiles(
        str(directory / "cert.pem"), str(directory / "key.pem"), str(directory / "ca.pem")
    )
    Path(files.cert).write_bytes(cert_pem + ca_pem)
    Path(files.key).write_bytes(key_pem)
    Path(files.ca_bundle).write_bytes(Path(certifi.where()).read_bytes() + ca_pem)
    return files


_PEM = serialization.Encoding.PEM


def _certificate(
    ca_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey, *, host: str | None
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = (
        CA_NAME if host is None else x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, host)])
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(CA_NAME)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=host is None, path_length=None), critical=True)
    )
    if host is not None:
        names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))])
        builder = builder.add_extension(names, critical=False)
    return builder.sign(ca_key, hashes.SHA256())
