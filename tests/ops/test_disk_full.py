"""SQLite on a full disk: a clear 503, nothing half-written, and back once there is room.

The disk is a small tmpfs mounted for the test (root only: CI runs as root); the database is
a copy of the demo database on it, and a filler file takes the rest of the space.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gateway.audit.verify import verify_chain
from gateway.consent.tables import consent_events
from tests.api.support import add_person
from tests.consent.http import RECORD_CONSENT
from tests.databases import DatabaseFactory
from tests.harness import Gateway


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())
    return filler


def _consents(gw: Gateway) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(consent_events)).scalar_one())


def _grant(gw: Gateway, cid: int) -> object:
    given = {"customerId": gw.pseudonym(cid, "call_center"), "purpose": "marketing_email",
             "noticeVersion": 2, "action": "grant", "sourceChannel": "call_center",
             "evidence": "call-7"}
    return gw.post(RECORD_CONSENT, app="call_center", purpose="support", variables={"input": given})


def test_a_full_disk_answers_503_loses_nothing_and_recovers(
    databases: DatabaseFactory, template_url: str, tmp_path: Path
) -> None:
    # given: the demo database alone on a small disk
    if databases.backend != "sqlite":
        pytest.skip("the disk of an SQLite file")
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    source = Path(make_url(template_url).database or "")
    size = source.stat().st_size // 2**20 + 8
    with small_disk(tmp_path / "disk", size) as disk:
        shutil.copyfile(source, disk / "gw.db")
        gw = Gateway.start(f"sqlite:///{disk / 'gw.db'}", tmp_path)
        try:
            cid, _ = add_person(gw)
            before = _consents(gw)
            filler = _fill(disk)

            # when: the disk is full
            read = gw.post("{ customers(first: 5) { nodes { id } } }")
            write = _grant(gw, cid)
            during = _consents(gw)

            # then: refused with a stable code, nothing half-written
            assert read.status_code == write.status_code == 503, (read.text, write.text)
            assert read.json()["errors"][0]["extensions"]["code"] in ("AUDIT_UNAVAILABLE", "UNAVAILABLE")
            assert during == before

            # when: there is room again
            filler.unlink()
            again = _grant(gw, cid)

            # then: it works, the consent and its entry are written, the chain holds
            assert again.status_code == 200, again.text
            assert _consents(gw) == before + 1
            assert verify_chain(gw.engine, gw.services.signer.jwks()).ok
        finally:
            gw.close()
