"""Envelope encryption, the keyring of master key versions and blind indexes (no database)."""

from __future__ import annotations

import base64

import pytest

from gateway.privacy.blind import BlindIndex, normalize_phone_e164
from gateway.privacy.envelope import Envelope, SealedValueError, field_aad, seal, unseal
from gateway.privacy.keyring import Keyring, parse_master_keys
from gateway.privacy.keys import MasterKeyError

ROOT = bytes(range(32))
OTHER = base64.urlsafe_b64encode(bytes([7] * 32)).decode()
SECRET = "ann.bee@example.com"


def _envelope(extra: str | None = None, current: int | None = None) -> Envelope:
    return Envelope(Keyring.build(ROOT, extra, current))


def test_a_sealed_value_opens_with_its_key_and_binding_only() -> None:
    # given
    key, _ = _envelope().new_data_key(1)
    aad = field_aad("customers", "email", 1)

    # when
    blob = seal(key, aad, SECRET)

    # then: the plaintext is not in the ciphertext, and it opens back
    assert SECRET.encode() not in blob
    assert unseal(key, aad, blob) == SECRET
    # and: moved to another column or another customer's row, it does not open
    for wrong in (field_aad("customers", "phone", 1), field_aad("customers", "email", 2)):
        with pytest.raises(SealedValueError):
            unseal(key, wrong, blob)


def test_the_same_value_seals_differently_each_time() -> None:
    # given
    key, _ = _envelope().new_data_key(1)
    aad = field_aad("customers", "email", 1)

    # when / then: random nonces, so equal values cannot be spotted in the table
    assert seal(key, aad, SECRET) != seal(key, aad, SECRET)


def test_a_wrapped_key_is_bound_to_its_customer_and_version() -> None:
    # given
    envelope = _envelope(f"2={OTHER}")
    raw = bytes(32)
    wrapped, version = envelope.wrap(raw, 5)

    # then
    assert version == 2
    assert envelope.unwrap_bytes(wrapped, 2, 5) == raw
    with pytest.raises(SealedValueError):
        envelope.unwrap_bytes(wrapped, 2, 6)  # another customer's row
    with pytest.raises(SealedValueError):
        envelope.unwrap_bytes(wrapped, 1, 5)  # another version


def test_rewrap_keeps_the_data_key_under_the_new_version() -> None:
    # given: a key wrapped under version 1
    envelope = _envelope(f"2={OTHER}")
    raw = bytes(range(32, 64))
    wrapped, _ = envelope.wrap(raw, 9, 1)

    # when
    moved = envelope.rewrap(wrapped, 1, 9, 2)

    # then
    assert envelope.unwrap_bytes(moved, 2, 9) == raw


def test_the_keyring_picks_the_highest_version_unless_told() -> None:
    assert Keyring.build(ROOT).current == 1
    assert Keyring.build(ROOT, f"3={OTHER}").current == 3
    assert Keyring.build(ROOT, f"3={OTHER}", current=1).current == 1


@pytest.mark.parametrize("text", ["2", "x=abc", f"0={OTHER}", f"2={OTHER},2={OTHER}", "2=short"])
def test_malformed_master_key_versions_say_how_to_fix_them(text: str) -> None:
    with pytest.raises(MasterKeyError, match="GATEWAY_MASTER_KEYS"):
        parse_master_keys(text)


def test_an_unconfigured_version_is_a_clear_error() -> None:
    # given
    keyring = Keyring.build(ROOT)

    # then
    with pytest.raises(MasterKeyError, match="add it to GATEWAY_MASTER_KEYS"):
        keyring.kek(2)
    with pytest.raises(MasterKeyError, match="GATEWAY_MASTER_KEY_CURRENT"):
        Keyring.build(ROOT, None, current=2)


def test_blind_indexes_match_normalized_values_only() -> None:
    # given
    index = BlindIndex(ROOT)

    # then: exact after normalization
    assert index.digest("email", " Ann.Bee@Example.COM ") == index.digest("email", SECRET)
    assert index.digest("phone", "0044 7700-900 123") == index.digest("phone", "+447700900123")
    assert index.digest("card", "6300 1234-5678") == index.digest("card", "630012345678")
    # and: nothing else matches, kinds never compare, blanks index nothing
    assert index.digest("email", "ann.bee@example.org") != index.digest("email", SECRET)
    assert index.digest("phone", "+447700900123") != index.digest("card", "+447700900123")
    assert index.digest("email", "   ") is None
    assert len(index.digest("email", SECRET) or "") == 64
    # and: another master key gives unrelated digests
    assert BlindIndex(bytes(32)).digest("email", SECRET) != index.digest("email", SECRET)
    with pytest.raises(ValueError, match="no blind index"):
        index.digest("first_name", "Ann")


def test_phone_normalization_is_e164_ish() -> None:
    assert normalize_phone_e164("+44 (7700) 900-123") == "+447700900123"
    assert normalize_phone_e164("00447700900123") == "+447700900123"
    assert normalize_phone_e164("07700 900123") == "07700900123"  # national stays national
