"""The master key and the keys derived from it for each purpose of cryptography."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 32


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed or unreadable; the message says how to fix it."""


def _decode(raw: str) -> bytes:
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError("GATEWAY_MASTER_KEY must be urlsafe base64 of 32 bytes") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(
            f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(key)}; "
            "create one with: python -c 'import secrets,base64;"
            "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'"
        )
    return key


def load_or_create_master_key(env_value: str | None, key_file: Path) -> bytes:
    """Return the master key from the environment, else from `key_file`, creating it once.

    The file is created with mode 0600 and `O_EXCL`, so two processes starting at once
    cannot both write a different key.
    """
    if env_value:
        return _decode(env_value)
    if key_file.exists():
        return _decode(key_file.read_text())
    key_file.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode(key_file.read_text())
    with os.fdopen(fd, "w") as fh:
        fh.write(encoded + "\n")
    return _decode(encoded)


def derive_key(master: bytes, label: str, length: int = 32) -> bytes:
    """An independent key for `label` (HKDF-SHA256), so no two uses share key material."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"consent-gateway/v1", info=label.encode()
    ).derive(master)
