"""`consent-gateway audit ...`: verify, checkpoint, export and archive the audit log."""

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


def _services() -> Any:
    from gateway.app import build_services

    return build_services(Settings.from_env())


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group("audit")
def audit_cli() -> None:
    """The tamper-evident audit log: verify, checkpoint, export, archive."""


@audit_cli.command("verify")
@click.option("--full", is_flag=True, help="Walk the whole chain (default: from the last verified checkpoint).")
@click.option("--batch", default=20_000, show_default=True, type=click.IntRange(100, 1_000_000))
def verify_cmd(full: bool, batch: int) -> None:
    """Verify the hash chain and its signed checkpoints; exit 1 at the first problem."""
    from gateway.audit.verify import verify_chain

    services = _services()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err)
    with progress:
        task = progress.add_task("verifying audit chain", total=None)
        result = verify_chain(
            services.engine, services.signer.jwks(), full=full, batch=batch,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    services.engine.dispose()
    click.echo(orjson.dumps(result.as_dict()).decode())
    if result.problem is not None:
        p = result.problem
        err.print(f"[red]audit log invalid[/red] at seq {p.seq}: {p.kind}: {p.message}")
        sys.exit(1)
    err.print(f"[green]audit log valid[/green]: {result.entries} entries ({result.mode}), "
              f"{result.checkpoints} checkpoints, up to seq {result.last_seq}")


@audit_cli.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign the current chain head now (a checkpoint), if it is not signed yet."""
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
    """Export audit entries (filtered) as CSV or JSON Lines; the export is itself audited."""
    from gateway.audit.export import AuditFilter, iter_records, write_document
    from gateway.audit.service import AuditEntry, write_entry

    services = _services()
    flt = AuditFilter(customer, app, purpose, action, decision, _when(since), _when(until))
    with services.engine.begin() as conn, output.open("w", encoding="utf-8") as out:
        count = write_document(iter_records(conn, flt), fmt, out)
        entry = AuditEntry(actor_type="system", actor="cli", action="audit.export",
                           operation="audit export", extra={"format": fmt, "entries": count})
        write_entry(conn, entry, services.pseudonyms.for_audit(), services.signer, services.settings)
    services.engine.dispose()
    err.print(f"wrote {count} entries to {output}")


@audit_cli.group("checkpoints")
def checkpoints_group() -> None:
    """Signed checkpoints of the chain."""


@checkpoints_group.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def checkpoints_export_cmd(output: Path) -> None:
    """Write every checkpoint and the public keys (JWKS) for offline verification."""
    from gateway.audit.offline import export_checkpoints

    services = _services()
    with services.engine.connect() as conn:
        doc = export_checkpoints(conn, services.signer.jwks())
    services.engine.dispose()
    output.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    err.print(f"wrote {len(doc['checkpoints'])} checkpoints to {output}")


@audit_cli.command("verify-checkpoints")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The published JWKS (default: the one inside FILE).")
def verify_checkpoints_cmd(file: Path, jwks_file: Path | None) -> None:
    """Check an exported checkpoint file offline against the public key; exit 1 if any fails."""
    from gateway.audit.offline import verify_checkpoints

    doc = orjson.loads(file.read_bytes())
    jwks = orjson.loads(jwks_file.read_bytes()) if jwks_file else doc.get("jwks", {})
    bad, total = verify_checkpoints(doc, jwks)
    if bad is not None:
        err.print(f"[red]checkpoint at seq {bad} does not verify[/red]")
        sys.exit(1)
    err.print(f"[green]{total} checkpoints verify[/green]")


@audit_cli.command("archive")
@click.option("--older-than", "days", required=True, type=click.FloatRange(0, None),
              help="Archive entries older than this many days.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where archives go (default: GATEWAY_AUDIT_ARCHIVE_DIR or ./var/archive).")
def archive_cmd(days: float, directory: Path | None) -> None:
    """Archive old entries to a signed JSON Lines file and remove them from the live log."""
    from gateway.audit.archive import ArchiveRefused, archive_older_than

    services = _services()
    try:
        result = archive_older_than(services.engine, services.signer, services.signer.jwks(), days,
                                    directory or services.settings.audit_archive_dir)
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
