"""`activation campaigns | work | outbox`: plan and run campaigns, deliver, watch the outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from gateway.activation.cli_common import call, err, fail, services, when


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err)


@click.group("campaigns")
def campaigns() -> None:
    """Campaigns: a segment or a list, a destination, a purpose, a template, a schedule."""


def _arm(text: str) -> Any:
    from gateway.activation.campaigns import Arm

    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        fail("INVALID_INPUT", "an arm is NAME:WEIGHT:TEMPLATE, e.g. B:1:spring_sale_city")
    return Arm(parts[0], int(parts[1]), parts[2])


def _ids_from(emails_file: Path | None, ids: str | None) -> tuple[int, ...] | None:
    """Customer ids from a file of email addresses (blind index) or a list of internal ids."""
    if ids is not None:
        try:
            return tuple(int(i) for i in ids.split(",") if i.strip())
        except ValueError:
            fail("INVALID_INPUT", "--ids is a comma-separated list of customer ids")
    if emails_file is None:
        return None
    from gateway.profile.identity import find_customer_by

    lines = [ln.strip() for ln in emails_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    found: list[int] = []
    with services() as built, built.engine.connect() as conn:
        for number, line in enumerate(lines, 1):
            cid = find_customer_by(conn, built.vault, "email", line)
            if cid is None:  # the address is not repeated: it is personal data
                fail("NOT_FOUND", f"line {number} of the file names no customer; nothing was created")
            found.append(cid)
    return tuple(found)


@campaigns.command("create")
@click.option("--name", required=True)
@click.option("--destination", required=True)
@click.option("--purpose", required=True)
@click.option("--template", required=True)
@click.option("--segment", default=None, help="A segment id (gateway/segmentation).")
@click.option("--segment-version", type=int, default=None)
@click.option("--emails-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A list audience: one email address per line.")
@click.option("--ids", default=None, help="A list audience: comma-separated internal customer ids.")
@click.option("--schedule-at", default=None, help="ISO 8601 with offset: the worker plans it then.")
@click.option("--holdout", type=float, default=0.0, show_default=True,
              help="Share held out as the control group (0-0.5).")
@click.option("--arm", "arms", multiple=True, help="NAME:WEIGHT:TEMPLATE, repeatable (A/B/n).")
@click.option("--conversion-days", type=int, default=7, show_default=True)
def campaigns_create(name: str, destination: str, purpose: str, template: str,
                     segment: str | None, segment_version: int | None, emails_file: Path | None,
                     ids: str | None, schedule_at: str | None, holdout: float,
                     arms: tuple[str, ...], conversion_days: int) -> None:
    """Create a campaign; prints its id."""
    from gateway.activation.campaigns import CampaignInput, create_campaign
    from gateway.activation.service import CLI

    given = CampaignInput(
        name=name, destination=destination, purpose=purpose, template=template,
        segment_id=segment, segment_version=segment_version,
        customer_ids=_ids_from(emails_file, ids), schedule_at=when(schedule_at),
        holdout=holdout, arms=tuple(_arm(a) for a in arms), conversion_days=conversion_days)
    found = call(lambda conn, act: create_campaign(conn, act, CLI, given))
    err.print(f"campaign {found.name} created ({found.status})")
    click.echo(found.ref)


@campaigns.command("list")
def campaigns_list() -> None:
    """The campaigns, newest first."""
    from gateway.activation.campaigns import list_campaigns

    for c in call(lambda conn, _act: list_campaigns(conn)):
        click.echo(f"{c.ref}\t{c.name}\t{c.purpose}\t{c.template}\t{c.status}")


def _print_run(result: Any) -> None:
    click.echo(json.dumps({"campaign": result.campaign.ref, "kind": result.kind,
                           **result.counts()}, indent=2, sort_keys=True))


@campaigns.command("dry-run")
@click.argument("ref")
def campaigns_dry_run(ref: str) -> None:
    """Who would receive campaign REF now, and who is excluded by which reason."""
    from gateway.activation.campaigns import dry_run
    from gateway.activation.service import CLI

    with err.status("deciding the audience"):
        _print_run(call(lambda conn, act: dry_run(conn, act, CLI, ref)))


@campaigns.command("run")
@click.argument("ref")
def campaigns_run(ref: str) -> None:
    """Plan campaign REF now: enqueue a message per allowed customer (idempotent)."""
    from gateway.activation.campaigns import plan_campaign
    from gateway.activation.service import CLI

    with err.status("planning"):
        _print_run(call(lambda conn, act: plan_campaign(conn, act, CLI, ref)))
    err.print("messages are sent by `consent-gateway activation work` (or serve with "
              "GATEWAY_ACTIVATION_WORKER=true)")


@campaigns.command("cancel")
@click.argument("ref")
def campaigns_cancel(ref: str) -> None:
    """Cancel campaign REF and its messages not yet sent."""
    from gateway.activation.campaigns import cancel_campaign
    from gateway.activation.service import CLI

    found = call(lambda conn, act: cancel_campaign(conn, act, CLI, ref))
    err.print(f"campaign {found.name} cancelled")


@campaigns.command("results")
@click.argument("ref")
def campaigns_results(ref: str) -> None:
    """Per arm: assigned, sent, opens, clicks, conversions, uplift with its 95% interval."""
    from dataclasses import asdict

    from gateway.activation.campaigns import get_campaign
    from gateway.activation.experiments import results

    rows = call(lambda conn, _act: results(conn, get_campaign(conn, ref)))
    click.echo(json.dumps([asdict(r) for r in rows], indent=2))


@click.command("work")
@click.option("--once", is_flag=True, help="One pass over what is due, then exit.")
@click.option("--poll", type=float, default=None, help="Seconds between idle passes.")
@click.option("--max-batches", type=int, default=None, help="Stop a pass after this many batches.")
def work(once: bool, poll: float | None, max_batches: int | None) -> None:
    """Deliver the outbox: plan due campaigns, tell recipients, send, retry, dead-letter."""
    import logging

    from gateway.activation.outbox import status_counts
    from gateway.activation.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with services() as built:
        worker = Worker(built.engine, built.activation, max_batches=max_batches)
        try:
            if not once:
                err.print("activation worker running; Ctrl-C stops it after the batch in hand")
                try:
                    worker.run_forever(poll)
                except KeyboardInterrupt:
                    worker.stop()
                return
            with built.engine.connect() as conn:
                due = status_counts(conn).get("pending", 0)
            with _progress() as bar:
                task = bar.add_task("delivering", total=max(due, 1))
                worker.on_batch = lambda report: bar.advance(task, report.handled)
                report = worker.run_once()
        finally:
            worker.close()
    err.print(f"sent {report.sent}, held out {report.held_out}, excluded "
              f"{sum(report.excluded.values())} {dict(report.excluded)}, retried "
              f"{report.retried}, dead {report.dead}, notices enqueued {report.notices}")


@click.group("outbox")
def outbox() -> None:
    """The outbox: messages by status; dead letters back in line."""


@outbox.command("status")
@click.option("--campaign", default=None, help="A campaign id.")
def outbox_status(campaign: str | None) -> None:
    """How many messages are in each status (and why, for a campaign)."""
    from gateway.activation.campaigns import get_campaign
    from gateway.activation.outbox import reason_counts, status_counts

    def read(conn: Any, _act: Any) -> dict[str, Any]:
        if campaign is None:
            return {"statuses": status_counts(conn)}
        found = get_campaign(conn, campaign)
        return {"statuses": status_counts(conn, campaign_id=found.id),
                "reasons": reason_counts(conn, found.id)}

    click.echo(json.dumps(call(read), indent=2, sort_keys=True))


@outbox.command("requeue")
@click.option("--destination", default=None, help="Only this destination's dead letters.")
def outbox_requeue(destination: str | None) -> None:
    """Put dead messages back in line (after the destination was fixed)."""
    from gateway.activation.destinations import get_destination
    from gateway.activation.outbox import requeue_dead

    def requeue(conn: Any, act: Any) -> int:
        dest_id = get_destination(conn, name=destination).id if destination else None
        return requeue_dead(conn, dest_id, act.clock.now())

    err.print(f"{call(requeue)} messages back in line")
