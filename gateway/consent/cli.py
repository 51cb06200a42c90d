"""`consent-gateway purposes | receipts | consents`: the preference center's command line."""

from __future__ import annotations

import csv
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gateway.config import Settings

# soft_wrap: paths and messages stay on one line (grep-able, copy-able).
err = Console(stderr=True, soft_wrap=True)


# --- purposes -------------------------------------------------------------------------------


@click.group()
def purposes() -> None:
    """Purposes of processing and their notices (policies/purposes.yaml)."""


@purposes.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def purposes_check(file: Path | None) -> None:
    """Validate FILE (default: purposes.yaml of the policy directory); list every problem."""
    from gateway.consent.purposes import PurposesError, load_purposes

    path = file or Settings.from_env().policy_dir / "purposes.yaml"
    if not path.is_file():
        err.print(f"[red]{path}[/red]: no such file")
        sys.exit(2)
    try:
        found = load_purposes(path)
    except PurposesError as exc:
        for problem in exc.problems:
            click.echo(f"{path}: {problem}")
        err.print(f"[red]{len(exc.problems)} problem(s)[/red] in {path}")
        sys.exit(1)
    err.print(f"[green]ok[/green]: {len(found.by_name)} purposes in {path}")


# --- receipts -------------------------------------------------------------------------------


@click.group()
def receipts() -> None:
    """Consent receipts (compact JWS, EdDSA)."""


def _load_jwks(source: str | None) -> dict[str, Any]:
    if source is None:
        from gateway.privacy.keys import load_or_create_master_key
        from gateway.privacy.signing import Signer

        settings = Settings.from_env()
        if settings.master_key is None and not settings.master_key_file.exists():
            raise ValueError("no gateway key here: pass --jwks FILE_OR_URL")
        return dict(Signer(load_or_create_master_key(settings.master_key, settings.master_key_file)).jwks())
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as answer:
            return dict(json.loads(answer.read()))
    return dict(json.loads(Path(source).read_text(encoding="utf-8")))


def _receipt_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        value = json.loads(text)
        found = value.get("jws") or value.get("receipt", {}).get("jws")
        return str(found or "")
    return text


@receipts.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_source", default=None,
              help="JWKS file or URL (e.g. https://host/.well-known/jwks.json); default: this gateway's key.")
def receipts_verify(file: Path, jwks_source: str | None) -> None:
    """Verify the receipt in FILE (the JWS, or JSON with a `jws`); print its claims."""
    from gateway.consent.receipts import ReceiptInvalid, verify_receipt

    try:
        claims = verify_receipt(_receipt_text(file), _load_jwks(jwks_source))
    except ReceiptInvalid as exc:
        err.print(f"[red]invalid receipt[/red]: {exc}")
        sys.exit(1)
    except (OSError, ValueError) as exc:
        err.print(f"[red]cannot read the receipt or the key set[/red]: {exc}")
        sys.exit(2)
    click.echo(json.dumps(claims, indent=2, sort_keys=True, ensure_ascii=False))
    err.print("[green]valid[/green]: signature verifies")


# --- consents -------------------------------------------------------------------------------


@click.group()
def consents() -> None:
    """Bulk import and export of consent events."""


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err)


def _write_report(path: Path, rejected: list[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["line", "code", "field", "reason"])
        for r in rejected:
            writer.writerow([r.line, r.code, r.field or "", r.reason])


def _counted(
    rows: Iterator[tuple[int, Any]], bar: Progress, task: TaskID, total: int
) -> Iterator[tuple[int, Any]]:
    for n, row in enumerate(rows, start=1):
        if n % 1000 == 0:
            bar.update(task, completed=min(n, total))
        yield row
    bar.update(task, completed=total)


def _line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _auditor(settings: Settings) -> tuple[Any, Any]:
    """The audit pseudonymizer and the signer, from the gateway's master key."""
    from gateway.privacy.keys import load_or_create_master_key
    from gateway.privacy.pseudonyms import PseudonymService
    from gateway.privacy.signing import Signer

    master = load_or_create_master_key(settings.master_key, settings.master_key_file)
    return PseudonymService(master).for_audit(), Signer(master)


@consents.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--mode", type=click.Choice(["all-or-nothing", "skip-bad-rows"]),
              default="all-or-nothing", show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the rejected rows (line, code, field, reason) to this CSV file.")
def consents_import(file: Path, fmt: str, mode: str, report: Path | None) -> None:
    """Import consent events from FILE. Rows: customer_id, purpose, notice_version, action,
    occurred_at, [source_channel, evidence, expires_at, idempotency_key].

    One transaction: the events, their derived state and one audit entry (the customers
    touched, as audit pseudonyms, and the counts) commit together. Rows already imported
    (same idempotency key) are skipped, so importing a file twice changes nothing.
    """
    from gateway.audit.service import AuditEntry, write_entry
    from gateway.consent.bulk import import_events, read_rows, validate_all
    from gateway.consent.purposes import load_purposes
    from gateway.privacy.vault import vault_for
    from gateway.store.db import make_engine

    settings = Settings.from_env()
    vault = vault_for(settings)
    known = load_purposes(settings.policy_dir / "purposes.yaml")
    audit, signer = _auditor(settings)
    engine = make_engine(settings.database_url)
    touched: set[int] = set()
    try:
        with engine.begin() as conn:
            with _progress() as bar:
                total = max(_line_count(file) - (fmt == "csv"), 1)
                task = bar.add_task("validating rows", total=total)
                lines = _counted(read_rows(file, fmt), bar, task, total)
                events, rejected, rows = validate_all(conn, lines, known, vault)
            if report is not None:
                _write_report(report, rejected)
            for r in rejected[:20]:
                err.print(f"line {r.line}: {r.code} {r.field or ''}: {r.reason}")
            if rejected and mode == "all-or-nothing":
                err.print(f"[red]{len(rejected)} of {rows} rows rejected; nothing imported[/red] "
                          "(fix them, or use --mode skip-bad-rows to import the rest"
                          + ("" if report else "; --report FILE lists them all") + ")")
                sys.exit(1)
            with _progress() as bar:
                task = bar.add_task("importing consents", total=len(events))
                inserted = import_events(conn, events, lambda n: bar.advance(task, n), touched)
            entry = AuditEntry(
                actor_type="system", actor="cli", action="consent.import", operation="consents import",
                subjects=[(cid, "ALLOWED") for cid in sorted(touched)],
                extra={"format": fmt, "mode": mode, "rows": rows, "inserted": inserted,
                       "already_present": len(events) - inserted, "rejected": len(rejected)},
            )
            write_entry(conn, entry, audit, signer, settings)
    finally:
        engine.dispose()
    err.print(f"[green]imported[/green] {inserted} events; {len(events) - inserted} already present; "
              f"{len(rejected)} rejected of {rows} rows")


@consents.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def consents_export(fmt: str, output: Path) -> None:
    """Export every consent event (import's layout) to OUTPUT; the export is itself audited."""
    from gateway.audit.service import AuditEntry, write_entry
    from gateway.consent.bulk import export_rows, write_export
    from gateway.privacy.vault import vault_for
    from gateway.store.db import make_engine

    settings = Settings.from_env()
    vault = vault_for(settings)
    audit, signer = _auditor(settings)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn, output.open("w", encoding="utf-8", newline="") as fh:
            count = write_export(export_rows(conn, vault), fh, fmt)
            entry = AuditEntry(actor_type="system", actor="cli", action="consent.export",
                               operation="consents export", extra={"format": fmt, "events": count})
            write_entry(conn, entry, audit, signer, settings)
    finally:
        engine.dispose()
    err.print(f"wrote {count} events to {output}")
