"""TLS certificates for a SuperLink and authentication keys for agents (SuperNodes), as Flower expects them.

* :func:`make_certificates`: a self-signed CA (``ca.crt``) and a server certificate
  (``server.pem``/``server.key``) for the SuperLink's host names and addresses. Agents and
  ``flwr run`` trust ``ca.crt``; the SuperLink's own ServerApp runner connects to it over
  127.0.0.1, so that address is always included.
* :func:`make_agent_key`: an ECDSA P-384 key pair in OpenSSH format (the format
  ``flower-supernode --auth-supernode-private-key`` reads); the public half is what
  ``flwr supernode register`` takes.

For production use certificates from your organisation's CA; these are for tests and
for small deployments that manage their own trust.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from ..atomic import atomic_path


def _write_all(files: Sequence[tuple[Path, bytes, int]]) -> None:
    """Write every (path, bytes, mode), each atomically; if one fails, the ones written here are removed again
    (so a failure leaves no mismatched set of keys and certificates)."""
    written: list[Path] = []
    try:
        for path, data, mode in files:
            with atomic_path(path, mode=mode) as tmp:
                tmp.write_bytes(data)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def make_certificates(folder: str | Path, hosts: Sequence[str] = ("localhost",), days: int = 365) -> dict[str, Path]:
    """Write ``ca.crt``, ``ca.key``, ``server.pem``, ``server.key`` into ``folder``; return their paths.

    All four are made first, then written (each atomically; all or none).

    ``hosts``: DNS names or IP addresses the SuperLink is reached at (127.0.0.1 and
    localhost are always added).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=int(days))
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otmix federation CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys([*hosts, "localhost", "127.0.0.1", "::1"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_key = ec.generate_private_key(ec.SECP384R1())
    common_name = str(hosts[0]) if hosts else "localhost"
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(end)
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))

    def pkcs8(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    paths = {name: folder / name for name in ("ca.crt", "ca.key", "server.pem", "server.key")}
    _write_all([(paths["ca.crt"], ca.public_bytes(serialization.Encoding.PEM), 0o644),
                (paths["ca.key"], pkcs8(ca_key), 0o600),
                (paths["server.pem"], server.public_bytes(serialization.Encoding.PEM), 0o644),
                (paths["server.key"], pkcs8(server_key), 0o600)])
    return paths


def make_agent_key(path: str | Path) -> tuple[Path, Path]:
    """Write an agent's private key at ``path`` (0600) and its public key at ``path + '.pub'``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = Path(path)
    private.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    public = private.with_name(private.name + ".pub")
    _write_all([(private, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                            serialization.NoEncryption()), 0o600),
                (public, key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                       serialization.PublicFormat.OpenSSH) + b"\n", 0o644)])
    return private, public
