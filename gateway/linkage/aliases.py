"""Merged-away persons: their old ids answer with the survivor (or the MERGED code)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from gateway.linkage.tables import customer_merges


def merged_into(conn: Connection, customer_id: int) -> int | None:
    """The person `customer_id` was merged into (following chains of merges), or None."""
    seen: set[int] = set()
    current = customer_id
    while current not in seen:
        seen.add(current)
        found = conn.execute(select(customer_merges.c.survivor_id)
                             .where(customer_merges.c.merged_id == current)).scalar()
        if found is None:
            return None if current == customer_id else current
        current = int(found)
    return current
