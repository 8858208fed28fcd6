"""The secured brokers' secrets: a certificate authority, a server certificate for `localhost`, a
second, unrelated authority (for a client that trusts the wrong one), and a password per user.

Generated once per lab under `.brokers/secure/` (mode 0700, every file 0600), never committed
(`.brokers/` is ignored) and never printed: read a password with `password(user)` where a client
needs it. `make clean` deletes them with the rest of `.brokers/`.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from . import state
from .config import state_dir

# Who may use the secured brokers; each gets a random password.
USERS = (
    "admin",  # Kafka and Redis: may do anything; RabbitMQ: the administrator tag
    "controller",  # Kafka's controller listener (broker to controller), PLAIN
    "writer",  # produces orders
    "reader",  # consumes orders
    "orders-app",  # RabbitMQ: the `orders` virtual host only
    "billing-app",  # RabbitMQ: the `billing` virtual host only
)
VALID_FOR = datetime.timedelta(days=825)


@dataclass(frozen=True)
class Material:
    ca: Path  # PEM: the lab's certificate authority (clients trust it)
    certificate: Path  # PEM: localhost's certificate, signed by the lab's authority
    key: Path  # PEM, PKCS#8, unencrypted: readable by the broker processes only (0600)
    bundle: Path  # key + certificate in one PEM file: Kafka's PEM keystore
    other_ca: Path  # PEM: an authority that signed nothing the lab runs


def directory() -> Path:
    return state_dir() / "secure"


TLS_FILES = ("ca.pem", "localhost.pem", "localhost-key.pem", "localhost-bundle.pem", "other-ca.pem")
PASSWORDS = "passwords.json"


def ensure() -> Material:
    """The lab's secrets, generated on first use. Generated under the provisioning lock (one
    process at a time) into a private temporary folder, then moved into place by rename: a
    reader sees a whole set or none, never a key of one run beside a certificate of another."""
    home = directory()
    if not _complete(home):
        with state.locked():
            if not _complete(home):
                _generate_into(home)
    return Material(*(home / name for name in TLS_FILES))


def password(user: str) -> str:
    """A user's password, for a client to log in with. Never print it."""
    passwords = _passwords()
    if user not in passwords:
        raise KeyError(f"no secured-broker user {user!r}; the users are {', '.join(USERS)}")
    return passwords[user]


def digests(users: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Each user's password as a SHA-256 digest (of a random 24-byte token: not reversible). A
    broker's folder records those its stored users were made with, so a start can tell which
    passwords the file has changed since."""
    passwords = _passwords()
    return {u: hashlib.sha256(passwords[u].encode()).hexdigest() for u in users}


def passwords_file() -> Path:
    return directory() / PASSWORDS


def _passwords() -> dict[str, str]:
    ensure()
    passwords: dict[str, str] = json.loads(passwords_file().read_text())
    return passwords


def _complete(home: Path) -> bool:
    return all((home / name).exists() for name in (*TLS_FILES, PASSWORDS))


def _generate_into(home: Path) -> None:
    """What is missing from `home`, made in a private folder beside it and renamed into place:
    the whole folder at once the first time; later, a whole set of TLS files (a new key with
    its own certificate) or a new password file."""
    root = state.private_state_dir()
    scratch = Path(tempfile.mkdtemp(prefix=".secure-", dir=root))  # mode 0700
    try:
        tls_missing = not all((home / name).exists() for name in TLS_FILES)
        if tls_missing:
            _generate(Material(*(scratch / name for name in TLS_FILES)))
        if not (home / PASSWORDS).exists():
            passwords = {u: secrets.token_urlsafe(24) for u in USERS}
            write_private(scratch / PASSWORDS, json.dumps(passwords))
        if not home.exists():
            os.rename(scratch, home)
            return
        home.chmod(0o700)
        for draft in sorted(scratch.iterdir(), key=lambda p: p.name == "ca.pem"):  # ca.pem last
            os.replace(draft, home / draft.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _generate(m: Material) -> None:
    ca_key, ca_cert = _authority("Message Queues Lab CA")
    _other_key, other_cert = _authority("Some Other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )  # fmt: skip
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    write_private(m.ca, ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    write_private(m.other_ca, other_cert.public_bytes(serialization.Encoding.PEM).decode())
    write_private(m.certificate, cert_pem.decode())
    write_private(m.key, key_pem.decode())
    write_private(m.bundle, (key_pem + cert_pem).decode())


def _authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """What a key may be used for: the named usages, and none of the others."""
    usages = ("digital_signature", "content_commitment", "key_encipherment",
              "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
              "encipher_only", "decipher_only")  # fmt: skip
    return x509.KeyUsage(**{usage: usage in allowed for usage in usages})


def write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only, from the first byte (no window at 0644): a new
    file (O_EXCL) written aside and renamed over any old one, so a reader sees the old or the
    new content whole."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)
