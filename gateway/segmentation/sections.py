"""What segmentation holds about a person, for their export, and its erasure.

The export shows the computed attributes (with the moments as dates), the persona and the
saved segments whose rule selects the person now; the erasure deletes the attributes
(memberships are not stored: they are evaluated when asked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from gateway.privacy.vault import Vault
from gateway.rights.sections import Section, register
from gateway.segmentation.members import profiling_purpose
from gateway.segmentation.store import ids_in, list_segments
from gateway.segmentation.tables import customer_attributes, personas
from gateway.store.types import utcnow

_INTERNAL = ("customer_id", "orders_seen", "interactions_seen", "persona_key", "persona_version")


def _moment(value: Any) -> Any:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else value


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """The person's attributes, persona and segment memberships."""
    a = customer_attributes.c
    row = conn.execute(select(customer_attributes).where(a.customer_id == customer_id)).first()
    attributes = None
    persona = None
    if row is not None:
        attributes = {k: (_moment(v) if k.endswith("_ts") else v)
                      for k, v in row._mapping.items() if k not in _INTERNAL}
        if row.persona_key is not None:
            p = personas.c
            found = conn.execute(select(p.name, p.description, p.version).where(
                p.version == row.persona_version, p.key == row.persona_key)).first()
            persona = dict(found._mapping) if found is not None else None
    profiling = profiling_purpose()
    now = utcnow()
    memberships = [
        {"segment": info.name, "version": info.version, "rule": info.definition}
        for info in list_segments(conn)
        if customer_id in ids_in(conn, info.rule(), profiling, now, profiling, [customer_id])
    ]
    return {"attributes": attributes, "persona": persona, "memberships": memberships}


def erase(conn: Connection, _vault: Vault, customer_id: int) -> int:
    """Delete the person's computed attributes."""
    if not conn.dialect.has_table(conn, "customer_attributes"):
        return 0  # a database migrated only up to an older revision (migration tests)
    a = customer_attributes.c
    return int(conn.execute(delete(customer_attributes).where(a.customer_id == customer_id)).rowcount or 0)


register(Section("segments", export, erase,
                 "computed attributes (RFM, life cycle, channel affinity, milestones), persona "
                 "and segment memberships (gateway/segmentation)"))
