"""The compute job on a database: facts, stages, the consent gate, incremental runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from gateway.profile.tables import customers, interactions, orders
from gateway.scoring.tables import customer_scores
from gateway.segmentation.compile import check
from gateway.segmentation.compute import compute
from gateway.segmentation.config import load_config
from gateway.segmentation.store import count
from gateway.segmentation.tables import customer_attributes
from tests.api.support import add_person, unique
from tests.harness import REPO, Gateway
from tests.segmentation.support import purpose

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _orders(gw: Gateway, cid: int, *spec: tuple[int, str, int, str]) -> None:
    """Replace the customer's orders: (days ago, status, cents, currency) each."""
    with gw.engine.begin() as conn:
        conn.execute(delete(orders).where(orders.c.customer_id == cid))
        for n, (days, status, cents, currency) in enumerate(spec):
            conn.execute(insert(orders).values(
                customer_id=cid, number=f"C-{cid}-{n}", ordered_at=NOW - timedelta(days=days),
                status=status, channel="web", item_count=1, total_cents=cents, currency=currency))


def _touch(gw: Gateway, cid: int, kind: str, at: datetime, device: str | None = "mobile",
           campaign: str | None = None) -> None:
    channel = {"email_open": "email", "email_click": "email", "web_visit": "web", "call": "phone"}[kind]
    with gw.engine.begin() as conn:
        conn.execute(insert(interactions).values(customer_id=cid, kind=kind, channel=channel,
                                                 device=device, campaign=campaign, occurred_at=at))


def _run(gw: Gateway, full: bool = False) -> Any:
    return compute(gw.engine, load_config(REPO / "policies"), purpose(gw, "profiling"), NOW, full=full)


def _attributes(gw: Gateway, cid: int) -> Any:
    with gw.engine.connect() as conn:
        return conn.execute(select(customer_attributes).where(
            customer_attributes.c.customer_id == cid)).first()


def _derived(gw: Gateway, cid: int) -> tuple[Any, ...]:
    c = customers.c
    with gw.engine.connect() as conn:
        return tuple(conn.execute(select(c.lifecycle_stage, c.rfm_segment, c.rfm_recency, c.rfm_frequency,
                                         c.rfm_monetary).where(c.id == cid)).one())


def test_facts_and_stage_of_a_customer(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: three purchases (one in GBP), a cancelled order, and a 260-day gap before the last
    city = unique("City")
    cid, _ = add_person(gw, city=city)
    _orders(gw, cid, (400, "delivered", 1000, "EUR"), (300, "delivered", 4300, "GBP"),
            (40, "delivered", 2000, "EUR"), (20, "cancelled", 9999, "EUR"))
    at = NOW.replace(hour=14) - timedelta(days=3)
    _touch(gw, cid, "email_open", at, campaign="c1")
    _touch(gw, cid, "email_open", at - timedelta(days=30), campaign="c2")
    _touch(gw, cid, "email_click", at, campaign="c1")
    _touch(gw, cid, "web_visit", at + timedelta(minutes=5), device="desktop")
    _touch(gw, cid, "web_visit", at - timedelta(days=1), device="mobile")
    # when
    report = _run(gw)
    # then: the facts, by hand: 10 + 43/0.86 + 20 = 80 EUR; the stage is won back
    row = _attributes(gw, cid)
    assert report.profiled >= 1 and row is not None
    assert (row.purchases, row.spent_eur_cents) == (3, 8000)
    assert row.last_purchase_ts == int((NOW - timedelta(days=40)).timestamp())
    assert row.prev_purchase_ts == int((NOW - timedelta(days=300)).timestamp())
    assert (row.email_opens, row.email_clicks, row.email_campaigns, row.web_visits) == (2, 1, 2, 2)
    assert (row.preferred_device, row.best_hour) == ("mobile", 14)
    assert row.email_click_rate == 0.5
    assert row.lifecycle == "won_back" and row.recency_days == 40
    assert "first_purchase" in row.milestones
    # and: rules on the computed attributes select them (and the control does not)
    rules = {f'city = "{city}" and channel_affinity.web.visits = 2 and preferred_device = "mobile" '
             'and channel_affinity.email.last_engagement_days <= 3 and lifecycle = "won_back"': 1,
             f'city = "{city}" and channel_affinity.email.last_engagement_days < 2': 0}
    with gw.engine.connect() as conn:
        for rule, expected in rules.items():
            assert count(conn, check(rule), purpose(gw, "profiling"), NOW, purpose(gw, "profiling")) == expected
    # and: the customer row carries the stage and the RFM values for the read path
    stage, cell, recency, frequency, monetary = _derived(gw, cid)
    assert (stage, recency) == ("won_back", 40) and cell == row.rfm_cell
    assert (frequency, monetary) == (row.f_score, row.m_score)


def test_an_objection_removes_derived_data_on_the_next_run(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: two customers with attributes and a score
    keep, _ = add_person(gw)
    leave, _ = add_person(gw)
    _run(gw)
    with gw.engine.begin() as conn:
        for cid in (keep, leave):
            conn.execute(insert(customer_scores).values(customer_id=cid, model="churn", version=1,
                                                        value=0.5, scored_at=NOW))
    assert _attributes(gw, leave) is not None and _derived(gw, leave)[0] is not None
    # when: one objects to profiling, and the job runs
    gw.preference(leave, "objection", "profiling", "on")
    report = _run(gw)
    # then: nothing derived is left of them
    assert report.removed == 1
    assert _attributes(gw, leave) is None
    assert _derived(gw, leave) == (None, None, None, None, None)
    with gw.engine.connect() as conn:
        scored = set(conn.execute(select(customer_scores.c.customer_id)).scalars())
    assert leave not in scored
    # and: the other keeps theirs (the control)
    assert _attributes(gw, keep) is not None and keep in scored
    assert _derived(gw, keep)[0] is not None


def _last_active(gw: Gateway, cid: int, days_ago: int) -> None:
    """The customer was created 800 days before NOW and last ordered and visited `days_ago`."""
    at = NOW - timedelta(days=days_ago)
    _orders(gw, cid, (days_ago, "completed", 5000, "EUR"))
    with gw.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == cid).values(
            created_at=NOW - timedelta(days=800), last_order_at=at, last_seen_at=at))


def test_a_customer_inactive_past_profilings_retention_is_not_profiled_again(
        fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: profiling keeps data 730 days after the last activity (purposes.yaml); two
    # customers active 100 days ago, profiled and scored
    gone, kept = add_person(gw)[0], add_person(gw)[0]
    for cid in (gone, kept):
        _last_active(gw, cid, 100)
    _run(gw, full=True)
    with gw.engine.begin() as conn:
        for cid in (gone, kept):
            conn.execute(insert(customer_scores).values(customer_id=cid, model="churn", version=1,
                                                        value=0.5, scored_at=NOW))
    assert _attributes(gw, gone) is not None
    # when: one of them was in fact last active 740 days ago, and the job runs again
    _last_active(gw, gone, 740)
    report = _run(gw, full=True)
    # then: the retention job's clock holds here too: nothing derived is (re)created for the
    # inactive customer, so retention has nothing to destroy again next time
    assert report.removed >= 1
    assert _attributes(gw, gone) is None
    assert _derived(gw, gone) == (None, None, None, None, None)
    with gw.engine.connect() as conn:
        scored = set(conn.execute(select(customer_scores.c.customer_id)).scalars())
    assert gone not in scored
    # and: the control is profiled as before
    assert _attributes(gw, kept) is not None and _derived(gw, kept)[0] is not None


def test_a_restricted_customer_is_never_profiled(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: a customer who restricted processing before any run
    cid, _ = add_person(gw, lifecycle_stage="active", rfm_segment="loyal")
    gw.preference(cid, "restriction", "processing", "on")
    # when
    _run(gw)
    # then: no attributes, and the stand-in values are gone
    assert _attributes(gw, cid) is None
    assert _derived(gw, cid) == (None, None, None, None, None)


def test_runs_are_incremental(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: a computed database
    cid, _ = add_person(gw)
    first = _run(gw)
    assert first.aggregated == first.profiled
    # when: nothing changed
    again = _run(gw)
    # then: nothing aggregated, nothing written
    assert (again.aggregated, again.written) == (0, 0)
    # when: one new order
    _touch(gw, cid, "web_visit", NOW - timedelta(hours=1))
    after = _run(gw)
    # then: only that customer is aggregated again
    assert after.aggregated == 1
    assert _attributes(gw, cid).web_visits == 1
    # and: a full run aggregates everyone
    assert _run(gw, full=True).aggregated == first.profiled
