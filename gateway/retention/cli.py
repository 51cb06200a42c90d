"""`consent-gateway retention run`: the scheduled destruction of data no purpose may keep."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

err = Console(stderr=True)


@click.group("retention")
def retention_cli() -> None:
    """Retention: destroy what no purpose with a legal basis may keep (152-FZ Art. 21(5))."""


@retention_cli.command("run")
@click.option("--apply", "apply_", is_flag=True,
              help="Destroy what is due (default: a dry run that changes nothing).")
@click.option("--grace-days", default=0, show_default=True, type=click.IntRange(0, 29),
              help="Wait this many days after a basis ended (the legal deadline is 30).")
@click.option("--now", "now_text", default=None, metavar="ISO-8601",
              help="Judge as of this moment (tests, what-if); default: now.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the JSON report here (default: stdout).")
def retention_run(apply_: bool, grace_days: int, now_text: str | None,
                  report_file: Path | None) -> None:
    """Check every customer's legal bases per purpose; report what is due, by when; destroy it
    with --apply.

    Run it daily (cron, a Kubernetes CronJob). A purpose's basis ends with a withdrawal or
    denial, an expiry (152-FZ term), a superseding notice, an objection, or its
    `retention_days` after the last contact. Data only purposes whose basis ended covered is
    destroyed (interactions kept only for marketing, scores after an objection to profiling;
    audit retention.destroy), the rest kept; when no purpose holds, the whole record goes with
    the one erasure of `rights erase` (retention.erase). Each run is audited (retention.run).
    """
    from gateway.app import build_services
    from gateway.cli import _progress, _settings
    from gateway.retention.run import Retention, run_retention

    now = _parse_now(now_text)
    services = build_services(_settings())
    job = Retention(services.engine, services.purposes, services.vault,
                    services.pseudonyms.for_audit(), services.signer)
    with _progress() as bar:
        task = bar.add_task("checking customers", total=None)
        report = run_retention(job, apply=apply_, now=now, grace_days=grace_days,
                               progress=lambda n: bar.advance(task, n))
    services.engine.dispose()
    text = json.dumps(report.as_dict(), indent=2)
    if report_file is None:
        click.echo(text)
    else:
        report_file.write_text(text + "\n")
    summary = report.as_dict()
    if apply_:
        done = f"{report.erased} erased whole, {report.destroyed} in part ({report.units} units)"
    else:
        done = (f"{summary['due_whole']} due whole, {summary['due_partial']} in part "
                "(dry run: nothing changed; --apply destroys)")
    err.print(f"checked {report.checked}: kept {report.kept}, waiting {report.waiting}, "
              f"{done}, {report.overdue} past the 30-day deadline")


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("expected an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z",
                                 param_hint="--now") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-01-31T00:00:00Z", param_hint="--now")
    return moment
