"""Next best action: one offer per customer from the catalogue (`offers.yaml`), decided at
the moment it is asked (DESIGN.md rule 10), with its reasons in plain words (Art. 22).

An offer is a candidate for a customer when its rule selects them (`when`, the segment
rule language, over customers who may be profiled); it can be chosen only if the customer
allows its purpose (`decide_subject`: consent, objection, restriction, channel opt-out) and
its channel's frequency cap leaves room. Among those, the highest weight x score wins.

The cap is activation's own (`gateway.activation.caps`): the messages that actually left the
outbox on the channel, from every campaign and trigger, within the cap's window. An action
the worker would refuse as FREQUENCY_CAPPED is never proposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, select

from gateway.activation.caps import Caps, load_caps
from gateway.activation.gate import epoch
from gateway.consent.purposes import Purpose, Purposes
from gateway.policy.codes import Code
from gateway.profile.service import subject_decisions
from gateway.profile.tables import customers
from gateway.scoring.tables import customer_scores
from gateway.scoring.train import MODELS
from gateway.segmentation.compile import CheckedRule, check, membership
from gateway.segmentation.config import ConfigError
from gateway.segmentation.rules import RuleError

FILE = "offers.yaml"
# What an offer's rule may read: the lineage of Customer.nextBestAction (gateway/profile/fields.py).
LINEAGE = frozenset({"derived", "transactions", "interactions", "preferences"})

_WHY_NOT = {
    Code.CONSENT_REQUIRED: "you have not agreed to {purpose}",
    Code.OBJECTED: "you objected to direct marketing",
    Code.RESTRICTED: "you asked us to restrict the use of your data",
    Code.CHANNEL_OPTED_OUT: "you opted out of messages by {channel}",
    Code.FREQUENCY_CAPPED: "you asked for at most {cap} messages by {channel} every {days} days, and that many were sent",
}


@dataclass(frozen=True)
class Offer:
    """One entry of the catalogue."""

    name: str
    description: str
    channel: str
    purpose: str
    rule: CheckedRule
    reason: str
    score: str
    weight: float


@dataclass(frozen=True)
class Reason:
    """One sentence of an explanation."""

    feature: str  # offer, score, consent, channel, cap
    text: str
    value: float | None = None


@dataclass(frozen=True)
class NextAction:
    """The action chosen for one customer (offer None: no action), and why."""

    offer: str | None
    description: str | None
    channel: str | None
    purpose: str | None
    expected_value: float | None
    decided_at: datetime
    explanation: list[Reason] = field(default_factory=list)


def parse_offers(document: Any, purposes: Purposes) -> tuple[Offer, ...]:
    """The catalogue in `document`; ConfigError listing every problem with its place."""
    problems: list[str] = []
    items = document.get("offers") if isinstance(document, dict) else None
    offers = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        where = f"offers[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: a mapping")
            continue
        purpose = purposes.get(str(item.get("purpose")))
        if purpose is None or purpose.channel is None or purpose.channel != item.get("channel"):
            problems.append(f"{where}.purpose: a purpose of purposes.yaml that contacts the "
                            "customer through the offer's channel")
            continue
        if item.get("score") not in MODELS:
            problems.append(f"{where}.score: one of {', '.join(MODELS)}")
            continue
        try:
            rule = check(str(item.get("when", "")))
        except RuleError as exc:
            problems.append(f"{where}.when: {exc}")
            continue
        if not set(rule.categories) <= LINEAGE:
            problems.append(f"{where}.when: reads {', '.join(sorted(set(rule.categories) - LINEAGE))} "
                            "data, which nextBestAction does not declare")
            continue
        offers.append(Offer(str(item["name"]), str(item.get("description", item["name"])),
                            purpose.channel, purpose.name, rule, str(item.get("reason", "")),
                            str(item["score"]), float(item.get("weight", 1.0))))
    if not offers and not problems:
        problems.append("offers: at least one offer")
    if problems:
        raise ConfigError(problems)
    return tuple(offers)


def load_offers(policy_dir: Path, purposes: Purposes) -> tuple[Offer, ...]:
    """The catalogue of `policy_dir`."""
    return parse_offers(yaml.safe_load((policy_dir / FILE).read_text(encoding="utf-8")), purposes)


def _scores(conn: Connection, ids: Sequence[int]) -> dict[tuple[int, str], float]:
    s = customer_scores.c
    rows = conn.execute(select(s.customer_id, s.model, s.value).where(s.customer_id.in_(list(ids))))
    return {(r[0], r[1]): float(r[2]) for r in rows}


def _eligible(conn: Connection, offer: Offer, ids: Sequence[int], now: datetime,
              profiling: Purpose) -> set[int]:
    m = membership(offer.rule, profiling, now, profiling)
    stmt = select(customers.c.id).select_from(m.source).where(m.condition, customers.c.id.in_(list(ids)))
    return set(conn.execute(stmt).scalars())


def _why_not(code: Code, offer: Offer, purposes: Purposes, cap: tuple[int, int] | None) -> str:
    purpose = purposes.get(offer.purpose)
    about = purpose.description.rstrip(".").lower() if purpose else offer.purpose
    return _WHY_NOT[code].format(purpose=about, channel=offer.channel,
                                 cap=cap[0] if cap else 0, days=cap[1] if cap else 0)


def next_actions(conn: Connection, ids: Sequence[int], offers: Sequence[Offer], purposes: Purposes,
                 profiling: Purpose, now: datetime) -> dict[int, NextAction]:
    """The next best action of each of `ids` (customers who may be profiled)."""
    if not ids:
        return {}
    scores = _scores(conn, ids)
    decisions = {p: subject_decisions(conn, purposes.by_name[p], now, list(ids))
                 for p in {o.purpose for o in offers}}
    caps: dict[str, Caps] = {ch: load_caps(conn, ids, ch, epoch(now)) for ch in {o.channel for o in offers}}
    out: dict[int, NextAction] = {}
    eligible = {o.name: _eligible(conn, o, ids, now, profiling) for o in offers}
    for cid in ids:
        best: tuple[float, Offer] | None = None
        skipped: list[Reason] = []
        for offer in offers:
            if cid not in eligible[offer.name]:
                continue
            decision = decisions[offer.purpose].get(cid)
            code: Code | None = None if decision is None or decision.allowed else decision.code
            if code is None and caps[offer.channel].reached(cid):
                code = Code.FREQUENCY_CAPPED
            if code is not None:
                why = _why_not(code, offer, purposes, caps[offer.channel].limit(cid))
                skipped.append(Reason("cap" if code is Code.FREQUENCY_CAPPED else "consent",
                                      f"Not offered: {offer.description} by {offer.channel}, "
                                      f"because {why}."))
                continue
            value = offer.weight * scores.get((cid, offer.score), 0.0)
            if best is None or value > best[0]:
                best = (value, offer)
        out[cid] = _action(cid, best, skipped, scores, now)
    return out


def _action(cid: int, best: tuple[float, Offer] | None, skipped: list[Reason],
            scores: dict[tuple[int, str], float], now: datetime) -> NextAction:
    if best is None:
        return NextAction(None, None, None, None, None, now, [
            Reason("offer", "No offer is made to you now: none fits, or none is one you allow."),
            *skipped])
    value, offer = best
    score = scores.get((cid, offer.score))
    what = MODELS[offer.score].description
    chosen = [Reason("offer", f"Chosen: {offer.description} by {offer.channel}, because {offer.reason}.")]
    if score is not None:
        chosen.append(Reason("score", f"Your score for {what} is {score:.0%}.", score))
    return NextAction(offer.name, offer.description, offer.channel, offer.purpose, value, now,
                      chosen + skipped)
