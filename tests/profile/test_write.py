"""The profile write service: identifiers sealed, indexed, found, rectified and shredded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from gateway.errors import ServiceError
from gateway.privacy.envelope import SealedValueError, destroy_data_key
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.profile.identity import find_customer_by, read_identity, read_sources
from gateway.profile.tables import customers, source_records
from gateway.profile.write import add_source_records, create_customer, update_customer
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow
from tests.databases import DatabaseFactory

VAULT = Vault.build(bytes(range(32)))
ANN: dict[str, Any] = {
    "first_name": "Annabel", "last_name": "Beeston", "email": "Annabel.Beeston@Example.com",
    "phone": "+44 7700 900123", "street": "12 Quiet Lane", "birth_date": date(1984, 2, 29),
    "loyalty_card": "6300 0000 1234", "city": "Leeds",
}


@pytest.fixture
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _add(engine: Engine, **values: Any) -> int:
    with engine.begin() as conn:
        return create_customer(conn, VAULT, {**ANN, **values})


def _raw_row(engine: Engine, cid: int) -> bytes:
    """Every stored value of the customer's row and data key, as one byte string."""
    with engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == cid)).one()
        key = conn.execute(select(data_keys).where(data_keys.c.customer_id == cid)).one()
    return b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in (*row, *key))


def test_identifiers_are_stored_sealed_and_read_back(engine: Engine) -> None:
    # when
    cid = _add(engine)

    # then: no identifier is stored in plaintext (nor normalized)
    stored = _raw_row(engine, cid)
    for secret in ("Annabel", "Beeston", "annabel.beeston@example.com", "900123", "Quiet Lane",
                   "1984-02-29", "1234"):
        assert secret.encode() not in stored
    assert b"Leeds" in stored  # location is not a direct identifier
    # and: they read back, normalized where they are identifiers
    with engine.connect() as conn:
        identity = read_identity(conn, VAULT, cid)
    assert identity == {
        "first_name": "Annabel", "last_name": "Beeston", "email": "annabel.beeston@example.com",
        "phone": "+447700900123", "street": "12 Quiet Lane", "birth_date": date(1984, 2, 29),
        "loyalty_card": "6300 0000 1234",
    }


def test_customers_are_found_by_blind_index_only_exactly(engine: Engine) -> None:
    # given
    cid = _add(engine)

    # then
    with engine.connect() as conn:
        assert find_customer_by(conn, VAULT, "email", " ANNABEL.beeston@example.com") == cid
        assert find_customer_by(conn, VAULT, "phone", "0044 7700 900123") == cid
        assert find_customer_by(conn, VAULT, "card", "630000001234") == cid
        assert find_customer_by(conn, VAULT, "email", "annabel.beeston@example.co") is None
        assert find_customer_by(conn, VAULT, "email", "") is None
        with pytest.raises(ServiceError) as err:
            find_customer_by(conn, VAULT, "first_name", "Annabel")
    assert err.value.code == "INVALID_INPUT"


def test_a_shared_phone_is_ambiguous_not_an_arbitrary_pick(engine: Engine) -> None:
    # given: two people, one phone
    _add(engine)
    _add(engine, email="other@example.com")

    # then
    with engine.connect() as conn, pytest.raises(ServiceError) as err:
        find_customer_by(conn, VAULT, "phone", ANN["phone"])
    assert err.value.code == "INVALID_INPUT" and "900" not in err.value.message


@pytest.mark.parametrize(("field", "value"), [
    ("email", "not-an-address"), ("phone", "12345"), ("first_name", "  "),
    ("last_name", "x" * 101), ("jurisdiction", "ccpa"), ("password", "x"),
])
def test_bad_input_is_refused_and_changes_nothing(engine: Engine, field: str, value: str) -> None:
    # when
    with pytest.raises(ServiceError) as err:
        _add(engine, **{field: value})

    # then: a stable code, the field, no value in the message, nothing written
    assert (err.value.code, err.value.field) == ("INVALID_INPUT", field)
    if len(value.strip()) > 3:
        assert value not in err.value.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 0


def test_an_email_belongs_to_one_customer(engine: Engine) -> None:
    # given
    _add(engine)

    # then
    with pytest.raises(ServiceError) as err:
        _add(engine, email=ANN["email"].upper())
    assert (err.value.code, err.value.field) == ("INVALID_INPUT", "email")


def test_rectification_reseals_and_reindexes(engine: Engine) -> None:
    # given
    cid = _add(engine)

    # when
    with engine.begin() as conn:
        written = update_customer(conn, VAULT, cid, {"email": "a.b@example.net", "last_name": "Bee"})

    # then
    assert written == ["email", "last_name"]
    with engine.connect() as conn:
        identity = read_identity(conn, VAULT, cid)
        assert identity is not None and (identity["email"], identity["last_name"]) == ("a.b@example.net", "Bee")
        assert find_customer_by(conn, VAULT, "email", "a.b@example.net") == cid
        assert find_customer_by(conn, VAULT, "email", ANN["email"]) is None


def test_a_ciphertext_moved_to_another_row_does_not_open(engine: Engine) -> None:
    # given: two customers, and Ann's sealed email copied over Bob's
    ann = _add(engine)
    bob = _add(engine, email="bob@example.com")
    with engine.begin() as conn:
        blob = conn.execute(select(customers.c.email).where(customers.c.id == ann)).scalar_one()
        conn.execute(update(customers).where(customers.c.id == bob).values(email=blob))

    # then
    with engine.connect() as conn, pytest.raises(SealedValueError):
        read_identity(conn, VAULT, bob)


def test_destroying_the_data_key_shreds_every_sealed_value(engine: Engine) -> None:
    # given: a customer with a source record
    cid = _add(engine)
    now = utcnow()
    with engine.begin() as conn:
        add_source_records(conn, VAULT, [{
            "customer_id": cid, "source": "crm", "source_id": "CRM-77", "attributes": {"email": "x@y.z"},
            "first_seen_at": now, "last_seen_at": now, "link_method": "seed", "link_confidence": 1.0,
        }])
        assert read_sources(conn, VAULT, cid)[0]["attributes"] == {"email": "x@y.z"}

    # when
    with engine.begin() as conn:
        first, again = destroy_data_key(conn, cid), destroy_data_key(conn, cid)

    # then: destroyed once, a no-op after, and nothing opens any more
    assert (first, again) == (True, False)
    with engine.connect() as conn:
        assert read_identity(conn, VAULT, cid) == dict.fromkeys(
            ("first_name", "last_name", "birth_date", "loyalty_card", "email", "phone", "street"))
        assert read_sources(conn, VAULT, cid)[0]["attributes"] == {}
        assert conn.execute(select(source_records.c.source_key)).scalar_one() != "CRM-77"
        with pytest.raises(ServiceError) as err:
            update_customer(conn, VAULT, cid, {"last_name": "Back"})
    assert err.value.code == "NOT_FOUND"
    with engine.begin() as conn:
        assert destroy_data_key(conn, 10_000) is False
