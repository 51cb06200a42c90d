"""`consent-gateway activation ...`: destinations, campaigns, the worker, suppressions, events.

The operator's commands. Every change writes its audit entry (actor `cli`); messages never
repeat a personal value. Exit codes: 2 bad input, 3 not found, 4 refused.
"""

from __future__ import annotations

import sys

import click

from gateway.activation.cli_campaigns import campaigns, outbox, work
from gateway.activation.cli_common import call, err, services
from gateway.activation.cli_records import events, suppress
from gateway.config import Settings


@click.group("activation")
def activation_cli() -> None:
    """Campaigns and event triggers to destinations, gated when each message leaves."""


@activation_cli.command("check")
def check() -> None:
    """Validate policies/activation.yaml (templates, triggers) and the destinations it names."""
    from gateway.activation.destinations import list_destinations
    from gateway.activation.rules import RulesError, load_rules
    from gateway.consent.purposes import load_purposes

    settings = Settings.from_env()
    purposes = load_purposes(settings.policy_dir / "purposes.yaml")
    try:
        rules = load_rules(settings.policy_dir / "activation.yaml", frozenset(purposes.by_name))
    except RulesError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}")
        sys.exit(2)
    with services() as built, built.engine.connect() as conn:
        known = {d.name: d for d in list_destinations(conn)}
    problems = [f"triggers.{r.name}.destination: no destination {r.destination} is configured"
                for r in rules.rules.values() if r.destination not in known]
    problems += [f"triggers.{r.name}.purpose: {r.destination} serves {known[r.destination].purpose}"
                 for r in rules.rules.values()
                 if r.destination in known and known[r.destination].purpose != r.purpose]
    for problem in problems:
        err.print(f"[yellow]warning[/yellow] {problem}")
    err.print(f"[green]ok[/green]: {len(rules.templates)} templates, {len(rules.rules)} triggers")


# --- destinations -----------------------------------------------------------------------------


@activation_cli.group("destinations")
def destinations() -> None:
    """Where messages go: webhooks and file drops."""


@destinations.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["webhook", "file"]), required=True)
@click.option("--channel", type=click.Choice(["email", "sms", "push", "ads_audience"]), required=True)
@click.option("--purpose", required=True, help="The purpose it serves (purposes.yaml).")
@click.option("--fields", required=True, help="Comma-separated field names, e.g. firstName,email.")
@click.option("--url", default=None, help="Webhook URL (under GATEWAY_ACTIVATION_ALLOWED_URLS).")
@click.option("--path", default=None, help="File drop: a directory under GATEWAY_ACTIVATION_DROP_DIR.")
@click.option("--format", "file_format", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--role", default="marketing", show_default=True,
              help="The policy role whose field plan decides what it may receive.")
@click.option("--batch-size", type=int, default=None)
@click.option("--max-attempts", type=int, default=None)
def destinations_add(name: str, kind: str, channel: str, purpose: str, fields: str,
                     url: str | None, path: str | None, file_format: str, role: str,
                     batch_size: int | None, max_attempts: int | None) -> None:
    """Configure destination NAME; a webhook's signing secret is printed once, last."""
    from gateway.activation.destinations import DestinationInput, create_destination
    from gateway.activation.service import CLI

    given = DestinationInput(
        name=name, kind=kind, channel=channel, purpose=purpose,
        fields=tuple(f.strip() for f in fields.split(",") if f.strip()), role=role, url=url,
        path=path, file_format=file_format, batch_size=batch_size, max_attempts=max_attempts)
    found, secret = call(lambda conn, act: create_destination(conn, act, CLI, given))
    err.print(f"destination {found.name} ({found.kind}, {found.channel}, {found.purpose}) created")
    if secret is not None:
        err.print("its signing secret (X-Gateway-Signature, HMAC-SHA256); store it now:")
        click.echo(secret)


@destinations.command("list")
def destinations_list() -> None:
    """The destinations (never their secrets)."""
    from gateway.activation.destinations import list_destinations

    for d in call(lambda conn, _act: list_destinations(conn)):
        state = "disabled" if d.disabled else "active"
        target = d.url or d.path
        click.echo(f"{d.name}\t{d.kind}\t{d.channel}\t{d.purpose}\t{','.join(d.fields)}\t{target}\t{state}")


@destinations.command("disable")
@click.argument("name")
def destinations_disable(name: str) -> None:
    """Stop sending to NAME (its messages wait)."""
    from gateway.activation.destinations import disable_destination
    from gateway.activation.service import CLI

    call(lambda conn, act: disable_destination(conn, act, CLI, name))
    err.print(f"destination {name} disabled")


for _command in (campaigns, work, outbox, suppress, events):
    activation_cli.add_command(_command)
