"""Checkpoints for offline verification: an export holding them and the public keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from gateway.audit.chain import checkpoint_message, iso
from gateway.audit.tables import audit_archives, audit_checkpoints
from gateway.privacy.signing import verify

EXPORT_TYPE = "consent-gateway/audit-checkpoints/v1"


def export_checkpoints(conn: Connection, jwks: dict[str, Any]) -> dict[str, Any]:
    """Every checkpoint (and archive anchor) with the JWKS that verifies them."""
    cps = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq)).all()
    archives = conn.execute(select(audit_archives).order_by(audit_archives.c.last_seq)).all()
    return {
        "type": EXPORT_TYPE,
        "jwks": jwks,
        "checkpoints": [
            {"seq": int(c.seq), "entry_hash": c.entry_hash, "signed_at": iso(c.signed_at),
             "kid": c.kid, "signature": c.signature}
            for c in cps
        ],
        "archives": [
            {"first_seq": int(a.first_seq), "last_seq": int(a.last_seq), "last_hash": a.last_hash,
             "file_name": a.file_name, "file_sha256": a.file_sha256,
             "archived_at": iso(a.archived_at), "kid": a.kid, "signature": a.signature}
            for a in archives
        ],
    }


def verify_checkpoints(doc: dict[str, Any], jwks: dict[str, Any]) -> tuple[int | None, int]:
    """(seq of the first checkpoint that does not verify or None, how many were checked)."""
    checked = 0
    for cp in doc.get("checkpoints", []):
        message = checkpoint_message(int(cp["seq"]), cp["entry_hash"], cp["signed_at"], cp["kid"])
        if not verify(jwks, cp["kid"], message, cp["signature"]):
            return int(cp["seq"]), checked
        checked += 1
    return None, checked
