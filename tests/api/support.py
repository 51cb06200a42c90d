"""Helpers of the API tests: customers with unique values, and reading GraphQL answers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
from sqlalchemy import func, insert, select

from gateway.audit.tables import audit_events
from gateway.profile.tables import interactions
from gateway.profile.write import add_source_records
from tests.harness import Gateway

GRAPHQL = "/graphql"
Json = dict[str, Any]  # a decoded GraphQL answer


def unique(prefix: str) -> str:
    """A value no other test (and no demo customer) uses, e.g. a city of its own."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def person(**overrides: Any) -> dict[str, Any]:
    """Personal values unique to one customer, so a response can be searched for them."""
    tag = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "first_name": f"Fn{tag}",
        "last_name": f"Ln{tag}",
        "email": f"p.{tag}@people.example",
        "phone": f"+4479{uuid.uuid4().int % 10**8:08d}",
        "street": f"{tag} Quiet Lane",
        "city": unique("City"),
        "loyalty_card": f"{uuid.uuid4().int % 10**16:016d}",
    }
    values.update(overrides)
    return values


def add_person(gw: Gateway, **overrides: Any) -> tuple[int, dict[str, Any]]:
    """Insert a customer with unique personal values; return its internal id and the values."""
    values = person(**overrides)
    return gw.add_customer(**values), values


def secrets_of(values: dict[str, Any]) -> list[str]:
    """The raw personal values of a customer that must never leak where they are not allowed."""
    return [str(values[k]) for k in ("first_name", "last_name", "email", "phone", "street")]


def errors_by_path(body: Json) -> dict[tuple[str | int, ...], str]:
    """Each located error's code, by its path."""
    return {
        tuple(e["path"]): e["extensions"]["code"] for e in body.get("errors", []) if "path" in e
    }


def codes(body: Json) -> list[str]:
    """The codes of all errors of an answer, in order."""
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def post_raw(gw: Gateway, content: bytes, *, app: str | None = "marketing",
             headers: dict[str, str] | None = None) -> httpx2.Response:
    """POST `content` as it is (no JSON encoding), with `app`'s key unless app is None."""
    sent = {"Content-Type": "application/json", "X-Purpose": "marketing_email"}
    if app is not None:
        sent["Authorization"] = f"Bearer {gw.keys[app]}"
    sent.update(headers or {})
    return gw.client.post(GRAPHQL, content=content, headers=sent)


def audit_count(gw: Gateway, request_id: str | None = None) -> int:
    """How many audit entries exist (for `request_id` only, when given)."""
    stmt = select(func.count()).select_from(audit_events)
    if request_id is not None:
        stmt = stmt.where(audit_events.c.request_id == request_id)
    with gw.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def audit_text(row: Any) -> str:
    """An audit row as JSON text, to search for values that must not be there."""
    return json.dumps(dict(row._mapping), default=str)


def add_interaction(gw: Gateway, customer_id: int, *, campaign: str) -> None:
    """One email open for `customer_id`."""
    with gw.engine.begin() as conn:
        conn.execute(insert(interactions).values(
            customer_id=customer_id, kind="email_open", channel="email", device="mobile",
            campaign=campaign, occurred_at=datetime.now(UTC),
        ))


def add_source(gw: Gateway, customer_id: int, *, source: str = "crm") -> str:
    """One source record linked to `customer_id`; return its source-side id (an identifier)."""
    source_id = unique("SRC")
    now = datetime.now(UTC)
    with gw.engine.begin() as conn:
        add_source_records(conn, gw.services.vault, [{
            "customer_id": customer_id, "source": source, "source_id": source_id,
            "attributes": {"source_id": source_id}, "first_seen_at": now, "last_seen_at": now,
            "link_method": "deterministic", "link_confidence": 1.0,
        }])
    return source_id
