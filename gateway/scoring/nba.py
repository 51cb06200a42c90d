"""Next best action: one offer per customer from the catalogue (`offers.yaml`), decided at
the moment it is asked (DESIGN.md rule 10), with its reasons in plain words (Art. 22).

An offer is a candidate for a customer when its rule selects them (`when`, the segment
rule language, over customers who may be profiled); it can be chosen only if the customer
allows its purpose (`decide_subject`: consent, objection, restriction, channel opt-out) and
its channel's frequency cap leaves room. Among those, the highest weight x score wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Select, and_, bindparam, func, select

from gateway.consent.purposes import Purpose, Purposes
from gateway.consent.state import flags_of, subject_flag_columns
from gateway.consent.tables import preference_state
from gateway.policy import decide_subject
from gateway.policy.codes import Code
from gateway.profile.tables import customers, interactions
from gateway.scoring.tables import customer_scores
from gateway.scoring.train import MODELS
from gateway.segmentation.compile import CheckedRule, check, membership
from gateway.segmentation.config import ConfigError
from gateway.segmentation.rules import RuleError
from gateway.store.types import UTCDateTime

FILE = "offers.yaml"
# What an offer's rule may read: the lineage of Customer.nextBestAction (gateway/profile/fields.py).
LINEAGE = frozenset({"derived", "transactions", "interactions", "preferences"})
CAPPED = "CAPPED"  # not a policy code: the customer's frequency cap is reached

_WHY_NOT = {
    Code.CONSENT_REQUIRED: "you have not agreed to {purpose}",
    Code.OBJECTED: "you objected to direct marketing",
    Code.RESTRICTED: "you asked us to restrict the use of your data",
    Code.CHANNEL_OPTED_OUT: "you opted out of messages by {channel}",
    CAPPED: "you asked for at most {cap} messages by {channel} every {days} days, and that many were sent",
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


def contacts_since(conn: Connection, ids: Sequence[int], channel: str, since: datetime) -> dict[int, int]:
    """Messages each customer received on `channel` since `since`.

    The gateway records no sends of its own yet: the campaigns whose messages the customer
    is known to have received (opened or clicked) count, a lower bound. Activation's outbox
    (issue 12) is the place to count from once it exists.
    """
    i = interactions.c
    rows = conn.execute(select(i.customer_id, func.count(func.distinct(i.campaign))).where(
        i.customer_id.in_(list(ids)), i.channel == channel, i.campaign.is_not(None),
        i.occurred_at >= since).group_by(i.customer_id))
    return {r[0]: int(r[1]) for r in rows}


def _caps(conn: Connection, ids: Sequence[int], channel: str) -> dict[int, tuple[int, int]]:
    ps = preference_state.c
    rows = conn.execute(select(ps.customer_id, ps.cap_count, ps.cap_period_days).where(
        ps.customer_id.in_(list(ids)), ps.kind == "channel", ps.key == channel,
        ps.value == "opt_in", and_(ps.cap_count.is_not(None), ps.cap_period_days.is_not(None))))
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


# The subject flags of a page of customers, built once per purpose: `now` and the ids are
# bound when it runs (building the expression cost more than running it, for one person).
_NOW = bindparam("now", type_=UTCDateTime())
_subject_statements: dict[tuple[object, ...], Select[Any]] = {}


def _subject_statement(purpose: Purpose) -> Select[Any]:
    # What subject_flag_columns reads of the purpose (not the notices' texts) is the key.
    key = (purpose.name, purpose.objection_scope, purpose.min_valid_notice_version, purpose.channel)
    stmt = _subject_statements.get(key)
    if stmt is None:
        stmt = select(customers.c.id, *subject_flag_columns(customers.c.id, purpose, _NOW)).where(
            customers.c.id.in_(bindparam("ids", expanding=True)))
        _subject_statements[key] = stmt
    return stmt


def _subject(conn: Connection, ids: Sequence[int], purpose: Purpose, now: datetime) -> dict[int, Any]:
    rows = conn.execute(_subject_statement(purpose), {"now": now, "ids": list(ids)})
    return {r.id: decide_subject(purpose, flags_of(r)) for r in rows}


def _scores(conn: Connection, ids: Sequence[int]) -> dict[tuple[int, str], float]:
    s = customer_scores.c
    rows = conn.execute(select(s.customer_id, s.model, s.value).where(s.customer_id.in_(list(ids))))
    return {(r[0], r[1]): float(r[2]) for r in rows}


def _eligible(conn: Connection, offer: Offer, ids: Sequence[int], now: datetime,
              profiling: Purpose) -> set[int]:
    m = membership(offer.rule, profiling, now, profiling)
    stmt = select(customers.c.id).select_from(m.source).where(m.condition, customers.c.id.in_(list(ids)))
    return set(conn.execute(stmt).scalars())


def _why_not(code: str, offer: Offer, purposes: Purposes, cap: tuple[int, int] | None) -> str:
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
    decisions = {p: _subject(conn, ids, purposes.by_name[p], now) for p in {o.purpose for o in offers}}
    caps = {ch: _caps(conn, ids, ch) for ch in {o.channel for o in offers}}
    sent: dict[tuple[str, int], dict[int, int]] = {}
    out: dict[int, NextAction] = {}
    eligible = {o.name: _eligible(conn, o, ids, now, profiling) for o in offers}
    for cid in ids:
        best: tuple[float, Offer] | None = None
        skipped: list[Reason] = []
        for offer in offers:
            if cid not in eligible[offer.name]:
                continue
            decision = decisions[offer.purpose].get(cid)
            code: str | None = None if decision is None or decision.allowed else decision.code
            cap = caps[offer.channel].get(cid)
            if code is None and cap is not None:
                key = (offer.channel, cap[1])
                if key not in sent:
                    sent[key] = contacts_since(conn, ids, offer.channel, now - timedelta(days=cap[1]))
                if sent[key].get(cid, 0) >= cap[0]:
                    code = CAPPED
            if code is not None:
                skipped.append(Reason("consent" if code != CAPPED else "cap",
                                      f"Not offered: {offer.description} by {offer.channel}, "
                                      f"because {_why_not(code, offer, purposes, cap)}."))
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
