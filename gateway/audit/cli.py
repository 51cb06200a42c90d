"""`consent-gateway audit ...`: verify, checkpoint, export and archive the audit log.

Every command that reads or changes the log through the database records itself in it
(`audit.verify`, `audit.export`, `audit.archive`); the offline checks (`verify-checkpoints`,
`verify-file`) touch no database.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.config import Settings

err = Console(stderr=True)
JWKS_HELP = "The gateway's published keys: a JWKS file or its URL (…/.well-known/jwks.json)."


def _services() -> Any:
    from gateway.app import build_services

    return build_services(Settings.from_env())


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-01-31T00:00:00Z)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _jwks(source: str) -> dict[str, Any]:
    from gateway.audit.offline import load_jwks

    try:
        return load_jwks(source)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read a JWKS from {source}: {exc}", param_hint="--jwks") from exc


def _record(services: Any, action: str, detail: dict[str, Any]) -> None:
    from gateway.audit.service import record_event

    with services.engine.begin() as conn:
        record_event(conn, action, audit=services.pseudonyms.for_audit(), signer=services.signer,
                     settings=services.settings, actor="cli", operation=action.replace(".", " "),
                     detail=detail)


@click.group("audit")
def audit_cli() -> None:
    """The tamper-evident audit log: verify, checkpoint, export, archive."""


@audit_cli.command("verify")
@click.option("--full", is_flag=True, help="Walk the whole chain (default: from the last verified checkpoint).")
@click.option("--batch", default=20_000, show_default=True, type=click.IntRange(100, 1_000_000))
@click.option("--checkpoints", "external", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Checkpoints exported earlier and kept elsewhere: the log must still match them.")
@click.option("--jwks", "jwks_source", default=None,
              help=JWKS_HELP + " Checks --checkpoints (default: this gateway's own key).")
def verify_cmd(full: bool, batch: int, external: Path | None, jwks_source: str | None) -> None:
    """Verify the hash chain and its signed checkpoints; exit 1 at the first problem.

    The problem names the entry (seq) and what happened to it: modified, deleted, inserted,
    reordered, truncated, checkpoint_invalid, archive_invalid, head_invalid, index_mismatch.
    The run is itself recorded in the log (`audit.verify`).
    """
    from gateway.audit.offline import BadCheckpoint, trusted_checkpoints
    from gateway.audit.verify import verify_chain

    services = _services()
    anchors: dict[int, str] = {}
    if external is not None:
        jwks = _jwks(jwks_source) if jwks_source else services.signer.jwks()
        try:
            anchors = trusted_checkpoints(orjson.loads(external.read_bytes()), jwks)
        except BadCheckpoint as exc:
            err.print(f"[red]{exc}[/red]: the checkpoint file is not genuine; nothing verified")
            sys.exit(2)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err)
    with progress:
        task = progress.add_task("verifying audit chain", total=None)
        result = verify_chain(
            services.engine, services.signer.jwks(), full=full, batch=batch, external=anchors,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    p = result.problem
    _record(services, "audit.verify", {
        "verification": {"ok": result.ok, "mode": result.mode, "first_seq": result.first_seq,
                         "last_seq": result.last_seq, "entries": result.entries,
                         "external_checkpoints": len(anchors),
                         "problem": None if p is None else {"seq": p.seq, "kind": p.kind}}})
    services.engine.dispose()
    click.echo(orjson.dumps(result.as_dict()).decode())
    if p is not None:
        err.print(f"[red]audit log invalid[/red] at seq {p.seq}: {p.kind}: {p.message}")
        sys.exit(1)
    err.print(f"[green]audit log valid[/green]: {result.entries} entries ({result.mode}), "
              f"{result.checkpoints} checkpoints, up to seq {result.last_seq}")


@audit_cli.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign the current chain head now (a checkpoint), if it is not signed yet (e.g. from cron)."""
    from gateway.audit.writer import checkpoint_now

    services = _services()
    with services.engine.begin() as conn:
        seq = checkpoint_now(conn, services.signer)
    services.engine.dispose()
    err.print("the log is empty: nothing to sign" if seq is None else f"checkpoint at seq {seq}")


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option("--from", "since", default=None, help="ISO timestamp, inclusive.")
@click.option("--to", "until", default=None, help="ISO timestamp, exclusive.")
@click.option("--customer", default=None, help="The customer's audit pseudonym (c_...).")
@click.option("--app", default=None, help="The calling app's name.")
@click.option("--purpose", default=None)
@click.option("--action", default=None)
@click.option("--decision", type=click.Choice(["allow", "partial", "deny"]), default=None)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_cmd(fmt: str, since: str | None, until: str | None, customer: str | None,
               app: str | None, purpose: str | None, action: str | None, decision: str | None,
               output: Path) -> None:
    """Export audit entries (filtered) as CSV or JSON Lines; the export is itself audited.

    An unfiltered JSON Lines export can be checked offline with `audit verify-file`.
    """
    from gateway.audit.export import AuditFilter, iter_records, write_document
    from gateway.audit.service import AuditEntry, write_entry

    services = _services()
    flt = AuditFilter(customer, app, purpose, action, decision, _when(since), _when(until))
    with services.engine.begin() as conn, output.open("w", encoding="utf-8") as out:
        count = write_document(iter_records(conn, flt), fmt, out)
        used = sorted(k for k, v in vars(flt).items() if v is not None)
        entry = AuditEntry(actor_type="system", actor="cli", action="audit.export",
                           operation="audit export",
                           extra={"format": fmt, "entries": count, "filter": used})
        write_entry(conn, entry, services.pseudonyms.for_audit(), services.signer, services.settings)
    services.engine.dispose()
    err.print(f"wrote {count} entries to {output}")


@audit_cli.group("checkpoints")
def checkpoints_group() -> None:
    """Signed checkpoints of the chain."""


@checkpoints_group.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def checkpoints_export_cmd(output: Path) -> None:
    """Write every checkpoint and archive anchor, for offline checks and later `verify --checkpoints`."""
    from gateway.audit.offline import export_checkpoints

    services = _services()
    with services.engine.connect() as conn:
        doc = export_checkpoints(conn, services.signer.jwks())
    output.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    last = doc["checkpoints"][-1]["seq"] if doc["checkpoints"] else None
    _record(services, "audit.export", {"format": "checkpoints", "entries": len(doc["checkpoints"]),
                                       "last_seq": last})
    services.engine.dispose()
    err.print(f"wrote {len(doc['checkpoints'])} checkpoints to {output}")


@audit_cli.command("verify-checkpoints")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_source", required=True, help=JWKS_HELP)
def verify_checkpoints_cmd(file: Path, jwks_source: str) -> None:
    """Check an exported checkpoint file offline against the published key; exit 1 if any fails."""
    from gateway.audit.offline import verify_checkpoints

    bad, total = verify_checkpoints(orjson.loads(file.read_bytes()), _jwks(jwks_source))
    if bad is not None:
        err.print(f"[red]checkpoint at seq {bad} does not verify[/red]")
        sys.exit(1)
    err.print(f"[green]{total} checkpoints verify[/green]")


@audit_cli.command("verify-file")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_source", required=True, help=JWKS_HELP)
@click.option("--checkpoints", "cp_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="An exported checkpoint file the entries must match.")
@click.option("--complete", is_flag=True,
              help="FILE is a whole-log export: a checkpoint beyond its last entry means a cut tail.")
def verify_file_cmd(file: Path, jwks_source: str, cp_file: Path | None, complete: bool) -> None:
    """Check an unfiltered JSON Lines export or a retention archive offline; exit 1 at a problem.

    An archive (`audit-<first>-<last>.jsonl` with its `.anchor.json`) is checked against its
    signed anchor: signature, file hash, range, hashes and links of every entry.
    """
    from gateway.audit.offline import (
        BadCheckpoint,
        read_jsonl,
        trusted_checkpoints,
        verify_archive,
        verify_records,
    )

    jwks = _jwks(jwks_source)
    try:
        cps = trusted_checkpoints(orjson.loads(cp_file.read_bytes()), jwks) if cp_file else {}
    except BadCheckpoint as exc:
        err.print(f"[red]{exc}[/red]: the checkpoint file is not genuine")
        sys.exit(2)
    try:
        if file.with_suffix(".anchor.json").exists():
            result = verify_archive(file, jwks)
        else:
            result = verify_records(read_jsonl(file), checkpoints=cps, complete=complete)
    except (ValueError, KeyError) as exc:
        err.print(f"[red]{file} is not a JSON Lines audit export[/red] ({exc})")
        sys.exit(2)
    click.echo(orjson.dumps(vars(result)).decode())
    if not result.ok:
        err.print(f"[red]invalid[/red] at seq {result.problem_seq}: {result.problem}")
        sys.exit(1)
    err.print(f"[green]valid[/green]: {result.entries} entries, seq {result.first_seq}..{result.last_seq}")


@audit_cli.command("archive")
@click.option("--older-than", "days", default=None, type=click.FloatRange(0, None),
              help="Archive entries older than this many days (default: GATEWAY_AUDIT_RETENTION_DAYS).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where archives go (default: GATEWAY_AUDIT_ARCHIVE_DIR or ./var/archive).")
def archive_cmd(days: float | None, directory: Path | None) -> None:
    """Archive old entries to a signed JSON Lines file and remove them from the live log.

    The log must verify first; the cut is recorded in the live chain (`audit.archive`).
    """
    from gateway.audit.archive import ArchiveRefused, archive_older_than

    services = _services()
    if days is None:
        if services.settings.audit_retention_days <= 0:
            raise click.UsageError("no retention configured: set GATEWAY_AUDIT_RETENTION_DAYS or pass --older-than")
        days = float(services.settings.audit_retention_days)
    try:
        result = archive_older_than(services.engine, services.signer, services.signer.jwks(), days,
                                    directory or services.settings.audit_archive_dir,
                                    audit=services.pseudonyms.for_audit(), settings=services.settings)
    except ArchiveRefused as exc:
        err.print(f"[red]{exc}[/red]")
        sys.exit(1)
    finally:
        services.engine.dispose()
    if result.entries == 0:
        err.print("nothing old enough to archive")
    else:
        err.print(f"archived seq {result.first_seq}..{result.last_seq} "
                  f"({result.entries} entries) to {result.path}")
