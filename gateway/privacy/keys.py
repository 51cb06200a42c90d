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


_HOW_TO_CREATE = (
    "create one with: python -c 'import secrets,base64;"
    "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'"
)


def _decode(raw: str, source: str = "GATEWAY_MASTER_KEY") -> bytes:
    # Fix: the messages name where the key came from (a malformed key *file* used to be
    # reported as a bad GATEWAY_MASTER_KEY) and both say how to create a valid key.
    text = raw.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(
            f"{source} must be urlsafe base64 of {MASTER_KEY_BYTES} bytes; {_HOW_TO_CREATE}"
        ) from exc
    if len(key) != MASTER_KEY_BYTES:
        raise MasterKeyError(
            f"the master key in {source} must be {MASTER_KEY_BYTES} bytes, got {len(key)}; "
            + _HOW_TO_CREATE
        )
    return key


def _read_key_file(key_file: Path) -> bytes:
    try:
        text = key_file.read_text()
    except OSError as exc:  # fix: an unreadable file raised a bare OSError
        raise MasterKeyError(f"cannot read the master key file {key_file}: {exc}") from exc
    return _decode(text, f"the key file {key_file}")


def load_or_create_master_key(env_value: str | None, key_file: Path) -> bytes:
    """Return the master key from the environment, else from `key_file`, creating it once.

    The file is created with mode 0600 and appears atomically with its content (written to
    a private temporary file, then hard-linked into place, which fails if it exists), so two
    processes starting at once cannot both write a different key, and neither can read a
    half-written one.
    """
    if env_value:
        return _decode(env_value)
    if key_file.exists():
        return _read_key_file(key_file)
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        return _create_key_file(key_file)
    except OSError as exc:  # read-only or not ours: a container's secret mount, say
        raise SystemExit(
            f"cannot create the master key file {key_file}: set GATEWAY_MASTER_KEY (from a "
            "secret store) or mount the key file as a secret at GATEWAY_MASTER_KEY_FILE; keep it "
            "out of the data volume ('consent-gateway keys new' prints a fresh key)"
        ) from exc


def _create_key_file(key_file: Path) -> bytes:
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    # Fix: the key used to be written into the final path after an O_EXCL create, so a
    # second process starting at that moment found an empty file and failed to decode it.
    # Also fchmod: the mode given to os.open is reduced by the umask; 0600 must be exact.
    tmp = key_file.with_name(f".{key_file.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(encoded + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            return _read_key_file(key_file)
        except OSError:  # a filesystem without hard links: create in place, as before
            return _create_in_place(key_file, encoded)
    finally:
        tmp.unlink(missing_ok=True)
    return _decode(encoded)


def _create_in_place(key_file: Path, encoded: str) -> bytes:
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(key_file)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(encoded + "\n")
    return _decode(encoded)


def derive_key(master: bytes, label: str, length: int = 32) -> bytes:
    """An independent key for `label` (HKDF-SHA256), so no two uses share key material."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"consent-gateway/v1", info=label.encode()
    ).derive(master)
