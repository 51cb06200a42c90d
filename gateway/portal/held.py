"""The portal's section of a person's export and erasure: sessions, sign-in links and codes,
receipts.

Registered under the name `sessions` when gateway/rights/held.py imports this module (as
it imports every later domain's section). The export lists when the person signed in and the receipts they were given;
the erasure deletes them all (the tables also cascade from `customers`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from gateway.portal.tables import portal_codes, portal_links, portal_receipts, portal_sessions
from gateway.privacy.vault import Vault
from gateway.rights.sections import Section, register


def export(conn: Connection, _vault: Vault, customer_id: int) -> dict[str, Any]:
    """Sessions, links asked for and receipts given, without tokens or token hashes."""
    s, link, r, code = portal_sessions.c, portal_links.c, portal_receipts.c, portal_codes.c
    return {
        "sessions": [dict(row._mapping) for row in conn.execute(
            select(s.created_at, s.last_seen_at, s.expires_at, s.ended_at)
            .where(s.customer_id == customer_id).order_by(s.created_at, s.id))],
        "sign_in_links": [dict(row._mapping) for row in conn.execute(
            select(link.channel, link.created_at, link.expires_at, link.used_at)
            .where(link.customer_id == customer_id).order_by(link.created_at, link.id))],
        "sign_in_codes": [dict(row._mapping) for row in conn.execute(
            select(code.created_at, code.expires_at, code.used_at, code.attempts)
            .where(code.customer_id == customer_id).order_by(code.created_at, code.id))],
        "receipts": [dict(row._mapping) for row in conn.execute(
            select(r.receipt_id, r.kind, r.subject, r.action, r.source_channel, r.issued_at, r.jws)
            .where(r.customer_id == customer_id).order_by(r.issued_at, r.receipt_id))],
    }


def erase(conn: Connection, _vault: Vault, customer_id: int) -> int:
    """Delete the person's sessions, links and receipts; how many rows."""
    count = 0
    for table in (portal_sessions, portal_links, portal_codes, portal_receipts):
        count += int(conn.execute(delete(table).where(table.c.customer_id == customer_id)).rowcount or 0)
    return count


register(Section("sessions", export, erase,
                 "self-service portal: sessions, sign-in links and the receipts given there"))
