"""`activation suppress | events`: the suppression list and events from source systems."""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.activation.cli_common import call, err, fail, when


@click.group("suppress")
def suppress() -> None:
    """The global suppression list (hard bounces, complaints, legal holds)."""


@suppress.command("add")
@click.option("--scope", type=click.Choice(["customer", "email", "phone"]), required=True)
@click.option("--reason", type=click.Choice(["hard_bounce", "complaint", "legal_hold", "manual"]),
              required=True)
@click.option("--customer-id", type=int, default=None, help="Scope customer: the internal id.")
@click.option("--address", default=None, help="Scope email or phone: the address (stored as "
              "its blind index only).")
@click.option("--channel", default=None, help="Only this channel (default: every channel).")
@click.option("--expires-at", default=None, help="ISO 8601 with offset (default: never).")
def suppress_add(scope: str, reason: str, customer_id: int | None, address: str | None,
                 channel: str | None, expires_at: str | None) -> None:
    """Add an entry; prints its id."""
    from gateway.activation.service import CLI
    from gateway.activation.suppression import SuppressionInput, add_suppression

    given = SuppressionInput(scope=scope, reason=reason, customer_id=customer_id, address=address,
                             channel=channel, expires_at=when(expires_at))
    click.echo(call(lambda conn, act: add_suppression(conn, act, CLI, given)))


@suppress.command("remove")
@click.argument("entry_id", type=int)
def suppress_remove(entry_id: int) -> None:
    """Lift entry ENTRY_ID."""
    from gateway.activation.service import CLI
    from gateway.activation.suppression import remove_suppression

    call(lambda conn, act: remove_suppression(conn, act, CLI, entry_id))
    err.print(f"suppression {entry_id} lifted")


@suppress.command("list")
def suppress_list() -> None:
    """The entries, newest first (never an address)."""
    from gateway.activation.suppression import list_suppressions

    for row in call(lambda conn, _act: list_suppressions(conn)):
        click.echo(f"{row['id']}\t{row['scope']}\t{row['customer_id'] or ''}\t"
                   f"{row['channel'] or 'all'}\t{row['reason']}\t{row['created_at'].isoformat()}")


@click.group("events")
def events() -> None:
    """Events from source systems (they fire trigger rules)."""


def _attributes(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            fail("INVALID_INPUT", "an attribute is KEY=VALUE, e.g. value=42 or stage=lapsed")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@events.command("record")
@click.option("--kind", required=True, help="purchase, cart_abandoned, signup, ...")
@click.option("--customer-id", type=int, required=True, help="The internal customer id.")
@click.option("--source", default="cli", show_default=True)
@click.option("--at", "occurred_at", default=None, help="ISO 8601 with offset (default: now).")
@click.option("--attr", "attrs", multiple=True, help="KEY=VALUE (numbers, true/false, codes).")
@click.option("--event-id", default=None, help="The source's own id: recorded once.")
def events_record(kind: str, customer_id: int, source: str, occurred_at: str | None,
                  attrs: tuple[str, ...], event_id: str | None) -> None:
    """Record an event; prints the trigger steps it enqueued."""
    from gateway.activation.events import EventInput, record_event
    from gateway.activation.service import CLI

    given = EventInput(kind=kind, source=source, customer_id=customer_id,
                       occurred_at=when(occurred_at), attributes=_attributes(attrs),
                       source_event_id=event_id)
    done = call(lambda conn, act: record_event(conn, act, CLI, given))
    click.echo(json.dumps({"event": done.event_id, "duplicate": done.duplicate,
                           "triggered": done.triggered}, sort_keys=True))
