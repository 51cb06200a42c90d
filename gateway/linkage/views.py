"""What a person's source records say, with the golden record's chosen values marked.

The values are returned as each field's policy access allows (gateway/policy: one
`FieldPlan` per role and purpose over `SOURCE_FIELDS`): in the clear, as a per-app keyed
pseudonym, masked, or withheld with the policy's code. Nothing here decides on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from gateway.linkage.records import load_records
from gateway.linkage.tables import golden_provenance, linkage_links
from gateway.policy.engine import FieldPlan, FieldSpec
from gateway.privacy.masking import MASKERS, NORMALIZERS
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.vault import Vault

SOURCE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("first_name", "identity"), FieldSpec("middle_name", "identity"),
    FieldSpec("last_name", "identity"), FieldSpec("birth_date", "identity"),
    FieldSpec("sex", "identity"), FieldSpec("loyalty_card", "identity", identifier="card"),
    FieldSpec("email", "contact", identifier="email"), FieldSpec("phone", "contact", identifier="phone"),
    FieldSpec("house_number", "contact", identifier="address"),
    FieldSpec("street", "contact", identifier="address"), FieldSpec("unit", "contact", identifier="address"),
    FieldSpec("po_box", "contact", identifier="address"), FieldSpec("city", "location"),
    FieldSpec("postcode", "location"), FieldSpec("region", "location"), FieldSpec("country", "location"),
)
ADDRESS_FIELDS = frozenset({"house_number", "street", "unit", "po_box", "city", "postcode", "region", "country"})


@dataclass(frozen=True)
class AttributeView:
    """One attribute of one source record as this caller may see it."""

    name: str
    category: str
    value: str | None
    code: str  # ALLOWED, or why the value is withheld
    chosen: bool  # the golden record took this attribute from this record
    rule: str | None


@dataclass(frozen=True)
class RecordView:
    """One source record of the person."""

    id: int
    source: str
    first_seen_at: datetime
    last_seen_at: datetime
    method: str | None
    match_weight: float | None
    attributes: list[AttributeView]


def _shown(plan: FieldPlan, pseudonyms: Pseudonymizer, spec: FieldSpec, value: str) -> tuple[str | None, str]:
    access = plan.access(spec.name)
    if not access.allowed:
        return None, access.decision.code.value
    kind = spec.identifier
    if kind is None or access.mode in ("value", "raw"):
        return value, "ALLOWED"
    if access.mode == "pseudonym":
        return pseudonyms.identifier(kind, NORMALIZERS[kind](value)), "ALLOWED"
    return MASKERS[kind](value), "ALLOWED"


def source_views(conn: Connection, vault: Vault, customer_id: int, plan: FieldPlan,
                 pseudonyms: Pseudonymizer) -> list[RecordView]:
    """The person's source records, values decided by `plan`, chosen values marked."""
    chosen: dict[int, dict[str, str]] = {}
    gp = golden_provenance.c
    for row in conn.execute(select(gp.attribute, gp.source_record_id, gp.rule).where(gp.customer_id == customer_id)):
        names = ADDRESS_FIELDS if row.attribute == "address" else {row.attribute}
        for name in names:
            chosen.setdefault(int(row.source_record_id), {})[name] = row.rule
    ll = linkage_links.c
    links = {int(r.source_record_id): r for r in conn.execute(
        select(ll.source_record_id, ll.method, ll.match_weight).where(ll.customer_id == customer_id))}
    out = []
    for record in load_records(conn, vault, [customer_id]):
        picked = chosen.get(record.id, {})
        attributes = []
        for spec in SOURCE_FIELDS:
            value = record.values.get(spec.name)
            if not value:
                continue
            shown, code = _shown(plan, pseudonyms, spec, value)
            attributes.append(AttributeView(spec.name, str(spec.category), shown, code, spec.name in picked,
                                            picked.get(spec.name)))
        link = links.get(record.id)
        out.append(RecordView(record.id, record.source, record.first_seen_at, record.last_seen_at,
                              link.method if link else None, link.match_weight if link else None, attributes))
    return out
