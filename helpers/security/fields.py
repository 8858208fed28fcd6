"""Encrypting a sensitive field end to end: the producer encrypts it, only consumers holding the
key can read it, and the broker (and anyone reading the topic) sees ciphertext. Fernet, from the
`cryptography` package: AES-128 in CBC mode with an HMAC-SHA256, and a timestamp.

The key comes from the environment (`LAB_FIELD_KEY`) or a 0600 file beside the lab's other
secrets, never from code or a notebook.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.fernet import Fernet

from lab.brokers import credentials, state

KEY_VARIABLE = "LAB_FIELD_KEY"


def field_key() -> bytes:
    """The field-encryption key: $LAB_FIELD_KEY if set, else the lab's key file (made once)."""
    if key := os.environ.get(KEY_VARIABLE):
        return key.encode()
    path = credentials.directory() / "field.key"
    if not path.exists():
        credentials.ensure()
        with state.locked():  # one key, even when two kernels ask for it at once
            if not path.exists():
                credentials.write_private(path, Fernet.generate_key().decode())
    return path.read_text().strip().encode()


def encrypt_field(order: dict[str, Any], field: str, fernet: Fernet) -> dict[str, Any]:
    return {**order, field: fernet.encrypt(order[field].encode()).decode()}


def decrypt_field(order: dict[str, Any], field: str, fernet: Fernet) -> dict[str, Any]:
    return {**order, field: fernet.decrypt(order[field].encode()).decode()}
