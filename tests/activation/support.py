"""Helpers of the activation tests: an Activation with a manual clock, destinations,
customers in each state the gate tells apart, and a worker that runs to completion."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.activation.campaigns import CampaignInput, create_campaign, plan_campaign
from gateway.activation.clock import ManualClock
from gateway.activation.destinations import DestinationInput, create_destination
from gateway.activation.service import CLI, Activation
from gateway.activation.tables import activation_messages
from gateway.activation.worker import PassReport, Worker
from tests.api.support import person
from tests.harness import Gateway

SECRET = "test-signing-secret"


def activation_for(gw: Gateway, *, prefixes: str, drop_dir: Path | None = None,
                   clock: ManualClock | None = None, **settings: Any) -> Activation:
    """An Activation on the gateway's services, allowed to post under `prefixes` (127.0.0.1)."""
    s = gw.services
    changed = dataclasses.replace(
        s.settings, activation_allowed_urls=prefixes, activation_private_networks="127.0.0.0/8",
        activation_drop_dir=drop_dir or Path("/nonexistent"), activation_retry_base_seconds=1.0,
        **settings)
    return Activation.build(changed, s.purposes, s.policy, s.pseudonyms, s.vault, s.signer,
                            clock=clock or ManualClock())


def webhook(gw: Gateway, act: Activation, url: str, *, name: str, purpose: str = "marketing_email",
            channel: str = "email", fields: tuple[str, ...] = ("firstName", "email", "city"),
            **more: Any) -> int:
    """Create a webhook destination; its id."""
    with gw.engine.begin() as conn:
        found, _ = create_destination(conn, act, CLI, DestinationInput(
            name=name, kind="webhook", channel=channel, purpose=purpose, fields=fields, url=url,
            secret=SECRET, **more))
    return found.id


def campaign(gw: Gateway, act: Activation, destination: str, ids: list[int], *,
             template: str = "newsletter", purpose: str = "marketing_email", **more: Any) -> str:
    """Create a campaign over an explicit list; its ref."""
    with gw.engine.begin() as conn:
        found = create_campaign(conn, act, CLI, CampaignInput(
            name="test campaign", destination=destination, purpose=purpose, template=template,
            customer_ids=tuple(ids), **more))
    return found.ref


def plan(gw: Gateway, act: Activation, ref: str) -> Any:
    with gw.engine.begin() as conn:
        return plan_campaign(conn, act, CLI, ref)


def drain(gw: Gateway, act: Activation, *, passes: int = 20) -> PassReport:
    """Run worker passes until one finds nothing to do."""
    worker = Worker(gw.engine, act)
    total = PassReport()
    try:
        for _ in range(passes):
            report = worker.run_once()
            total.add(report)
            if report.batches == 0 and report.notices == 0:
                break
    finally:
        worker.close()
    return total


def customer(gw: Gateway, *, consent: str | None = "marketing_email", **values: Any) -> int:
    """A customer with unique values, consented to `consent` (None: no consent)."""
    cid = gw.add_customer(**person(**values))
    if consent is not None:
        gw.consent(cid, consent)
    return cid


def statuses(gw: Gateway, **where: Any) -> dict[int, tuple[str, str | None]]:
    """{customer id: (status, reason)} of the messages matching `where` (column = value)."""
    m = activation_messages.c
    stmt = select(m.customer_id, m.status, m.reason).where(
        *(getattr(m, k) == v for k, v in where.items()))
    with gw.engine.connect() as conn:
        return {int(r.customer_id): (r.status, r.reason) for r in conn.execute(stmt)
                if r.customer_id is not None}


def count(gw: Gateway, **where: Any) -> int:
    m = activation_messages.c
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(activation_messages).where(
            *(getattr(m, k) == v for k, v in where.items()))).scalar_one())
