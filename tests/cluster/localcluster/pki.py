"""Certificates, keys and tokens for the local control plane.

A throw-away CA signs the API server's serving certificate and the client
certificates of the identities; the service-account signing key and a static
token file complete what kube-apiserver needs. Private material is written
with mode 0600 and never printed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Identity:
    """A user of the local API server and how it authenticates."""

    name: str
    groups: tuple[str, ...] = ()
    auth: str = "cert"  # "cert" (client certificate) or "token" (bearer token)


# The identities tests use; the system ones are what the control-plane
# components and the simulator run as, so the audit log tells them apart.
IDENTITIES: tuple[Identity, ...] = (
    Identity("admin", ("system:masters",)),
    Identity("automation", (), "token"),
    Identity("developer", (), "token"),
    Identity("tenant", ("kata-users",)),
    Identity("system:kube-controller-manager"),
    Identity("system:kube-scheduler"),
    Identity("system:sim:machine-config-operator", ("system:masters",)),
)

TEST_USERS = ("admin", "automation", "developer", "tenant")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(subject: x509.Name, key, issuer_cert, issuer_key, *, ca: bool = False,
          server_names: tuple[str, ...] = (), client: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server_names:
        alt: list[x509.GeneralName] = []
        for n in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _file_name(user: str) -> str:
    return user.replace(":", "-")


class PKI:
    """The files under <cluster dir>/pki; created once and reused by restarts."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    @property
    def tokens_csv(self) -> Path:
        return self.dir / "tokens.csv"

    def client_cert(self, user: str) -> Path:
        return self.dir / "users" / f"{_file_name(user)}.crt"

    def client_key(self, user: str) -> Path:
        return self.dir / "users" / f"{_file_name(user)}.key"

    def token(self, user: str) -> str:
        for line in self.tokens_csv.read_text().splitlines():
            tok, name = line.split(",")[:2]
            if name == user:
                return tok
        raise KeyError(f"no token for {user}")

    def exists(self) -> bool:
        return self.tokens_csv.exists()

    def create(self) -> None:
        """Creates every file; existing PKI is kept so kubeconfigs stay valid."""
        if self.exists():
            return
        (self.dir / "users").mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert(_name("sandboxed-containers-local-ca"), ca_key, None, None, ca=True)
        self.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        _write_private(self.ca_key, _key_pem(ca_key))

        key = ec.generate_private_key(ec.SECP256R1())
        serving = _cert(
            _name("kube-apiserver"), key, ca, ca_key,
            server_names=("localhost", "127.0.0.1", "kubernetes", "kubernetes.default",
                          "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
                          "10.0.0.1"),
        )
        self.serving_cert.write_bytes(serving.public_bytes(serialization.Encoding.PEM))
        _write_private(self.serving_key, _key_pem(key))

        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(self.sa_key, _key_pem(sa))
        self.sa_pub.write_bytes(sa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

        lines = []
        for i, ident in enumerate(IDENTITIES, start=1):
            if ident.auth == "token":
                line = f"{secrets.token_hex(24)},{ident.name},uid-{i}"
                if ident.groups:
                    line += ',"' + ",".join(ident.groups) + '"'
                lines.append(line)
                continue
            ukey = ec.generate_private_key(ec.SECP256R1())
            cert = _cert(_name(ident.name, ident.groups), ukey, ca, ca_key, client=True)
            self.client_cert(ident.name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_private(self.client_key(ident.name), _key_pem(ukey))
        _write_private(self.tokens_csv, ("\n".join(lines) + "\n").encode())
