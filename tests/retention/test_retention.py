"""Retention: 152-FZ terms expire grants; the job destroys what no purpose may keep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from gateway.audit.tables import audit_events
from gateway.audit.verify import verify_chain
from gateway.consent.ledger import append_consent
from gateway.consent.tables import consent_state
from gateway.profile.tables import customers, orders
from gateway.retention.run import Retention, run_retention
from gateway.rights.tables import rights_erasures
from gateway.store.types import utcnow
from tests.consent.http import RECORD_CONSENT
from tests.harness import Gateway

LONG_AGO = utcnow() - timedelta(days=3650)


def _inactive(gw: Gateway, **values: Any) -> int:
    """A customer last active ten years ago (so no contract purpose keeps them)."""
    cid = gw.add_customer(created_at=LONG_AGO, updated_at=LONG_AGO, last_order_at=None,
                          last_seen_at=None, order_count=0, **values)
    with gw.engine.begin() as conn:
        conn.execute(customers.update().where(customers.c.id == cid)
                     .values(created_at=LONG_AGO, last_order_at=None, last_seen_at=None))
        conn.execute(orders.delete().where(orders.c.customer_id == cid))
    return cid


def _consent(gw: Gateway, cid: int, action: str, days_ago: float, purpose: str = "marketing_email") -> None:
    with gw.engine.begin() as conn:
        append_consent(conn, customer_id=cid, purpose=purpose, notice_version=2, action=action,
                       source_channel="api", occurred_at=utcnow() - timedelta(days=days_ago))


def _job(gw: Gateway) -> Retention:
    s = gw.services
    return Retention(s.engine, s.purposes, s.vault, s.pseudonyms.for_audit(), s.signer)


def _exists(gw: Gateway, cid: int) -> bool:
    with gw.engine.connect() as conn:
        return conn.execute(select(customers.c.id).where(customers.c.id == cid)).first() is not None


def test_a_152_fz_grant_expires_after_its_term(fresh_gateway: Gateway) -> None:
    # given: a 152-FZ customer granted marketing_push (term 365 days) 400 days ago
    gw = fresh_gateway
    cid = gw.add_customer(jurisdiction="152-fz")
    occurred = (utcnow() - timedelta(days=400)).replace(microsecond=0)
    given = {"customerId": gw.pseudonym(cid, "call_center"), "purpose": "marketing_push",
             "noticeVersion": 1, "action": "grant", "sourceChannel": "call_center",
             "occurredAt": occurred.isoformat(), "evidence": "call-2024-0042"}

    # when
    body = gw.post(RECORD_CONSENT, app="call_center", purpose="support",
                   variables={"input": given}).json()

    # then: the grant carries the term's end as its expiry, so it no longer counts
    assert body["data"]["recordConsent"]["__typename"] == "RecordConsentSuccess", body
    with gw.engine.connect() as conn:
        expires = conn.execute(select(consent_state.c.expires_at).where(
            consent_state.c.customer_id == cid, consent_state.c.purpose == "marketing_push")).scalar_one()
    assert expires == occurred + timedelta(days=365)
    assert expires < utcnow()


def test_a_gdpr_grant_has_no_term(fresh_gateway: Gateway) -> None:
    # given: the control: a GDPR customer, the same grant
    gw = fresh_gateway
    cid = gw.add_customer(jurisdiction="gdpr")
    given = {"customerId": gw.pseudonym(cid, "call_center"), "purpose": "marketing_push",
             "noticeVersion": 1, "action": "grant", "sourceChannel": "call_center",
             "evidence": "call-2024-0043"}

    # when
    gw.post(RECORD_CONSENT, app="call_center", purpose="support", variables={"input": given})

    # then
    with gw.engine.connect() as conn:
        assert conn.execute(select(consent_state.c.expires_at).where(
            consent_state.c.customer_id == cid)).scalar_one() is None


def test_retention_run_reports_erases_only_what_no_basis_keeps(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    withdrawn_long_ago = _inactive(gw)
    _consent(gw, withdrawn_long_ago, "grant", 700)
    _consent(gw, withdrawn_long_ago, "withdraw", 40)
    withdrawn_lately = _inactive(gw)
    _consent(gw, withdrawn_lately, "grant", 700)
    _consent(gw, withdrawn_lately, "withdraw", 5)
    still_a_client = gw.add_customer()  # an order today: the contract keeps the data
    _consent(gw, still_a_client, "grant", 700)
    _consent(gw, still_a_client, "withdraw", 40)
    consenting = _inactive(gw)
    _consent(gw, consenting, "grant", 1)
    refs = {name: gw.audit_ref(cid) for name, cid in [
        ("long", withdrawn_long_ago), ("lately", withdrawn_lately), ("client", still_a_client),
        ("consenting", consenting)]}

    # when: a dry run
    dry = run_retention(_job(gw))

    # then: reported with their deadlines, nothing changed
    due = {d["ref"]: d for d in dry.due}
    assert refs["long"] in due and refs["lately"] in due
    assert refs["client"] not in due and refs["consenting"] not in due
    assert due[refs["long"]]["overdue"] is True and due[refs["lately"]]["overdue"] is False
    assert "consent:marketing_email" in due[refs["long"]]["ended"]
    assert all(_exists(gw, c) for c in (withdrawn_long_ago, withdrawn_lately, still_a_client))

    # when: a grace period of a week, then applied
    graced = run_retention(_job(gw), grace_days=7)
    applied = run_retention(_job(gw), apply=True)

    # then: the one inside the grace waits; applied, both are erased (the one erasure), others stay
    assert refs["lately"] not in {d["ref"] for d in graced.due}
    assert not _exists(gw, withdrawn_long_ago) and not _exists(gw, withdrawn_lately)
    assert _exists(gw, still_a_client) and _exists(gw, consenting)
    assert applied.erased == len([d for d in applied.due if d["action"] == "erase"]) >= 2
    with gw.engine.connect() as conn:
        erased_by = set(conn.execute(select(rights_erasures.c.erased_by).where(
            rights_erasures.c.subject_ref.in_([refs["long"], refs["lately"]]))).scalars())
        actions = list(conn.execute(select(audit_events.c.action, func.count()).where(
            audit_events.c.action.like("retention.%")).group_by(audit_events.c.action)))
    assert verify_chain(gw.engine, gw.services.signer.jwks()).ok
    assert erased_by == {"retention"}
    assert dict(actions).get("retention.erase") == applied.erased
    assert dict(actions)["retention.run"] == 3


def test_the_report_holds_no_personal_data(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    cid = _inactive(gw, first_name="Zenobia", email="zenobia.retention@example.org")
    _consent(gw, cid, "grant", 700)
    _consent(gw, cid, "withdraw", 40)

    # when
    report = run_retention(_job(gw))

    # then
    text = str(report.as_dict())
    assert gw.audit_ref(cid) in text  # control: the customer is in it
    assert "Zenobia" not in text and "zenobia" not in text and f"'{cid}'" not in text
