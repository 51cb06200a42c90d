"""The consent service without HTTP: what it writes, and that bad input writes nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.consent import service
from gateway.consent.bulk import export_rows, import_events, validate_all
from gateway.consent.tables import consent_events, preference_state
from gateway.errors import ServiceError
from tests.api.support import add_person
from tests.consent.http import ledger_counts
from tests.harness import Gateway


def _recorder(gw: Gateway, *, full_proof: bool = True) -> service.Recorder:
    """A recorder whose receipts go to the customer (full proof), or to an app."""
    s = gw.services
    return service.Recorder(s.purposes, s.signer, None, s.pseudonyms.for_audit(), s.vault,
                            full_proof=full_proof)


def test_a_152_fz_grant_stores_the_article_9_content_and_the_text_hash(gateway: Gateway) -> None:
    # given
    cid, _ = add_person(gateway, jurisdiction="152-fz", language="ru")
    given = service.ConsentInput(customer_id=cid, purpose="marketing_email", notice_version=2,
                                 action="grant", source_channel="web_form", evidence="form-7")

    # when
    with gateway.engine.begin() as conn:
        receipt = service.record_consent(conn, _recorder(gateway), given)

    # then
    with gateway.engine.connect() as conn:
        event = conn.execute(select(consent_events).where(
            consent_events.c.idempotency_key == receipt.id)).one()
    ru = gateway.services.purposes.by_name["marketing_email"].notices[1].texts["ru"]
    assert event.notice_text_sha256 == hashlib.sha256(ru.encode()).hexdigest()
    notice = gateway.services.purposes.by_name["marketing_email"].notices[1]
    assert notice.fz152 is not None
    assert event.details == {
        "operator": {"name": "Demo Retail LLC", "address": "1 Example Street, Example City",
                     "contact": "dpo@demo-retail.example"},
        "purpose": {"name": "marketing_email", "description": "Send marketing emails and newsletters."},
        "personal_data": list(notice.fz152.personal_data),
        "actions": list(notice.fz152.actions),
        "methods": notice.fz152.methods,
        "term_days": notice.fz152.term_days,
        "withdrawal": notice.fz152.withdrawal,
    }
    assert "email address" in event.details["personal_data"]
    assert receipt.payload["details"] == event.details
    assert receipt.payload["notice_sha256"] == event.notice_text_sha256


def test_an_apps_receipt_names_the_version_not_the_language_or_jurisdiction(gateway: Gateway) -> None:
    # given: two customers, Russian under 152-FZ and English under the GDPR
    ru, _ = add_person(gateway, jurisdiction="152-fz", language="ru")
    en, _ = add_person(gateway, jurisdiction="gdpr", language="en")

    # when: the same grant is recorded for both, with receipts for an app
    receipts = []
    for cid in (ru, en):
        given = service.ConsentInput(customer_id=cid, purpose="marketing_email", notice_version=2,
                                     action="grant", source_channel="call_center")
        with gateway.engine.begin() as conn:
            receipts.append(service.record_consent(conn, _recorder(gateway, full_proof=False), given))

    # then: the receipts' notice claims are identical (nothing tells the two apart) ...
    notice = [{k: r.payload.get(k) for k in ("notice_version", "notice_digest", "notice_sha256", "details")}
              for r in receipts]
    assert notice[0] == notice[1]
    assert notice[0]["notice_sha256"] is None and notice[0]["details"] is None
    # and: no ledger counter is named
    assert all("event_id" not in r.payload for r in receipts)
    # and (the control): the customers' own receipts differ by the text they were shown
    own = []
    for cid in (ru, en):
        given = service.ConsentInput(customer_id=cid, purpose="marketing_email", notice_version=2,
                                     action="grant", source_channel="portal")
        with gateway.engine.begin() as conn:
            own.append(service.record_consent(conn, _recorder(gateway), given).payload)
    assert own[0]["notice_sha256"] != own[1]["notice_sha256"]
    assert "details" in own[0] and "details" not in own[1]


def test_a_gdpr_withdrawal_carries_no_152_fz_content(gateway: Gateway) -> None:
    # given
    cid, _ = add_person(gateway)
    given = service.ConsentInput(customer_id=cid, purpose="marketing_email", notice_version=2,
                                 action="withdraw", source_channel="portal")

    # when
    with gateway.engine.begin() as conn:
        receipt = service.record_consent(conn, _recorder(gateway), given)

    # then
    assert "details" not in receipt.payload


@pytest.mark.parametrize(("change", "field"), [
    ({"expires_at": datetime.now(UTC) + timedelta(days=30), "action": "deny"}, "expiresAt"),
    ({"occurred_at": "2026-13-40T00:00:00+00:00"}, "occurredAt"),
    ({"evidence": "x" * 201}, "evidence"),
    ({"customer_id": 987_654_321}, "customerId"),
])
def test_bad_input_raises_with_its_field_and_writes_nothing(
    gateway: Gateway, change: dict[str, object], field: str
) -> None:
    # given
    cid, _ = add_person(gateway)
    values: dict[str, object] = {"customer_id": cid, "purpose": "marketing_email", "notice_version": 2,
                                 "action": "grant", "source_channel": "api", **change}
    before = ledger_counts(gateway)

    # when
    with pytest.raises(ServiceError) as raised, gateway.engine.begin() as conn:
        service.record_consent(conn, _recorder(gateway), service.ConsentInput(**values))  # type: ignore[arg-type]

    # then
    assert raised.value.field == field
    assert ledger_counts(gateway) == before


def test_a_frequency_cap_needs_an_opt_in_and_both_parts(gateway: Gateway) -> None:
    # given
    cid, _ = add_person(gateway)
    given = service.PreferenceInput(customer_id=cid, source_channel="api")

    # when / then
    with gateway.engine.begin() as conn:
        with pytest.raises(ServiceError) as half:
            service.set_channel_preference(conn, _recorder(gateway), given, "sms", "opt_in", 3, None)
        with pytest.raises(ServiceError) as opted_out:
            service.set_channel_preference(conn, _recorder(gateway), given, "sms", "opt_out", 3, 7)
        service.set_channel_preference(conn, _recorder(gateway), given, "sms", "opt_in", 3, 7)
    assert (half.value.field, opted_out.value.field) == ("frequencyCap", "frequencyCap")
    with gateway.engine.connect() as conn:
        row = conn.execute(select(preference_state).where(preference_state.c.customer_id == cid)).one()
    assert (row.key, row.value, row.cap_count, row.cap_period_days) == ("sms", "opt_in", 3, 7)


def test_the_receipt_id_finds_the_event_and_an_export_reimport_of_it_changes_nothing(
    fresh_gateway: Gateway,
) -> None:
    # given: a grant recorded through the service (as the API does)
    gw = fresh_gateway
    cid, _ = add_person(gw)
    given = service.ConsentInput(customer_id=cid, purpose="marketing_email", notice_version=2,
                                 action="grant", source_channel="api")
    with gw.engine.begin() as conn:
        receipt = service.record_consent(conn, _recorder(gw), given)

    # when: the ledger is exported and imported again
    with gw.engine.connect() as conn:
        rows = list(export_rows(conn, gw.services.vault))
        event = conn.execute(select(consent_events).where(
            consent_events.c.idempotency_key == receipt.id)).one()
    before = ledger_counts(gw)
    with gw.engine.begin() as conn:
        events, rejected, _ = validate_all(conn, list(enumerate(rows, start=1)), gw.services.purposes,
                                              gw.services.vault)
        inserted = import_events(conn, events)

    # then: the receipt's id is the event's key, and nothing was added
    assert event.idempotency_key == receipt.payload["receipt_id"]
    assert (inserted, rejected) == (0, [])
    assert ledger_counts(gw) == before
