"""After an erasure no plaintext of the person is left where the gateway writes.

The test does what an auditor would: a byte search, for the person's email, phone and
names, of the whole SQLite database file (and its -wal, after a checkpoint) or of a full
`pg_dump` of the PostgreSQL database; then of an audit export written to disk and of every
log record emitted meanwhile. The person's values are also planted in staff's free text (a
case note, consent evidence), which is sealed at rest: already before the erasure the search
finds them nowhere, while the export shows them in the clear. Control that the search can
see: the same values written in clear into a scratch table of the same database are found.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.audit.export import AuditFilter, iter_records, write_document
from gateway.consent.ledger import append_consent
from gateway.consent.sealing import seal_evidence
from gateway.privacy.datakeys import DataKeys
from tests.api.support import add_interaction, add_person, add_source
from tests.harness import Gateway
from tests.rights.support import OFFICER, delivered, executed, opened

READ = "query($id: ID!) { customer(id: $id) { firstName lastName email phone } }"
PG_DUMP = next((p for p in ("/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump",
                            shutil.which("pg_dump") or "") if p and Path(p).exists()), None)


def _needles(values: dict[str, str]) -> dict[str, bytes]:
    return {k: values[k].encode() for k in ("email", "phone", "first_name", "last_name")}


def _sqlite_bytes(gw: Gateway) -> bytes:
    with gw.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(make_url(gw.url).database or "")
    data = path.read_bytes()
    for suffix in ("-wal", "-journal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def _pg_dump_bytes(gw: Gateway) -> bytes:
    if PG_DUMP is None:
        pytest.fail("pg_dump is not installed (looked in /usr/lib/postgresql/15/bin, /usr/bin)")
    url = make_url(gw.url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = [PG_DUMP, "--no-owner", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
            "-U", url.username or "postgres", "-d", url.database or ""]
    return subprocess.run(args, check=True, capture_output=True, env=env, timeout=120).stdout


def _database_bytes(gw: Gateway) -> bytes:
    return _sqlite_bytes(gw) if gw.engine.dialect.name == "sqlite" else _pg_dump_bytes(gw)


def _found(data: bytes, needles: dict[str, bytes]) -> list[str]:
    lowered = data.lower()
    return sorted(k for k, v in needles.items() if v.lower() in lowered)


def test_no_plaintext_left_after_erasure(fresh_gateway: Gateway, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    gw = fresh_gateway
    caplog.set_level(logging.DEBUG)
    # given: a person known everywhere the gateway writes: profile, source record, orders,
    # interactions, consents (with staff's evidence naming them), reads, rights cases
    cid, values = add_person(gw)
    needles = _needles(values)
    add_source(gw, cid)
    add_interaction(gw, cid, campaign="autumn")
    gw.consent(cid, "marketing_email")
    evidence = f"call with {values['first_name']} {values['last_name']}"
    with gw.engine.begin() as conn:
        append_consent(conn, customer_id=cid, purpose="marketing_sms", notice_version=2,
                       action="grant", source_channel="call_center",
                       evidence=seal_evidence(DataKeys(conn, gw.services.vault), "consent_events", cid,
                                              evidence))
    gw.preference(cid, "restriction", "processing", "off")
    assert gw.post(READ, variables={"id": gw.pseudonym(cid)}).json()["data"]["customer"]["email"]
    note = f"letter from {values['email']}, phone {values['phone']}"
    case = opened(gw, cid, "erase", note=note)
    export = opened(gw, cid, "export")
    executed(gw, export["id"])
    document = json.dumps(delivered(gw, export["id"]), default=str)
    # and: the free text is really stored: the export shows it in the clear
    assert evidence in document and note in document
    # and: a control: the search finds the values written in clear in a scratch table
    with gw.engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch_control (v TEXT)"))
        conn.execute(text("INSERT INTO scratch_control (v) VALUES (:v)"),
                     [{"v": v.decode()} for v in needles.values()])
    control = _found(_database_bytes(gw), needles)
    assert control == sorted(needles), control
    with gw.engine.begin() as conn:
        conn.execute(text("DROP TABLE scratch_control"))
    # then: without the scratch table, nothing: the planted free text is sealed at rest
    # already before the erasure
    assert _found(_database_bytes(gw), needles) == []
    # when: the compliance officer carries out the erasure
    done = executed(gw, case["id"])
    assert done["case"]["status"] == "completed"
    # then: the database (file and WAL, or a full dump) holds none of the values
    assert _found(_database_bytes(gw), needles) == []
    # and: neither does an audit export written to disk, nor any log record
    audit_file = tmp_path / "audit.jsonl"
    with gw.engine.connect() as conn, audit_file.open("w", encoding="utf-8") as out:
        entries = write_document(iter_records(conn, AuditFilter(customer_ref=gw.audit_ref(cid))),
                                 "jsonl", out)
    assert entries >= 5  # the reads and every step of both cases are still there
    assert _found(audit_file.read_bytes(), needles) == []
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert _found(logged, needles) == []
    # and: the kept proofs are there, tied to the tombstone only
    with gw.engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM rights_ledger_proofs")).scalar_one()
    assert kept == 3
    # and: the note reads as null now (its key is destroyed); it read in the clear before
    assert case["note"] == note
    assert gw.post("query($id: ID!) { rightsCase(id: $id) { customerId note } }",
                   variables={"id": case["id"]}, **OFFICER).json()["data"]["rightsCase"] == {
        "customerId": None, "note": None}
