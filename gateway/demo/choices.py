"""What the demo customers chose: consent and preference ledgers with their projected state."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

from gateway.consent.purposes import Notice, Purpose, Purposes
from gateway.consent.service import fz_details, fz_expiry
from gateway.demo.activity import NextId, between

Row = dict[str, Any]

SOURCE_CHANNELS = ("portal", "web_form", "call_center", "import")
SOURCE_CHANNEL_WEIGHTS = (30, 45, 15, 10)
# A few customers were never asked anything (store-only, imported without contact).
NEVER_ASKED_CUSTOMER = 0.12
# Per consent purpose, for the others; overall about 25% never asked, 45% granted, 15% denied
# and 15% granted then withdrawn.
OUTCOMES = ("never", "grant", "deny", "withdraw")
OUTCOME_WEIGHTS = (0.148, 0.511, 0.171, 0.170)
OLD_NOTICE_SHARE = 0.10
EXPIRED_SHARE = 0.05
# The purpose contacting the customer through each channel (`channel:` in purposes.yaml; a
# test keeps the two in step): channel choices follow that purpose's consent.
CHANNEL_PURPOSE: dict[str, str | None] = {
    "email": "marketing_email", "sms": "marketing_sms", "push": "marketing_push",
    "phone": None, "post": None,
}
CAPS = ((4, 30), (2, 7), (1, 7), (8, 30))


def _published(notice: Notice) -> datetime:
    return datetime.combine(notice.published, time(), tzinfo=UTC)


def _evidence(rng: random.Random, channel: str, opting_out: bool) -> str:
    if channel == "call_center":
        return f"call:CC-{rng.randint(10000, 99999)}"
    if channel == "portal":
        return "portal:preferences"
    if channel == "import":
        return "import:crm-migration-2025"
    if opting_out:
        return "form:unsubscribe-v2"
    return rng.choice(("form:signup-v3", "form:checkout-v2", "form:newsletter-v1"))


def _notice_sha256(notice: Notice, language: str) -> str:
    text = notice.texts.get(language) or notice.texts.get("en") or next(iter(notice.texts.values()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _latest(events: list[Row], keys: tuple[str, ...]) -> dict[tuple[Any, ...], Row]:
    latest: dict[tuple[Any, ...], Row] = {}
    for event in events:
        key = tuple(event[k] for k in keys)
        if key not in latest or (event["occurred_at"], event["id"]) >= (
            latest[key]["occurred_at"], latest[key]["id"]
        ):
            latest[key] = event
    return latest


def _consent_event(
    rng: random.Random, purposes: Purposes, purpose: Purpose, notice: Notice,
    customer: Row, action: str, at: datetime, expires_at: datetime | None, key: str,
    next_id: NextId,
) -> Row:
    channels = SOURCE_CHANNELS[:3] if action == "withdraw" else SOURCE_CHANNELS
    channel = rng.choices(channels, weights=SOURCE_CHANNEL_WEIGHTS[: len(channels)])[0]
    # The same 152-FZ content the consent service records for a grant to this notice.
    details = fz_details(purposes, purpose.name, notice) if (
        customer["jurisdiction"] == "152-fz" and action == "grant"
    ) else None
    # A 152-FZ grant lasts its notice's term, as the consent service records it: older demo
    # grants have expired by `now`, so the first hour already shows expiry.
    expires_at = fz_expiry(details, at, expires_at)
    return {
        "id": next_id("consent_events"), "customer_id": customer["id"], "purpose": purpose.name,
        "notice_version": notice.version, "action": action, "occurred_at": at,
        "recorded_at": at, "source_channel": channel, "app_id": None,
        "evidence": _evidence(rng, channel, action == "withdraw"), "expires_at": expires_at,
        "notice_text_sha256": _notice_sha256(notice, str(customer["language"])),
        "details": details, "idempotency_key": key,
    }


def make_consents(
    rng: random.Random, purposes: Purposes, customer: Row, seed: int, now: datetime,
    next_id: NextId,
) -> tuple[list[Row], list[Row]]:
    """Consent events for every consent-based purpose, and the `consent_state` they project to.

    Grants go to the notice in force at the time; about 10% to an older version (for
    `marketing_sms` that one is superseded by a material change) and 5% expired.
    """
    if rng.random() < NEVER_ASKED_CUSTOMER:
        return [], []
    created: datetime = customer["created_at"]
    latest_ok = now - timedelta(hours=1)
    events: list[Row] = []
    for purpose in sorted(purposes.by_name.values(), key=lambda p: p.name):
        if purpose.basis != "consent":
            continue
        outcome = rng.choices(OUTCOMES, weights=OUTCOME_WEIGHTS)[0]
        shown = [n for n in purpose.notices if _published(n) <= now]
        if outcome == "never" or not shown:
            continue
        notice, hi = shown[-1], latest_ok
        if outcome != "deny" and len(shown) > 1 and rng.random() < OLD_NOTICE_SHARE:
            k = rng.randrange(len(shown) - 1)
            superseded_at = _published(shown[k + 1])
            if max(created, _published(shown[k])) < superseded_at:
                notice, hi = shown[k], min(hi, superseded_at - timedelta(seconds=1))
        lo = max(created, _published(notice))
        if lo >= hi:
            continue
        at = between(rng, lo, hi)
        expires_at = None
        expirable = at + timedelta(days=1) < latest_ok
        if outcome == "grant" and rng.random() < EXPIRED_SHARE and expirable:
            expires_at = between(rng, at + timedelta(days=1), latest_ok)
        prefix = f"seed:{seed}:{customer['id']}:{purpose.name}"
        action = "deny" if outcome == "deny" else "grant"
        events.append(_consent_event(
            rng, purposes, purpose, notice, customer, action, at, expires_at, f"{prefix}:1", next_id
        ))
        if outcome == "withdraw":
            back = between(rng, at + timedelta(minutes=1), now)
            events.append(_consent_event(
                rng, purposes, purpose, notice, customer, "withdraw", back, None, f"{prefix}:2",
                next_id,
            ))
    state = [
        {"customer_id": e["customer_id"], "purpose": e["purpose"], "action": e["action"],
         "notice_version": e["notice_version"], "occurred_at": e["occurred_at"],
         "expires_at": e["expires_at"], "event_id": e["id"]}
        for e in _latest(events, ("purpose",)).values()
    ]
    return events, state


def make_preferences(
    rng: random.Random, customer: Row, consents: list[Row], seed: int, now: datetime,
    next_id: NextId,
) -> tuple[list[Row], list[Row]]:
    """Channel opt-ins in line with the consents, a few objections and restrictions, and state."""
    created: datetime = customer["created_at"]
    final = {key[0]: e for key, e in _latest(consents, ("purpose",)).items()}
    events: list[Row] = []

    def add(
        kind: str, key: str, value: str, at: datetime, cap: tuple[int, int] | None = None
    ) -> None:
        n = 1 + sum(e["kind"] == kind and e["key"] == key for e in events)
        channel = rng.choices(SOURCE_CHANNELS, weights=SOURCE_CHANNEL_WEIGHTS)[0]
        events.append({
            "id": next_id("preference_events"), "customer_id": customer["id"], "kind": kind,
            "key": key, "value": value, "cap_count": cap[0] if cap else None,
            "cap_period_days": cap[1] if cap else None, "occurred_at": at, "recorded_at": at,
            "source_channel": channel, "app_id": None,
            "evidence": _evidence(rng, channel, value == "opt_out"),
            "idempotency_key": f"seed:{seed}:{customer['id']}:{kind}.{key}:{n}",
        })

    for channel, purpose in CHANNEL_PURPOSE.items():
        last = final.get(purpose) if purpose else None
        if last is None:
            p_event, p_in = (0.4, 0.5) if purpose else (0.5, 0.6)
        else:
            p_event, p_in = (0.9, 0.9) if last["action"] == "grant" else (0.7, 0.15)
        if rng.random() >= p_event:
            continue
        value = "opt_in" if rng.random() < p_in else "opt_out"
        if last is not None:
            at = min(now, last["occurred_at"] + timedelta(seconds=rng.randint(0, 120)))
        else:
            at = between(rng, created, now)
        if rng.random() < 0.1 and at - created > timedelta(minutes=1):
            before = between(rng, created, at - timedelta(minutes=1))
            add("channel", channel, "opt_out" if value == "opt_in" else "opt_in", before)
        cap = rng.choice(CAPS) if value == "opt_in" and rng.random() < 0.3 else None
        add("channel", channel, value, at, cap)
    if rng.random() < 0.06:
        scope = rng.choice(("profiling", "direct_marketing"))
        add("objection", scope, "on", between(rng, created, now))
    if rng.random() < 0.03:
        add("restriction", "processing", "on", between(rng, created, now))
    state = [
        {"customer_id": e["customer_id"], "kind": e["kind"], "key": e["key"], "value": e["value"],
         "cap_count": e["cap_count"], "cap_period_days": e["cap_period_days"],
         "occurred_at": e["occurred_at"], "event_id": e["id"]}
        for e in _latest(events, ("kind", "key")).values()
    ]
    return events, state
