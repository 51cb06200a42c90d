"""Checks that need no database: exported checkpoints, exported logs and retention archives.

An officer (or an outside auditor) holds the files and the gateway's *published* public key
(`/.well-known/jwks.json`, fetched or saved separately): never the key inside the file being
checked, which whoever rewrote the file could have rewritten too.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from gateway.audit.chain import GENESIS, archive_message, checkpoint_message, entry_hash, iso
from gateway.audit.tables import audit_archives, audit_checkpoints
from gateway.privacy.signing import verify

EXPORT_TYPE = "consent-gateway/audit-checkpoints/v1"


class BadCheckpoint(ValueError):
    """An exported checkpoint whose signature does not verify under the given keys."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"the checkpoint at seq {seq} does not verify against the JWKS")
        self.seq = seq


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking an exported log or archive file."""

    ok: bool
    entries: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    problem_seq: int | None = None
    problem: str | None = None


def load_jwks(source: str) -> dict[str, Any]:
    """A JWKS from a file or an http(s) URL (the gateway's `/.well-known/jwks.json`)."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as answer:
            return dict(json.loads(answer.read()))
    return dict(json.loads(Path(source).read_text(encoding="utf-8")))


def export_checkpoints(conn: Connection, jwks: dict[str, Any]) -> dict[str, Any]:
    """Every checkpoint (and archive anchor), with the JWKS of the time for reference."""
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


def trusted_checkpoints(doc: dict[str, Any], jwks: dict[str, Any]) -> dict[int, str]:
    """seq -> entry hash of an exported checkpoint file; `BadCheckpoint` if one is forged."""
    bad, _ = verify_checkpoints(doc, jwks)
    if bad is not None:
        raise BadCheckpoint(bad)
    return {int(cp["seq"]): str(cp["entry_hash"]) for cp in doc.get("checkpoints", [])}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines export, one per line."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def verify_records(
    records: Iterable[Mapping[str, Any]], *, first_prev: str | None = None,
    checkpoints: Mapping[int, str] | None = None, complete: bool = False,
) -> FileCheck:
    """Check a contiguous run of exported entries: hashes, links, places, checkpoints.

    `first_prev`: the hash the first record must link to (GENESIS for seq 1, an archive's
    last hash after a cut); None: take the first record's link as given. `complete`: the
    records claim to reach the newest checkpoint given (a whole-log export), so a checkpoint
    beyond the last one means the tail was cut.
    """
    cps = checkpoints or {}
    count, first, last, prev = 0, None, 0, first_prev

    def result(seq: int | None = None, problem: str | None = None) -> FileCheck:
        return FileCheck(problem is None, count, first, last if count else None, prev, seq, problem)

    for record in records:
        seq = int(record["seq"])
        if first is None:
            first, last = seq, seq - 1
            if prev is None and seq == 1:
                prev = GENESIS
        if seq != last + 1:
            return result(last + 1, "deleted: a place is missing" if seq > last + 1
                          else "reordered or inserted: an entry out of place")
        found = entry_hash(record)
        if found != record.get("entry_hash"):
            return result(seq, "modified: the entry does not match its hash")
        if prev is not None and record.get("prev_hash") != prev:
            return result(seq, "inserted or reordered: the entry does not link to its predecessor")
        if seq in cps and cps[seq] != found:
            return result(seq, "modified: the entry differs from its signed checkpoint")
        count, last, prev = count + 1, seq, found
    if complete and count and any(s > last for s in cps):
        return result(last + 1, "truncated: a signed checkpoint is beyond the last entry")
    return result()


def verify_archive(path: Path, jwks: dict[str, Any]) -> FileCheck:
    """Check a retention archive against its signed anchor (`<name>.anchor.json` beside it)."""
    anchor_path = path.with_suffix(".anchor.json")
    if not anchor_path.exists():
        return FileCheck(False, 0, None, None, None, None, f"no anchor file {anchor_path.name}")
    anchor = json.loads(anchor_path.read_text(encoding="utf-8"))
    message = archive_message(int(anchor["first_seq"]), int(anchor["last_seq"]), anchor["last_hash"],
                              anchor["file_sha256"], anchor["archived_at"], anchor["kid"])
    first = int(anchor["first_seq"])
    if not verify(jwks, anchor["kid"], message, anchor["signature"]):
        return FileCheck(False, 0, None, None, None, first, "the anchor's signature does not verify")
    if hashlib.sha256(path.read_bytes()).hexdigest() != anchor["file_sha256"]:
        return FileCheck(False, 0, None, None, None, first, "the file is not the one the anchor signed")
    checked = verify_records(read_jsonl(path), checkpoints={int(anchor["last_seq"]): anchor["last_hash"]})
    if checked.ok and (checked.first_seq, checked.last_seq) != (first, int(anchor["last_seq"])):
        return FileCheck(False, checked.entries, checked.first_seq, checked.last_seq, checked.last_hash,
                         first, "the file does not hold the anchor's range")
    return checked
