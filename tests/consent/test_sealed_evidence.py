"""Evidence (free text of a ledger event) is sealed under the customer's data key at rest,
opened where history is shown, hashed in the clear for the erasure's proof."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from gateway.consent.bulk import export_rows, import_events, validate_all
from gateway.consent.tables import consent_events, preference_events
from gateway.profile.tables import customers
from gateway.rights.tables import rights_ledger_proofs
from tests.api.support import add_person
from tests.consent.http import SET_CHANNEL, mutate, record_consent
from tests.harness import Gateway
from tests.rights.support import delivered, executed, opened


def _stored(gw: Gateway, table: Any, cid: int) -> list[Any]:
    with gw.engine.connect() as conn:
        return list(conn.execute(select(table.c.evidence).where(table.c.customer_id == cid)
                                 .order_by(table.c.id)).scalars())


def _sealed(value: Any, plain: str) -> bool:
    return isinstance(value, bytes) and value[:1] == b"\x01" and plain.encode() not in value


def test_evidence_is_sealed_at_rest_shown_in_the_export_and_hashed_in_the_proof(
    fresh_gateway: Gateway,
) -> None:
    gw = fresh_gateway
    # given: a call-center agent's remarks naming the person, on a consent and a channel choice
    cid, values = add_person(gw)
    remark = f"call with {values['first_name']} {values['last_name']}"
    channel_remark = f"{values['first_name']} asked for email only"
    granted = record_consent(gw, cid, evidence=remark)
    chosen = mutate(gw, SET_CHANNEL, "setChannelPreference", cid, channel="email", optedIn=True,
                    evidence=channel_remark)
    # then: the stored columns hold ciphertext only
    [consent_blob] = _stored(gw, consent_events, cid)
    [preference_blob] = _stored(gw, preference_events, cid)
    assert _sealed(consent_blob, remark) and _sealed(consent_blob, values["last_name"])
    assert _sealed(preference_blob, channel_remark)
    # and: the signed receipts carry no evidence (as before: the receipt states the choice)
    for result in (granted, chosen):
        assert "evidence" not in json.loads(result["receipt"]["payload"])
    # and: the person's export shows the evidence in the clear
    case = executed(gw, opened(gw, cid, "export")["id"])["case"]
    document = delivered(gw, case["id"])
    assert [e["evidence"] for e in document["consents"]["history"]] == [remark]
    assert [e["evidence"] for e in document["channels"]] == [channel_remark]
    # and: so does the operator's consents export
    with gw.engine.connect() as conn:
        exported = [r for r in export_rows(conn, gw.services.vault) if r["customer_id"] == cid]
    assert [r["evidence"] for r in exported] == [remark]
    # when: the person is erased
    done = executed(gw, opened(gw, cid, "erase")["id"])
    tombstone = json.loads(done["case"]["outcome"])["tombstone"]
    # then: the kept proofs hold the keyed digest of the plaintext (opened before the key
    # was destroyed): the operator can match it, an unkeyed hash of a guess does not
    with gw.engine.connect() as conn:
        proofs = {r.ledger: r.evidence_sha256 for r in conn.execute(
            select(rights_ledger_proofs).where(rights_ledger_proofs.c.tombstone == tombstone))}
    blind = gw.services.vault.blind
    assert proofs["consent"] == blind.digest("evidence", remark)
    assert proofs["preference"] == blind.digest("evidence", channel_remark)
    assert proofs["consent"] != hashlib.sha256(remark.encode()).hexdigest()


def _row(cid: int, n: int, evidence: str | None) -> tuple[int, dict[str, Any]]:
    return n, {"customer_id": cid, "purpose": "marketing_email", "notice_version": "2",
               "action": "grant", "occurred_at": f"2026-01-0{n}T10:00:00+00:00", "evidence": evidence}


def test_bulk_import_seals_evidence_and_refuses_it_for_a_customer_without_a_data_key(
    fresh_gateway: Gateway,
) -> None:
    gw = fresh_gateway
    # given: a customer made by the write service, and one inserted without a data key
    cid, _ = add_person(gw)
    with gw.engine.begin() as conn:
        keyless = int(conn.execute(insert(customers).values(
            created_at=datetime.now(UTC), updated_at=datetime.now(UTC), jurisdiction="gdpr",
        ).returning(customers.c.id)).scalar_one())
    rows = [_row(cid, 1, "paper form 12"), _row(keyless, 2, "paper form 13"), _row(keyless, 3, None)]
    # when: importing them (and the same rows again)
    with gw.engine.begin() as conn:
        events, rejected, _ = validate_all(conn, rows, gw.services.purposes, gw.services.vault)
        inserted = import_events(conn, events)
    with gw.engine.begin() as conn:
        again, _, _ = validate_all(conn, rows, gw.services.purposes, gw.services.vault)
        reinserted = import_events(conn, again)
    # then: the evidence is sealed; the keyless customer's evidence is refused with its code
    # (nothing can be sealed for them, and plaintext is not an option), its row without
    # evidence goes in; a re-import adds nothing (the key is derived from the plaintext)
    assert [(r.line, r.code, r.field) for r in rejected] == [(2, "INVALID_INPUT", "evidence")]
    assert (inserted, reinserted) == (2, 0)
    [blob] = _stored(gw, consent_events, cid)
    assert _sealed(blob, "paper form 12")
    assert _stored(gw, consent_events, keyless) == [None]
