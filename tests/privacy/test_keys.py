"""The master key: from the environment or a 0600 file created once; derived keys."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from gateway.privacy.keys import (
    MASTER_KEY_BYTES,
    MasterKeyError,
    derive_key,
    load_or_create_master_key,
)

VALID_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
HOW_TO = "secrets.token_bytes(32)"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_from_environment_wins(tmp_path: Path) -> None:
    # given: a valid key in the environment variable and no key file
    key_file = tmp_path / "master.key"
    # when: loading
    key = load_or_create_master_key(VALID_KEY, key_file)
    # then: the environment's key, and no file is written
    assert key == bytes(range(32))
    assert not key_file.exists()


@pytest.mark.parametrize("variant", ["padded", "unpadded", "spaced", "standard-alphabet"])
def test_key_encodings_accepted(tmp_path: Path, variant: str) -> None:
    # given: the same 32 bytes written in several tolerable ways
    raw = bytes([250, 251, 252, 253] * 8)  # encodes with - and _ (+ and / in standard base64)
    text = {
        "padded": base64.urlsafe_b64encode(raw).decode(),
        "unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "spaced": " " + base64.urlsafe_b64encode(raw).decode() + "\n",
        "standard-alphabet": base64.b64encode(raw).decode(),
    }[variant]
    # then: each gives the key
    assert load_or_create_master_key(text, tmp_path / "k") == raw


def test_key_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    # given: no key in the environment, no key file, and a permissive umask
    key_file = tmp_path / "var" / "master.key"
    previous = os.umask(0o000)
    try:
        # when: loading twice
        first = load_or_create_master_key(None, key_file)
        mtime = key_file.stat().st_mtime_ns
        second = load_or_create_master_key(None, key_file)
    finally:
        os.umask(previous)
    # then: a 32-byte key, written once to a file only the owner can read, then reused
    assert len(first) == MASTER_KEY_BYTES
    assert second == first
    assert _mode(key_file) == 0o600
    assert key_file.stat().st_mtime_ns == mtime
    assert base64.urlsafe_b64decode(key_file.read_text().strip()) == first
    # and: no temporary file is left next to it
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["master.key"]


def test_key_file_mode_is_exact_under_a_restrictive_umask(tmp_path: Path) -> None:
    # given: a umask that would take the owner's permissions away
    previous = os.umask(0o277)
    try:
        # when: creating the key file
        load_or_create_master_key(None, tmp_path / "master.key")
    finally:
        os.umask(previous)
    # then: still exactly 0600
    assert _mode(tmp_path / "master.key") == 0o600


def test_existing_key_file_is_used(tmp_path: Path) -> None:
    # given: a key file written earlier
    key_file = tmp_path / "master.key"
    key_file.write_text(VALID_KEY + "\n")
    # when / then: it is read, not replaced
    assert load_or_create_master_key(None, key_file) == bytes(range(32))
    assert key_file.read_text() == VALID_KEY + "\n"


def test_distinct_installations_get_distinct_keys(tmp_path: Path) -> None:
    # given / when: two fresh installations
    one = load_or_create_master_key(None, tmp_path / "a" / "master.key")
    two = load_or_create_master_key(None, tmp_path / "b" / "master.key")
    # then: different keys
    assert one != two


@pytest.mark.parametrize(
    "value",
    ["abcde", "not a key", "!!!!", base64.urlsafe_b64encode(b"short").decode(),
     base64.urlsafe_b64encode(bytes(range(64))).decode(), VALID_KEY[:-5]],
    ids=["bad-padding", "spaces", "no-base64", "5-bytes", "64-bytes", "truncated"],
)
def test_malformed_environment_key_is_explained(tmp_path: Path, value: str) -> None:
    # given: a malformed GATEWAY_MASTER_KEY
    key_file = tmp_path / "master.key"
    # when: loading
    with pytest.raises(MasterKeyError) as caught:
        load_or_create_master_key(value, key_file)
    # then: the message names the variable, the expected form and how to make one
    message = str(caught.value)
    assert "GATEWAY_MASTER_KEY" in message
    assert "32 bytes" in message
    assert HOW_TO in message
    assert value.strip() not in message or len(value) < 6  # the secret is not echoed
    assert not key_file.exists()


def test_malformed_key_file_is_explained(tmp_path: Path) -> None:
    # given: a key file that holds no valid key
    key_file = tmp_path / "master.key"
    key_file.write_text("truncated\n")
    # when: loading
    with pytest.raises(MasterKeyError) as caught:
        load_or_create_master_key(None, key_file)
    # then: the message names the file, not the environment variable
    assert str(key_file) in str(caught.value)
    assert "GATEWAY_MASTER_KEY" not in str(caught.value)
    assert HOW_TO in str(caught.value)


def test_unreadable_key_file_is_a_master_key_error(tmp_path: Path) -> None:
    # given: a "key file" that cannot be read as a file
    key_file = tmp_path / "master.key"
    key_file.mkdir()
    # when / then: a MasterKeyError naming it, not a bare OSError
    with pytest.raises(MasterKeyError, match="cannot read the master key file"):
        load_or_create_master_key(None, key_file)


def test_derived_keys_are_independent() -> None:
    # given: one master key
    master = bytes(range(32))
    # when: deriving keys for labels
    a, b = derive_key(master, "pseudonym:app:1"), derive_key(master, "pseudonym:app:2")
    # then: deterministic, of the asked length, distinct per label and per master
    assert a == derive_key(master, "pseudonym:app:1")
    assert len(a) == 32 and len(derive_key(master, "x", 64)) == 64
    assert a != b
    assert a != derive_key(bytes(range(1, 33)), "pseudonym:app:1")
    assert master not in (a, b)


def test_key_file_created_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a filesystem that does not support hard links
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    key_file = tmp_path / "master.key"
    # when: loading twice
    first = load_or_create_master_key(None, key_file)
    second = load_or_create_master_key(None, key_file)
    # then: the key is still created once, 0600, with no temporary file left behind
    assert first == second
    assert _mode(key_file) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]
