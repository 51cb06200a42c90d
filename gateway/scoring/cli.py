"""`consent-gateway scores ...`: train the propensity models, score the customers, list models."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from gateway.segmentation.cli import _audit, _config, _profiling, _progress, _services, err


def _num(value: object) -> str:
    # No metric when the evaluation window holds one outcome only (e.g. no recent orders).
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


@click.group("scores")
def scores_cli() -> None:
    """Scoring: propensity models (train, list) and scores (run)."""


@scores_cli.command("train")
@click.option("--model", "names", multiple=True, default=("purchase_30d", "churn"),
              show_default=True, help="Model(s) to train: purchase_30d, churn.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Train as if today were this date (UTC), e.g. the end of a data extract.")
def train_command(names: tuple[str, ...], as_of: datetime | None) -> None:
    """Train a new version of each model with a time split and make it the active one."""
    from gateway.errors import ServiceError
    from gateway.scoring.train import train
    from gateway.store.types import utcnow

    services = _services()
    config, profiling = _config(services), _profiling(services)
    now = as_of.replace(tzinfo=UTC) if as_of is not None else utcnow()
    failed = False
    for name in names:
        try:
            done = train(services.engine, config, name, profiling, now)
        except ServiceError as exc:
            err.print(f"[red]{exc.code.value}[/red] {name}: {exc.message}")
            failed = True
            continue
        m = done.metrics
        _audit(services, "profiling.train", {"model": name, "version": done.version,
                                             "sha256": done.sha256, "auc": m.get("auc")})
        err.print(f"[green]trained[/green] {name} v{done.version} (sha256 {done.sha256[:12]}…): "
                  f"AUC {_num(m.get('auc'))}, Brier {_num(m.get('brier'))}, lift of the top "
                  f"decile {_num(m.get('lift_top_decile'))}, evaluated on {m['customers']} "
                  "customers of the latest window")
    if failed:
        err.print("run `consent-gateway segments compute` first, and train once the orders cover "
                  "twice the model's horizon")
        sys.exit(4)


@scores_cli.command("run")
def run_command() -> None:
    """Score every customer who may be profiled with the active models (after `segments compute`)."""
    from gateway.scoring.score import score_all
    from gateway.store.types import utcnow

    services = _services()
    with _progress() as bar:
        task = bar.add_task("scoring customers", total=None)
        report = score_all(services.engine, _profiling(services), utcnow(),
                           progress=lambda n: bar.advance(task, n))
    if not report.models:
        err.print("[yellow]no active model[/yellow]: run `consent-gateway scores train` first")
        sys.exit(4)
    _audit(services, "profiling.score", {"scored": report.scored, "models": list(report.models),
                                         "removed": report.removed})
    err.print(f"[green]scored[/green] {report.scored} customers with {', '.join(report.models)}; "
              f"scores removed for {report.removed} who may not be profiled")


@scores_cli.command("models")
def models_command() -> None:
    """List the model versions with their metrics and artifact hashes."""
    from sqlalchemy import select

    from gateway.scoring.tables import score_models

    services = _services()
    m = score_models.c
    with services.engine.connect() as conn:
        for r in conn.execute(select(score_models).order_by(m.name, m.version)):
            flag = "active" if r.active else ""
            click.echo(f"{r.name}\tv{r.version}\t{flag}\t{r.trained_at:%Y-%m-%d}\t"
                       f"{r.artifact_sha256}\t{json.dumps({k: v for k, v in r.metrics.items() if k != 'calibration'})}")
