"""Per-audience pseudonyms: reversible by the gateway, unlinkable across audiences."""

from __future__ import annotations

import base64
import random

import pytest

from gateway.privacy.pseudonyms import InvalidPseudonym, Pseudonymizer, PseudonymService

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
SEED = 20251123
RNG_IDS = random.Random(SEED).sample(range(1, 2**63), 200)
EDGE_IDS = [0, 1, 2, 255, 256, 2**31 - 1, 2**32, 2**63, 2**64 - 1]
IDS = EDGE_IDS + RNG_IDS


@pytest.fixture(scope="module")
def service() -> PseudonymService:
    return PseudonymService(MASTER)


def _tamper(token: str, position: int) -> str:
    """`token` with the character at `position` replaced by another base64 character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    char = token[position]
    return token[:position] + alphabet[(alphabet.index(char) + 1) % 64] + token[position + 1:]


def test_round_trip(service: PseudonymService) -> None:
    # given: an app's pseudonymizer
    app = service.for_app(1)
    # when / then: every id comes back from its pseudonym, which hides it
    for internal in IDS:
        token = app.customer_id(internal)
        assert token.startswith("c_")
        assert str(internal) not in token[2:] or internal < 10
        assert app.resolve_customer(token) == internal


def test_deterministic_and_injective(service: PseudonymService) -> None:
    # given: two pseudonymizers of the same audience, one made independently
    app, twin = service.for_app(7), Pseudonymizer(MASTER, "app:7")
    # when: making the pseudonyms of many ids
    tokens = [app.customer_id(i) for i in IDS]
    # then: the same each time and from either, and distinct for distinct ids
    assert tokens == [twin.customer_id(i) for i in IDS]
    assert tokens == [app.customer_id(i) for i in IDS]
    assert len(set(tokens)) == len(IDS)


def test_audiences_get_unrelated_pseudonyms(service: PseudonymService) -> None:
    # given: two apps and the audit log
    audiences = [service.for_app(1), service.for_app(2), service.for_audit()]
    # then: no id has the same pseudonym for two audiences
    for internal in IDS:
        tokens = {a.customer_id(internal) for a in audiences}
        assert len(tokens) == len(audiences)


def test_other_audience_cannot_resolve(service: PseudonymService) -> None:
    # given: pseudonyms made for app 1
    one, two, audit = service.for_app(1), service.for_app(2), service.for_audit()
    foreign_master = Pseudonymizer(OTHER_MASTER, "app:1")
    for internal in IDS[:50]:
        token = one.customer_id(internal)
        # when / then: another app, the audit log or another gateway cannot resolve them
        for other in (two, audit, foreign_master):
            with pytest.raises(InvalidPseudonym):
                other.resolve_customer(token)


def test_tampered_token_fails(service: PseudonymService) -> None:
    # given: a pseudonym
    app = service.for_app(3)
    token = app.customer_id(424242)
    # when / then: changing any character, or cutting or extending it, is detected
    for position in range(2, len(token)):
        with pytest.raises(InvalidPseudonym):
            app.resolve_customer(_tamper(token, position))
    cut_or_extended = (token[:-1], token[:-4], token + "AAAA", token[2:], "d_" + token[2:])
    for bad in (*cut_or_extended, "c_", "c_!!!!", ""):
        with pytest.raises(InvalidPseudonym):
            app.resolve_customer(bad)


def test_only_the_canonical_spelling_resolves(service: PseudonymService) -> None:
    # given: a pseudonym that uses the url-safe characters - or _
    app = service.for_app(3)
    internal = next(i for i in IDS if set(app.customer_id(i)[2:]) & {"-", "_"})
    token = app.customer_id(internal)
    body = token[2:]
    aliases = [
        f"c_{body[:5]}!{body[5:]}",  # a character the decoder would skip
        f"c_{body[:5]}\n{body[5:]}",
        f"c_{body} ",
        f"c_{body}==",  # padding
        "c_" + body.replace("-", "+").replace("_", "/"),  # the standard alphabet
    ]
    # when / then: every other spelling of the same bytes is refused
    for alias in aliases:
        with pytest.raises(InvalidPseudonym):
            app.resolve_customer(alias)
    assert app.resolve_customer(token) == internal


def test_sealed_token_with_trailing_bits_changed_is_refused(service: PseudonymService) -> None:
    # given: a sealed token whose last character carries unused bits (41 bytes: 55 chars)
    app = service.for_app(5)
    token = app.seal(b"123456789", b"ctx")
    assert len(token) == 55
    assert len(token) % 4 == 3
    # when: the unused bits are set (same bytes, another spelling)
    alias = token[:-1] + _tamper(token, len(token) - 1)[-1]
    # then: refused
    with pytest.raises(InvalidPseudonym):
        app.unseal(alias, b"ctx")


def test_sealed_payload_is_not_a_customer_id(service: PseudonymService) -> None:
    # given: an 8-byte payload sealed under another context, and a longer one sealed as customer
    app = service.for_app(4)
    cursor = "c_" + app.seal((12345).to_bytes(8, "big"), b"cursor")
    long_token = "c_" + app.seal(b"0123456789", b"customer")
    # then: neither resolves as a customer id
    for token in (cursor, long_token):
        with pytest.raises(InvalidPseudonym):
            app.resolve_customer(token)


def test_seal_round_trip_with_context(service: PseudonymService) -> None:
    # given: an app and payloads of several lengths
    app = service.for_app(5)
    payloads = [b"", b"x", b"cursor:42", bytes(range(256))]
    for payload in payloads:
        # when: sealing under a context
        token = app.seal(payload, b"customers-page")
        # then: it opens with that context, is randomised (a new token each time) and url-safe
        assert app.unseal(token, b"customers-page") == payload
        again = app.seal(payload, b"customers-page")
        assert again != token and app.unseal(again, b"customers-page") == payload
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        if payload:
            assert base64.urlsafe_b64encode(payload).rstrip(b"=").decode() not in token


def test_unseal_fails_for_wrong_context_audience_or_tampering(service: PseudonymService) -> None:
    # given: a sealed token
    app, other = service.for_app(5), service.for_app(6)
    token = app.seal(b"cursor:42", b"customers-page")
    # then: another context, another audience or a changed token does not open it
    with pytest.raises(InvalidPseudonym):
        app.unseal(token, b"orders-page")
    with pytest.raises(InvalidPseudonym):
        other.unseal(token, b"customers-page")
    for position in range(len(token)):
        with pytest.raises(InvalidPseudonym):
            app.unseal(_tamper(token, position), b"customers-page")
    with pytest.raises(InvalidPseudonym):
        app.unseal("", b"customers-page")


def test_identifier_is_keyed_per_audience(service: PseudonymService) -> None:
    # given: two apps, and a pseudonymizer under another master key
    one, two = service.for_app(1), service.for_app(2)
    foreign = Pseudonymizer(OTHER_MASTER, "app:1")
    value = "ada.lovelace@example.org"
    # when: pseudonymizing one identifier
    mine = one.identifier("email", value)
    # then: stable, tagged with its kind, hides the value, and differs per audience and key
    assert mine == one.identifier("email", value)
    assert mine.startswith("email_") and len(mine) == len("email_") + 32
    assert value not in mine and "lovelace" not in mine
    assert mine != two.identifier("email", value)
    assert mine != foreign.identifier("email", value)
    # and: kinds and values are separated
    assert one.identifier("phone", value) != "phone_" + mine.removeprefix("email_")
    assert one.identifier("email", value + ".") != mine


def test_identifier_does_not_collide() -> None:
    # given: many distinct values
    app = Pseudonymizer(MASTER, "app:9")
    values = [f"user{i}@example.org" for i in range(2000)]
    # then: distinct pseudonyms
    assert len({app.identifier("email", v) for v in values}) == len(values)


def test_service_caches_one_pseudonymizer_per_audience(service: PseudonymService) -> None:
    # given / when: asking twice for the same audience
    # then: one object per audience, with its audience name
    assert service.for_app(1) is service.for_app(1)
    assert service.for_app(1).audience == "app:1"
    assert service.for_audit().audience == "audit"
    assert service.for_app(1) is not service.for_app(2)
