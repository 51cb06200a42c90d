"""Masks: enough to recognise an identifier, never the identifier itself."""

from __future__ import annotations

import random
import string

import pytest

from gateway.privacy.masking import (
    MASKERS,
    NORMALIZERS,
    mask_code,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)

SEED = 7
SAMPLES = 500


def _emails(rng: random.Random) -> list[str]:
    local_chars = string.ascii_lowercase + string.digits + "._+-"
    found = ["a@b.c", "j@example.com", "x@y", "ADA@Example.ORG"]
    for _ in range(SAMPLES):
        local = "".join(rng.choices(local_chars, k=rng.randint(1, 30)))
        domain = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 12)))
        found.append(f"{local}@{domain}.{rng.choice(['com', 'org', 'ru', 'co.uk'])}")
    return found


def _phones(rng: random.Random) -> list[str]:
    found = ["1", "12", "123", "1234", "+1", "+12", "+7 (912) 345-67-89", "+447700900078"]
    for _ in range(SAMPLES):
        digits = "".join(rng.choices(string.digits, k=rng.randint(1, 15)))
        spaced = " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))
        found.append(rng.choice(["+", ""]) + rng.choice([digits, spaced]))
    return found


def _codes(rng: random.Random) -> list[str]:
    found = ["1", "1234", "12345", "1234567", "12345678", "0000000000003456"]
    for _ in range(SAMPLES):
        chars = rng.choices(string.digits + string.ascii_uppercase, k=rng.randint(1, 24))
        found.append("".join(chars))
    return found


RNG = random.Random(SEED)
VALUES: dict[str, list[str]] = {"email": _emails(RNG), "phone": _phones(RNG), "card": _codes(RNG)}


@pytest.mark.parametrize("kind", sorted(VALUES))
def test_mask_never_contains_the_full_value(kind: str) -> None:
    # given: many plausible (and some degenerate) identifiers of one kind
    mask = MASKERS[kind]
    normalize = NORMALIZERS[kind]
    for value in VALUES[kind]:
        # when: masking it
        masked = mask(value)
        # then: neither the value nor its normalized form is in the mask, which hides something
        assert value not in masked, (value, masked)
        assert normalize(value) not in masked, (value, masked)
        assert "*" in masked, (value, masked)
        # and: masking is deterministic
        assert mask(value) == masked


def test_mask_shows_at_most_a_tail() -> None:
    # given: long identifiers
    # then: phones keep the last two digits, codes the last four, emails the first letter
    assert mask_phone("+447700900078") == "+**********78"
    assert mask_phone("+7 (912) 345-67-89") == "+*********89"
    assert mask_phone("8 800 555 35 35") == "*********35"
    assert mask_code("0000000000003456") == "************3456"
    assert mask_code("12345678") == "****5678"
    assert mask_email("ada.lovelace@example.org") == "a***@example.org"


@pytest.mark.parametrize(
    ("masker", "value", "masked"),
    [
        (mask_phone, "12", "**"),
        (mask_phone, "+1", "+*"),
        (mask_phone, "123", "***"),
        (mask_phone, "1234", "**34"),
        (mask_code, "1234", "****"),
        (mask_code, "1234567", "*******"),
        (mask_email, "@example.org", "***"),
        (mask_email, "not-an-email", "***"),
        (mask_email, "", "***"),
    ],
)
def test_short_values_are_masked_whole(masker: object, value: str, masked: str) -> None:
    # given: a value too short to show a tail of without showing most of it
    assert callable(masker)
    # then: it is masked completely
    assert masker(value) == masked


def test_mask_length_does_not_depend_on_the_hidden_email_local_part() -> None:
    # given: emails whose local parts differ in length but share the first letter
    masks = {mask_email(f"a{'x' * n}@example.org") for n in range(20)}
    # then: they all mask alike
    assert masks == {"a***@example.org"}


def test_normalizers() -> None:
    # given: identifiers as typed
    # then: the normalized form used for lookups and keyed pseudonyms
    assert normalize_email("  Ada.Lovelace@Example.ORG ") == "ada.lovelace@example.org"
    assert normalize_phone(" +44 (7700) 900-078 ") == "+447700900078"
    assert normalize_phone("8 800 555 35 35") == "88005553535"
    assert NORMALIZERS["card"](" 1234 ") == "1234"
