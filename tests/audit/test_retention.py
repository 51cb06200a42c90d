"""Retention: the oldest entries move to a signed archive, and the chain still verifies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import delete, func, select, update

from gateway.audit.archive import archive_older_than
from gateway.audit.tables import audit_archives, audit_events, audit_subjects
from tests.audit.support import append_entries, execute, spot, truncate, verify
from tests.harness import Gateway


def _archive(gw: Gateway, tmp_path: Path) -> object:
    signer = gw.services.signer
    return archive_older_than(gw.engine, signer, signer.jwks(), 0, tmp_path / "archive")


def test_archive_then_verify_across_the_cut(fresh_gateway: Gateway, tmp_path: Path) -> None:
    # given
    gw = fresh_gateway
    append_entries(gw, 12, subjects=[1, 2])
    # when
    result = _archive(gw, tmp_path)
    append_entries(gw, 4)
    # then
    assert (result.entries, result.first_seq, result.last_seq) == (12, 1, 12)  # type: ignore[attr-defined]
    checked = verify(gw)
    assert checked.ok, checked.problem
    assert (checked.first_seq, checked.last_seq, checked.entries) == (13, 16, 4)
    with gw.engine.connect() as conn:
        assert conn.execute(select(func.min(audit_events.c.seq))).scalar() == 13
        assert conn.execute(select(func.count()).select_from(audit_subjects)).scalar() == 0
    path: Path = result.path  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seq"] for r in lines] == list(range(1, 13))
    anchor = json.loads(path.with_suffix(".anchor.json").read_text())
    assert anchor["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert anchor["last_hash"] == lines[-1]["entry_hash"]


def test_removing_old_entries_without_an_archive_is_found(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    append_entries(gw, 8)
    # when: the oldest entries are simply deleted
    execute(gw, delete(audit_events).where(audit_events.c.seq <= 3))
    # then
    assert spot(verify(gw)) == (1, "deleted")


def test_a_forged_archive_anchor_is_found(fresh_gateway: Gateway, tmp_path: Path) -> None:
    # given
    gw = fresh_gateway
    append_entries(gw, 6)
    _archive(gw, tmp_path)
    append_entries(gw, 2)
    # when: the anchor is moved to hide more entries
    execute(gw, update(audit_archives).values(last_seq=7))
    truncate(gw, 0)
    # then
    assert spot(verify(gw)) == (1, "archive_invalid")
