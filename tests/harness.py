"""A gateway under test: a migrated database, demo data, one app per role, real HTTP.

Requests go through Starlette's TestClient: the whole ASGI app, HTTP semantics included.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import Engine, insert, select
from starlette.testclient import TestClient

from gateway.api.context import Services
from gateway.app import build_services, create_app
from gateway.audit.tables import audit_events
from gateway.auth.apps import Caller
from gateway.auth.apps import create_app as create_caller
from gateway.config import Settings
from gateway.consent.ledger import append_consent, append_preference
from gateway.profile.tables import orders
from gateway.profile.write import create_customer
from gateway.store.types import utcnow

REPO = Path(__file__).resolve().parents[1]
MASTER_KEY = "q83vEjRO9pkTFp1zDmCwOqxfN4uGRF5pX3JbrHHpq9M="
ROLES = ("marketing", "analytics", "support", "call_center", "compliance_officer", "linkage")
_serial = itertools.count(1)


def settings_for(url: str, workdir: Path, **overrides: Any) -> Settings:
    """Settings for a test gateway on `url` (`overrides`: other Settings fields).

    Rate limits are off unless a test turns them on: a test process sends requests faster
    than any app would be allowed to.
    """
    given: dict[str, Any] = {"rate_limits": False, "policy_dir": REPO / "policies", **overrides}
    return Settings(database_url=url, master_key=MASTER_KEY, master_key_file=workdir / "master.key",
                    **given)


@dataclass
class Gateway:
    """A running gateway, its apps (one per role) and helpers to arrange data."""

    url: str
    services: Services
    client: TestClient
    callers: dict[str, Caller] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @classmethod
    def start(cls, url: str, workdir: Path, **settings: Any) -> Gateway:
        services = build_services(settings_for(url, workdir, **settings))
        gw = cls(url, services, TestClient(create_app(services=services)))
        for role in ROLES:
            gw.add_app(role)
        return gw

    def add_app(self, role: str, name: str | None = None) -> str:
        """Register an app in `role`; return its key (also kept under `name or role`)."""
        name = name or f"test-{role.replace('_', '-')}-{next(_serial)}"
        with self.engine.begin() as conn:
            caller, key = create_caller(conn, name, role, self.services.policy.roles())
        label = role if role not in self.keys else name
        self.callers[label], self.keys[label] = caller, key
        return key

    def close(self) -> None:
        self.client.close()
        self.services.engine.dispose()

    # --- requests ---------------------------------------------------------------------------

    def post(
        self, query: str, *, app: str = "marketing", purpose: str | None = "marketing_email",
        variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a GraphQL query as app `app` (a role name or a name given to add_app)."""
        sent = {"Authorization": f"Bearer {self.keys[app]}"}
        if purpose is not None:
            sent["X-Purpose"] = purpose
        sent.update(headers or {})
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.client.post("/graphql", json=body, headers=sent)

    def pseudonym(self, customer_id: int, app: str = "marketing") -> str:
        """The id app `app` sees for internal customer `customer_id`."""
        return self.services.pseudonyms.for_app(self.callers[app].app_id).customer_id(customer_id)

    def in_app_order(self, customer_ids: list[int], app: str = "marketing") -> list[int]:
        """`customer_ids` in the default order app `app` sees lists in (its own order)."""
        order = self.services.pseudonyms.for_app(self.callers[app].app_id).order
        return sorted(customer_ids, key=lambda cid: (order.rank(cid), cid))

    def audit_ref(self, customer_id: int) -> str:
        """The audit log's pseudonym of `customer_id`."""
        return self.services.pseudonyms.for_audit().customer_id(customer_id)

    def audit_entry(self, request_id: str) -> Any:
        """The audit row written for `request_id` (from the X-Request-Id header)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(audit_events).where(audit_events.c.request_id == request_id)
            ).one()

    # --- arranging data ---------------------------------------------------------------------

    def add_customer(self, **values: Any) -> int:
        """Insert one customer with plausible values (overridable); return its internal id."""
        n = next(_serial)
        now = utcnow()
        row: dict[str, Any] = {
            "created_at": now, "updated_at": now, "first_name": f"Test{n}",
            "last_name": "Person", "birth_date": date(1985, 5, 17),
            "loyalty_card": f"{n:016d}", "email": f"test.person{n}@example.org",
            "phone": f"+4477009{n:05d}", "street": f"{n} Test Road", "city": "Testbury",
            "postcode": "TB1 1AA", "region": "Testshire", "country": "GB",
            "latitude": 51.5, "longitude": -0.12, "language": "en",
            "interests": ["books"], "preferred_channel": "email", "loyalty_tier": "gold",
            "loyalty_points": 1200, "order_count": 1, "total_spent_cents": 4999,
            "last_order_at": now, "last_seen_at": now, "lifecycle_stage": "active",
            "rfm_segment": "loyal", "rfm_recency": 3, "rfm_frequency": 4, "rfm_monetary": 4,
            "jurisdiction": "gdpr",
        }
        row.update(values)
        with self.engine.begin() as conn:
            # Through the write service: identifiers sealed and indexed, as in production.
            cid = create_customer(conn, self.services.vault, row)
            conn.execute(insert(orders).values(
                customer_id=cid, number=f"T-{cid}-{n}", ordered_at=now, status="delivered",
                channel="web", item_count=2, total_cents=4999, currency="GBP",
            ))
        return cid

    def consent(self, customer_id: int, purpose: str, action: str = "grant", *,
                version: int | None = None, expires_at: datetime | None = None) -> None:
        """Record a consent event (default: grant to the purpose's current notice)."""
        p = self.services.purposes.get(purpose)
        assert p is not None
        current = p.current_notice
        with self.engine.begin() as conn:
            append_consent(
                conn, customer_id=customer_id, purpose=purpose, action=action,
                notice_version=version if version is not None else (current.version if current else 1),
                source_channel="api", expires_at=expires_at,
            )

    def preference(self, customer_id: int, kind: str, key: str, value: str) -> None:
        """Record a channel, objection or restriction event."""
        with self.engine.begin() as conn:
            append_preference(conn, customer_id=customer_id, kind=kind, key=key, value=value,
                              source_channel="api")


__all__ = ["Gateway", "audit_events", "insert"]
