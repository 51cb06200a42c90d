"""Retention per purpose: a unit of data goes when no purpose with a basis covers it any more."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from gateway.audit.tables import audit_events
from gateway.audit.verify import verify_chain
from gateway.consent.ledger import append_consent, append_preference
from gateway.profile.fields import CUSTOMER_FIELDS
from gateway.profile.tables import customers, interactions, orders, source_records
from gateway.retention.holdings import HOLDINGS, KEPT
from gateway.retention.run import Report, Retention, run_retention
from gateway.scoring.tables import customer_scores
from gateway.segmentation.tables import customer_attributes
from gateway.store.types import utcnow
from tests.harness import Gateway

# What marketing_email alone keeps once the contract purposes' retention ran out for all
# but the fulfilment of orders (service, identity resolution: 1825 days).
MARKETING_ONLY = {"profile.preferences", "profile.interactions", "interactions", "profile.derived",
                  "profile.derived+transactions", "computed_attributes", "scores"}
DERIVED = {"profile.derived", "profile.derived+transactions", "computed_attributes", "scores"}


def _person(gw: Gateway, now: datetime, active_days_ago: float, **values: Any) -> int:
    """A customer created ten years ago, last active `active_days_ago` days before `now`, with
    orders, interactions, computed attributes and a score."""
    last = now - timedelta(days=active_days_ago)
    cid = gw.add_customer(**values)
    with gw.engine.begin() as conn:
        conn.execute(update(customers).where(customers.c.id == cid).values(
            created_at=now - timedelta(days=3650), last_order_at=last, last_seen_at=last))
        conn.execute(update(orders).where(orders.c.customer_id == cid).values(ordered_at=last))
        conn.execute(insert(interactions), [
            {"customer_id": cid, "kind": kind, "channel": "email", "device": "mobile",
             "campaign": "spring", "occurred_at": last} for kind in ("email_open", "email_click")])
        conn.execute(insert(customer_attributes).values(
            customer_id=cid, computed_at=last, milestones={}, email_opens=1, purchases=1))
        conn.execute(insert(customer_scores).values(
            customer_id=cid, model="churn", version=1, value=0.4, scored_at=last))
        # what a source system sent (its content is sealed; opaque bytes stand in for it here)
        conn.execute(insert(source_records).values(
            customer_id=cid, source="crm", source_key=f"{cid:064x}", attributes=b"sealed",
            first_seen_at=last, last_seen_at=last, link_method="seed", link_confidence=1.0))
    return cid


def _consent(gw: Gateway, cid: int, purpose: str, action: str, at: datetime,
             expires_at: datetime | None = None) -> None:
    notice = gw.services.purposes.by_name[purpose].current_notice
    assert notice is not None
    with gw.engine.begin() as conn:
        append_consent(conn, customer_id=cid, purpose=purpose, notice_version=notice.version,
                       action=action, source_channel="api", occurred_at=at, expires_at=expires_at)


def _job(gw: Gateway) -> Retention:
    s = gw.services
    return Retention(s.engine, s.purposes, s.vault, s.pseudonyms.for_audit(), s.signer)


def _due(gw: Gateway, report: Report, cid: int) -> dict[str, Any] | None:
    ref = gw.audit_ref(cid)
    return next((d for d in report.due if d["ref"] == ref), None)


def _units(entry: dict[str, Any] | None) -> set[str]:
    assert entry is not None and entry["action"] == "destroy", entry
    return {u["unit"] for u in entry["units"]}


def _count(gw: Gateway, table: Any, cid: int) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)
                                .where(table.c.customer_id == cid)).scalar_one())


def _row(gw: Gateway, cid: int) -> Any:
    with gw.engine.connect() as conn:
        return conn.execute(select(customers).where(customers.c.id == cid)).one()


def test_every_catalogue_field_is_in_one_unit_or_kept_for_a_reason() -> None:
    # given: the field catalogue
    names = [f.name for f in CUSTOMER_FIELDS]
    # when
    stored = [f for h in HOLDINGS for f in h.fields]
    # then: each field exactly once, either destroyed with a unit or kept with its reason
    assert sorted(stored + list(KEPT)) == sorted(names)
    assert all(h.categories for h in HOLDINGS)


def test_marketing_data_goes_after_a_withdrawal_unless_the_consent_still_holds(
        fresh_gateway: Gateway) -> None:
    # given: two customers last active 1200 days ago (support's 1095 days over, service's 1825
    # not), both granted marketing_email 1000 days ago; one withdrew 40 days ago
    gw, now = fresh_gateway, utcnow()
    withdrew = _person(gw, now, 1200)
    consents = _person(gw, now, 1200)
    for cid in (withdrew, consents):
        _consent(gw, cid, "marketing_email", "grant", now - timedelta(days=1000))
    _consent(gw, withdrew, "marketing_email", "withdraw", now - timedelta(days=40))

    # when: a dry run
    dry = run_retention(_job(gw), now=now)

    # then: what only marketing kept is due (interactions, preferences, derived), past its
    # deadline; what the contract still needs (identity, contact, orders) stays; the control,
    # whose consent holds, keeps everything
    entry = _due(gw, dry, withdrew)
    assert _units(entry) == MARKETING_ONLY
    assert entry is not None and entry["overdue"] is True
    assert "contract:service" in entry["kept_by"]
    interactions_unit = next(u for u in entry["units"] if u["unit"] == "interactions")
    assert "consent:marketing_email" in interactions_unit["ended"]
    assert interactions_unit["basis_ended_at"] == (now - timedelta(days=40)).isoformat()
    assert _due(gw, dry, consents) is None
    assert _count(gw, interactions, withdrew) == 2  # a dry run changes nothing

    # when: applied
    applied = run_retention(_job(gw), now=now, apply=True)

    # then: destroyed for the one, kept for the other; the rest of the record is still there
    assert applied.destroyed == len([d for d in applied.due if d["action"] == "destroy"]) >= 1
    assert _count(gw, interactions, withdrew) == 0 and _count(gw, interactions, consents) == 2
    assert _count(gw, customer_scores, withdrew) == 0 and _count(gw, customer_attributes, withdrew) == 0
    assert _count(gw, orders, withdrew) == 1 and _count(gw, source_records, withdrew) == 1
    row = _row(gw, withdrew)
    assert row.last_seen_at is None and row.language is None and row.interests is None
    assert row.lifecycle_stage is None and row.rfm_recency is None
    assert row.first_name is not None and row.email is not None and row.email_bidx is not None
    assert row.last_order_at is not None and row.city is not None
    assert _row(gw, consents).last_seen_at is not None

    # when: run again
    again = run_retention(_job(gw), now=now, apply=True)

    # then: nothing left to destroy; the audit log holds the destruction and verifies
    assert _due(gw, again, withdrew) is None and again.destroyed == 0
    with gw.engine.connect() as conn:
        actions = dict(conn.execute(select(audit_events.c.action, func.count()).where(
            audit_events.c.action.like("retention.%")).group_by(audit_events.c.action)).all())
    assert actions["retention.run"] == 3 and actions["retention.destroy"] == applied.destroyed
    assert verify_chain(gw.engine, gw.services.signer.jwks()).ok


def test_derived_data_goes_after_an_objection_to_profiling(fresh_gateway: Gateway) -> None:
    # given: two active customers who objected to profiling 40 days ago; one of them also
    # consents to marketing_email, which uses derived data too
    gw, now = fresh_gateway, utcnow()
    objected = _person(gw, now, 5)
    marketed = _person(gw, now, 5)
    for cid in (objected, marketed):
        with gw.engine.begin() as conn:
            append_preference(conn, customer_id=cid, kind="objection", key="profiling",
                              value="on", source_channel="api", occurred_at=now - timedelta(days=40))
    _consent(gw, marketed, "marketing_email", "grant", now - timedelta(days=100))

    # when
    report = run_retention(_job(gw), now=now, apply=True)

    # then: scores and the rest of the derived data go for the one, with the objection named;
    # interactions stay (support still needs them), and everything stays for the control
    entry = _due(gw, report, objected)
    assert _units(entry) == DERIVED
    assert entry is not None
    assert {"objected:profiling", "objected:analytics"} <= set(entry["units"][0]["ended"])
    assert _count(gw, customer_scores, objected) == 0 and _count(gw, interactions, objected) == 2
    assert _row(gw, objected).rfm_segment is None
    assert _due(gw, report, marketed) is None
    assert _count(gw, customer_scores, marketed) == 1


def test_the_30_day_deadline_runs_from_the_withdrawal(fresh_gateway: Gateway) -> None:
    # given: customers for whom only marketing_email kept their interactions, withdrawn 29
    # and 31 days ago
    gw, now = fresh_gateway, utcnow()
    recent, older = _person(gw, now, 1200), _person(gw, now, 1200)
    for cid, days in ((recent, 29), (older, 31)):
        _consent(gw, cid, "marketing_email", "grant", now - timedelta(days=1000))
        _consent(gw, cid, "marketing_email", "withdraw", now - timedelta(days=days))

    # when
    dry = run_retention(_job(gw), now=now)
    graced = run_retention(_job(gw), now=now, grace_days=29)

    # then: both are due at once; the 29-day one inside its deadline (one day left), the
    # 31-day one past it; a grace period of 29 days still reaches both (29 days ago, 29 days' grace: due now)
    first, second = _due(gw, dry, recent), _due(gw, dry, older)
    assert first is not None and second is not None
    assert first["overdue"] is False and second["overdue"] is True
    assert first["deadline"] == (now + timedelta(days=1)).isoformat()
    assert second["deadline"] == (now - timedelta(days=1)).isoformat()
    assert _due(gw, graced, recent) is not None and _due(gw, graced, older) is not None

    # when: the 29-day one judged a day earlier, with the grace period
    early = run_retention(_job(gw), now=now - timedelta(days=1), grace_days=29)

    # then: it waits (28 days after the withdrawal), the 31-day one does not
    assert _due(gw, early, recent) is None and early.waiting >= 1
    assert _due(gw, early, older) is not None


def test_a_consent_purpose_keeps_data_only_its_retention_days_after_the_last_contact(
        fresh_gateway: Gateway) -> None:
    # given: customers inactive for ten years; marketing_push (retention_days 365) granted
    # without expiry 400 and 300 days ago
    gw, now = fresh_gateway, utcnow()
    lapsed, kept = _person(gw, now, 3650), _person(gw, now, 3650)
    _consent(gw, lapsed, "marketing_push", "grant", now - timedelta(days=400))
    _consent(gw, kept, "marketing_push", "grant", now - timedelta(days=300))

    # when
    report = run_retention(_job(gw), now=now, apply=True)

    # then: the one whose push retention ran out 35 days ago is erased as a whole; the other
    # keeps what push needs (identity, interactions, preferences, coarse derived values) and
    # loses the rest (contact, location, orders, sources, exact derived values)
    whole = _due(gw, report, lapsed)
    assert whole is not None and whole["action"] == "erase" and whole["overdue"] is True
    assert whole["basis_ended_at"] == (now - timedelta(days=35)).isoformat()
    assert "consent:marketing_push" in whole["ended"]
    partial = _due(gw, report, kept)
    assert _units(partial) == {"profile.contact", "profile.location", "profile.transactions",
                               "orders", "sources", "profile.derived+transactions",
                               "computed_attributes", "scores"}
    with gw.engine.connect() as conn:
        assert conn.execute(select(customers.c.id).where(customers.c.id == lapsed)).first() is None
    row = _row(gw, kept)
    assert row.first_name is not None and row.language is not None and row.lifecycle_stage is not None
    assert row.email is None and row.email_bidx is None and row.phone_bidx is None
    assert row.city is None and row.order_count == 0 and row.total_spent_cents == 0
    assert _count(gw, orders, kept) == 0 and _count(gw, interactions, kept) == 2
    assert _count(gw, source_records, kept) == 0


def test_a_152_fz_grant_past_its_term_keeps_nothing(fresh_gateway: Gateway) -> None:
    # given: a 152-FZ customer inactive for ten years, marketing_push granted 300 days ago
    # with its term's expiry (as the consent service records it) 10 days ago; the control
    # has the same grant without the expiry
    gw, now = fresh_gateway, utcnow()
    expired = _person(gw, now, 3650, jurisdiction="152-fz")
    control = _person(gw, now, 3650, jurisdiction="152-fz")
    _consent(gw, expired, "marketing_push", "grant", now - timedelta(days=300),
             expires_at=now - timedelta(days=10))
    _consent(gw, control, "marketing_push", "grant", now - timedelta(days=300))

    # when
    report = run_retention(_job(gw), now=now)

    # then
    entry = _due(gw, report, expired)
    assert entry is not None and entry["action"] == "erase" and entry["overdue"] is False
    assert entry["basis_ended_at"] == (now - timedelta(days=10)).isoformat()
    control_entry = _due(gw, report, control)
    assert control_entry is not None and control_entry["action"] == "destroy"
