"""`consent-gateway segments ...`: compute the attributes, fit personas, list saved segments."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway.config import Settings

err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err)


def _services() -> Any:
    from gateway.app import build_services

    return build_services(Settings.from_env())


def _profiling(services: Any) -> Any:
    found = services.purposes.get("profiling")
    if found is None:
        err.print("[red]error[/red]: purposes.yaml declares no `profiling` purpose; add it "
                  "(basis legitimate_interest, objection_scope profiling) and run again")
        sys.exit(2)
    return found


def _config(services: Any) -> Any:
    from gateway.segmentation.config import ConfigError, load_config

    try:
        return load_config(services.settings.policy_dir)
    except (ConfigError, OSError) as exc:
        err.print(f"[red]error[/red]: {services.settings.policy_dir / 'segmentation.yaml'}: {exc}")
        sys.exit(2)


def _audit(services: Any, action: str, detail: dict[str, Any]) -> None:
    from gateway.audit.service import record_event

    with services.engine.begin() as conn:
        record_event(conn, action, audit=services.pseudonyms.for_audit(), signer=services.signer,
                     settings=services.settings, actor="cli", purpose="profiling",
                     operation=action, detail=detail)


@click.group("segments")
def segments_cli() -> None:
    """Segmentation: computed attributes, personas and saved rule segments."""


@segments_cli.command("compute")
@click.option("--full", is_flag=True, help="Aggregate every customer again, not only those "
              "whose orders or interactions changed.")
def compute_command(full: bool) -> None:
    """Compute RFM, life-cycle stage, channel affinity and milestones of every customer who
    may be profiled; remove every derived value of those who may not."""
    from gateway.segmentation.compute import compute
    from gateway.store.types import utcnow

    services = _services()
    with _progress() as bar:
        task = bar.add_task("computing attributes", total=None)
        report = compute(services.engine, _config(services), _profiling(services), utcnow(),
                         full=full, progress=lambda n: bar.advance(task, n),
                         total=lambda n: bar.update(task, total=n))
    _audit(services, "profiling.compute", {
        "profiled": report.profiled, "aggregated": report.aggregated,
        "written": report.written, "removed": report.removed, "full": full,
    })
    err.print(f"[green]computed[/green] {report.profiled} customers may be profiled: "
              f"{report.aggregated} aggregated again, {report.written} written; derived data "
              f"removed for {report.removed} who may not be profiled")


@segments_cli.command("list")
def list_command() -> None:
    """List the saved segments at their current version."""
    from gateway.segmentation.store import list_segments

    services = _services()
    with services.engine.connect() as conn:
        for info in list_segments(conn):
            click.echo(f"{info.id}\tv{info.version}\t{info.name}\t{info.purpose}\t{info.definition}")


@segments_cli.command("show")
@click.argument("segment_id", type=int)
@click.option("--version", type=int, default=None, help="A version (default: the current one).")
def show_command(segment_id: int, version: int | None) -> None:
    """Show one segment: its rule, the fields and categories it reads, its versions."""
    from gateway.errors import ServiceError
    from gateway.segmentation.store import get_segment, versions_of

    services = _services()
    with services.engine.connect() as conn:
        try:
            info = get_segment(conn, segment_id, version)
        except ServiceError as exc:
            err.print(f"[red]{exc.code.value}[/red]: {exc.message}; `consent-gateway segments "
                      "list` shows the segments")
            sys.exit(3)
        click.echo(f"{info.name} (id {info.id}), version {info.version} of {info.current_version}")
        click.echo(f"rule: {info.definition}")
        click.echo(f"reads: {', '.join(info.fields)}; reveals: {', '.join(info.categories)}")
        for v in versions_of(conn, segment_id):
            click.echo(f"  v{v.version}\t{v.created_at:%Y-%m-%d %H:%M}\t{v.created_by}\t{v.definition}")
