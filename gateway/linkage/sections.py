"""What linkage holds about a person, for their export and their erasure.

Export: how each of their source records was linked (method, match weight, the comparison
levels that drove it, never the compared values), which record each attribute of their
golden record came from and by which rule, and the manual merges and splits that touched
them. Erasure: their keys, links, provenance and merge aliases go with them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, or_, select

from gateway.linkage.tables import (
    customer_merges,
    golden_provenance,
    linkage_cases,
    linkage_keys,
    linkage_links,
)
from gateway.privacy.vault import Vault
from gateway.profile.tables import source_records
from gateway.rights.sections import Section, register


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """Links with their evidence, the golden record's provenance, manual corrections."""
    ll, gp, sr, lc = linkage_links.c, golden_provenance.c, source_records.c, linkage_cases.c
    links = [dict(r._mapping) for r in conn.execute(
        select(sr.source, ll.method, ll.match_weight, ll.evidence, ll.model_id, ll.linked_at)
        .join(source_records, sr.id == ll.source_record_id)
        .where(ll.customer_id == customer_id).order_by(ll.linked_at, sr.id))]
    provenance = [dict(r._mapping) for r in conn.execute(
        select(gp.attribute, sr.source, sr.last_seen_at.label("seen_at"), gp.rule, gp.chosen_at)
        .join(source_records, sr.id == gp.source_record_id)
        .where(gp.customer_id == customer_id).order_by(gp.attribute))]
    cases = [dict(r._mapping) for r in conn.execute(
        select(lc.id, lc.kind, lc.state, lc.conflicts, lc.created_at, lc.reverted_at)
        .where(or_(lc.survivor_id == customer_id, lc.other_id == customer_id)).order_by(lc.id))]
    return {"links": links, "provenance": provenance, "manual_corrections": cases}


def erase(conn: Connection, _vault: Vault, customer_id: int) -> int:
    """Delete the person's keys, links, provenance and merge aliases (counts the rows)."""
    total = 0
    if not conn.dialect.has_table(conn, linkage_keys.name):
        return 0  # a database migrated only up to before identity resolution (0010_linkage)
    for table, condition in (
        (linkage_keys, linkage_keys.c.customer_id == customer_id),
        (linkage_links, linkage_links.c.customer_id == customer_id),
        (golden_provenance, golden_provenance.c.customer_id == customer_id),
        (customer_merges, customer_merges.c.survivor_id == customer_id),
    ):
        total += int(conn.execute(delete(table).where(condition)).rowcount or 0)
    return total


register(Section("linkage", export, erase,
                 "identity resolution: how each source record was linked, the golden record's "
                 "provenance, manual merges and splits"))
