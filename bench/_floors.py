"""The two floors the gateway is compared with, as ASGI app factories.

Both read the database named by the environment variable `BENCH_DATABASE_URL` with
SQLAlchemy Core, run the same two statements as the gateway's `customers(first: 20)` read
(a page of customers by id, then their orders in one batch), and answer the same JSON shape,
`{"data": {"customers": {"nodes": [...]}}}`, with the same 30 fields per node:

- floor A, `starlette_app()`: a plain Starlette endpoint serializing with orjson; no GraphQL.
- floor B, `strawberry_app()`: plain strawberry (`strawberry.asgi.GraphQL`, ParserCache and
  ValidationCache, sync resolvers), no policy, no pseudonyms, no audit.

Serve them with uvicorn: `python -m uvicorn bench._floors:starlette_app --factory` (the same
for `strawberry_app`). The tables come from `gateway.profile.tables` so that column types
(UTC timestamps, JSON) are decoded exactly as the gateway decodes them.

Direct identifiers are stored sealed (AES-GCM under per-customer data keys, see
`gateway.profile.identity`): the floors open them exactly as the gateway's reader does (one
unwrap per customer per request, `open_column`), so that "the same JSON from the same
database" stays true. Storage is part of the floor; enforcement, pseudonyms and audit are not.
"""

from __future__ import annotations

import datetime
import decimal
import os
from collections import defaultdict
from typing import Any

import orjson
import strawberry
from sqlalchemy import Connection, Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types import Info

from gateway.config import Settings
from gateway.privacy.envelope import Opener
from gateway.privacy.vault import Vault, vault_for
from gateway.profile.identity import SEALED_COLUMNS, open_column, with_data_key
from gateway.profile.tables import customers, orders
from gateway.store.db import make_engine

ENV_URL = "BENCH_DATABASE_URL"
MAX_ORDERS = 50  # as gateway.profile.nested.MAX_ITEMS

# GraphQL name -> column, in the order of the benchmark query (id and orders apart).
SCALARS: dict[str, str] = {
    "firstName": "first_name", "lastName": "last_name", "birthDate": "birth_date",
    "email": "email", "phone": "phone", "street": "street", "city": "city",
    "postcode": "postcode", "region": "region", "country": "country", "latitude": "latitude",
    "longitude": "longitude", "language": "language", "interests": "interests",
    "preferredChannel": "preferred_channel", "customerSince": "created_at",
    "loyaltyTier": "loyalty_tier", "loyaltyPoints": "loyalty_points",
    "orderCount": "order_count", "totalSpent": "total_spent_cents",
    "lastOrderAt": "last_order_at", "lastSeenAt": "last_seen_at",
    "lifecycleStage": "lifecycle_stage", "rfmSegment": "rfm_segment",
    "rfmRecency": "rfm_recency", "rfmFrequency": "rfm_frequency",
    "rfmMonetary": "rfm_monetary", "loyaltyCardNumber": "loyalty_card",
}

QUERY = (
    "{ customers(first: 20) { nodes { id " + " ".join(SCALARS) + " orders { total } } } }"
)


def cents(value: int | None) -> decimal.Decimal | None:
    """Minor units as an exact decimal, as the gateway shows amounts."""
    return None if value is None else decimal.Decimal(value).scaleb(-2)


Totals = dict[int, list[decimal.Decimal | None]]


def read_page(conn: Connection, first: int) -> tuple[list[Any], Totals]:
    """The first `first` customers by id (with their wrapped data keys) and the totals of
    their orders (newest first)."""
    rows = list(conn.execute(
        with_data_key(select(customers)).order_by(customers.c.id).limit(first)).all())
    ids = [row.id for row in rows]
    totals: dict[int, list[decimal.Decimal | None]] = defaultdict(list)
    if ids:
        found = conn.execute(
            select(orders.c.customer_id, orders.c.total_cents)
            .where(orders.c.customer_id.in_(ids))
            .order_by(orders.c.customer_id, orders.c.ordered_at.desc())
        )
        for customer_id, total in found:
            items = totals[customer_id]
            if len(items) < MAX_ORDERS:
                items.append(cents(total))
    return rows, totals


def _engine() -> Engine:
    url = os.environ.get(ENV_URL)
    if not url:
        raise SystemExit(f"set {ENV_URL} to the benchmark database URL")
    return make_engine(url)


def floor_vault() -> Vault:
    """The vault of this process, configured like the gateway's (GATEWAY_MASTER_KEY...)."""
    return vault_for(Settings.from_env())


def row_values(row: Any, opener: Opener) -> dict[str, Any]:
    """Column -> value of one row, sealed identifiers opened (None where shredded)."""
    mapping = row._mapping
    return {column: open_column(opener, row, column) if column in SEALED_COLUMNS
            else mapping[column] for column in SCALARS.values()}


# --- floor A: Starlette + SQLAlchemy Core + orjson -----------------------------------------


def _json_value(value: Any) -> Any:
    """Values as strawberry serializes them (dates ISO 8601, decimals as strings)."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def page_json(rows: list[Any], totals: dict[int, list[decimal.Decimal | None]],
              opener: Opener) -> dict[str, Any]:
    """The GraphQL-shaped answer for one page, built by hand."""
    nodes: list[dict[str, Any]] = []
    for row in rows:
        mapping = row_values(row, opener)
        node: dict[str, Any] = {"id": str(row.id)}
        for name, column in SCALARS.items():
            value = mapping[column]
            node[name] = _json_value(cents(value) if name == "totalSpent" else value)
        node["orders"] = [{"total": _json_value(t)} for t in totals.get(row.id, [])]
        nodes.append(node)
    return {"data": {"customers": {"nodes": nodes}}}


def starlette_app() -> Starlette:
    """Floor A: the same reads and JSON shape, without GraphQL (the query body is ignored)."""
    engine, vault = _engine(), floor_vault()

    async def graphql(request: Request) -> Response:
        await request.body()
        # Inline on the event loop: the cheapest way to run the same statements.
        with engine.connect() as conn:
            rows, totals = read_page(conn, 20)
        body = orjson.dumps(page_json(rows, totals, vault.envelope.opener()))
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


# --- floor B: plain strawberry -------------------------------------------------------------


@strawberry.type
class Order:
    total: decimal.Decimal


@strawberry.type
class Customer:
    id: strawberry.ID
    first_name: str | None
    last_name: str | None
    birth_date: datetime.date | None
    loyalty_card_number: str | None
    email: str | None
    phone: str | None
    street: str | None
    city: str | None
    postcode: str | None
    region: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    language: str | None
    interests: list[str] | None
    preferred_channel: str | None
    customer_since: datetime.datetime | None
    loyalty_tier: str | None
    loyalty_points: int | None
    order_count: int | None
    total_spent: decimal.Decimal | None
    last_order_at: datetime.datetime | None
    orders: list[Order] | None
    last_seen_at: datetime.datetime | None
    lifecycle_stage: str | None
    rfm_segment: str | None
    rfm_recency: int | None
    rfm_frequency: int | None
    rfm_monetary: int | None


@strawberry.type
class CustomerConnection:
    nodes: list[Customer]


def to_customer(row: Any, totals: list[decimal.Decimal | None], opener: Opener) -> Customer:
    """One row as a Customer object (no policy: every field as stored, identifiers opened)."""
    m = row_values(row, opener)
    return Customer(
        id=strawberry.ID(str(row.id)), first_name=m["first_name"], last_name=m["last_name"],
        birth_date=m["birth_date"], loyalty_card_number=m["loyalty_card"], email=m["email"],
        phone=m["phone"], street=m["street"], city=m["city"], postcode=m["postcode"],
        region=m["region"], country=m["country"], latitude=m["latitude"],
        longitude=m["longitude"], language=m["language"], interests=m["interests"],
        preferred_channel=m["preferred_channel"], customer_since=m["created_at"],
        loyalty_tier=m["loyalty_tier"], loyalty_points=m["loyalty_points"],
        order_count=m["order_count"], total_spent=cents(m["total_spent_cents"]),
        last_order_at=m["last_order_at"],
        orders=[Order(total=t) for t in totals],  # type: ignore[arg-type]
        last_seen_at=m["last_seen_at"], lifecycle_stage=m["lifecycle_stage"],
        rfm_segment=m["rfm_segment"], rfm_recency=m["rfm_recency"],
        rfm_frequency=m["rfm_frequency"], rfm_monetary=m["rfm_monetary"],
    )


@strawberry.type
class Query:
    @strawberry.field
    def customers(self, info: Info[dict[str, Any], Any], first: int = 20) -> CustomerConnection:
        engine: Engine = info.context["engine"]
        opener = info.context["vault"].envelope.opener()
        with engine.connect() as conn:
            rows, totals = read_page(conn, first)
        return CustomerConnection(
            nodes=[to_customer(r, totals.get(r.id, []), opener) for r in rows])


def floor_schema() -> strawberry.Schema:
    """The floor B schema: the same caches as the gateway, nothing else."""
    return strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])


class _FloorGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, schema: strawberry.Schema, engine: Engine, vault: Vault) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=False)
        self._context = {"engine": engine, "vault": vault}

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return self._context


def strawberry_app() -> Starlette:
    """Floor B: `strawberry.asgi.GraphQL` mounted at /graphql, sync resolvers."""
    graphql = _FloorGraphQL(floor_schema(), _engine(), floor_vault())
    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
