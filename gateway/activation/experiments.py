"""Test and learn: a held-out control group, arms, and what each arm achieved.

Assignment is a pure function of the campaign's salt and the customer: the same customer
lands in the same arm however often (or by whichever worker) it is computed, and across
customers the arms fill in proportion to their weights. It is decided when a message
leaves, among the customers the gate lets through, so control and arms are comparable.

Results count per arm: assigned, sent, opens and clicks (events answering the campaign's
messages), conversions (customers of the arm with a purchase within the conversion window
after the plan), the conversion rate, and the uplift over the control group (or over the
first arm when nothing is held out) with a 95% confidence interval (normal approximation of
the difference of two proportions).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, and_, distinct, func, select

from gateway.activation.campaigns import Arm, Campaign
from gateway.activation.tables import activation_events, activation_messages

CONTROL = "control"
Z95 = 1.959964


def bucket(salt: str, customer_id: int) -> float:
    """A uniform number in [0, 1) fixed by the campaign's salt and the customer."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(salt: str, customer_id: int, holdout: float, arms: tuple[Arm, ...]) -> Arm | None:
    """The customer's arm, or None for the held-out control group."""
    u = bucket(salt, customer_id)
    if u < holdout:
        return None
    position = (u - holdout) / (1.0 - holdout) * sum(a.weight for a in arms)
    for arm in arms:
        position -= arm.weight
        if position < 0:
            return arm
    return arms[-1]


@dataclass(frozen=True)
class ArmResult:
    """One arm's counts, rate and uplift over the reference group."""

    arm: str
    assigned: int
    sent: int
    opens: int
    clicks: int
    conversions: int
    conversion_rate: float | None
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def uplift(k1: int, n1: int, k0: int, n0: int) -> tuple[float, float, float] | None:
    """Difference of conversion rates (arm - reference) and its 95% interval."""
    if not n1 or not n0:
        return None
    p1, p0 = k1 / n1, k0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return diff, diff - Z95 * se, diff + Z95 * se


def results(conn: Connection, campaign: Campaign) -> list[ArmResult]:
    """Per arm (control first when there is one): the counts and the uplift."""
    m, e = activation_messages.c, activation_events.c
    counts: dict[str, dict[str, int]] = {}
    rows = conn.execute(select(m.arm, m.status, func.count())
                         .where(m.campaign_id == campaign.id, m.arm.is_not(None))
                         .group_by(m.arm, m.status))
    for arm, status, n in rows:
        slot = counts.setdefault(arm, {"assigned": 0, "sent": 0})
        if status in ("sent", "held_out", "sending", "dead"):
            slot["assigned"] += int(n)
        if status == "sent":
            slot["sent"] += int(n)
    engaged = conn.execute(
        select(m.arm, e.kind, func.count())
        .select_from(activation_events.join(activation_messages, e.message_id == m.id))
        .where(m.campaign_id == campaign.id, e.kind.in_(("email_open", "email_click")))
        .group_by(m.arm, e.kind))
    for arm, kind, n in engaged:
        counts.setdefault(arm, {"assigned": 0, "sent": 0})[kind] = int(n)
    if campaign.planned_at is not None:
        end = campaign.planned_at + timedelta(days=campaign.conversion_days)
        converted = conn.execute(
            select(m.arm, func.count(distinct(m.customer_id)))
            .select_from(activation_messages.join(activation_events, and_(
                e.customer_id == m.customer_id, e.kind == "purchase",
                e.occurred_at >= campaign.planned_at, e.occurred_at < end)))
            .where(m.campaign_id == campaign.id, m.arm.is_not(None),
                   m.status.in_(("sent", "held_out")))
            .group_by(m.arm))
        for arm, n in converted:
            counts.setdefault(arm, {"assigned": 0, "sent": 0})["conversions"] = int(n)
    order = ([CONTROL] if campaign.holdout > 0 else []) + [a.name for a in campaign.arms]
    reference = order[0]
    ref = counts.get(reference, {})
    out = []
    for name in order:
        c = counts.get(name, {})
        n, k = c.get("assigned", 0), c.get("conversions", 0)
        lift = None if name == reference else uplift(k, n, ref.get("conversions", 0),
                                                     ref.get("assigned", 0))
        out.append(ArmResult(
            arm=name, assigned=n, sent=c.get("sent", 0), opens=c.get("email_open", 0),
            clicks=c.get("email_click", 0), conversions=k, conversion_rate=_rate(k, n),
            uplift=lift[0] if lift else None, uplift_low=lift[1] if lift else None,
            uplift_high=lift[2] if lift else None,
        ))
    return out
