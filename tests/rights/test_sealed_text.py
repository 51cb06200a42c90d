"""Staff's free text on a case is sealed at rest, opened on the way out, gone with the key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.privacy.envelope import SealedValueError
from gateway.rights import cases
from gateway.rights.tables import rights_cases
from tests.api.support import add_person
from tests.harness import Gateway
from tests.rights.support import CASE, CASES, EXTEND, OFFICER, REJECT, delivered, executed, opened

TEXTS = ("note", "extension_reason", "rejection_reason")


def _stored(gw: Gateway, ref: str) -> dict[str, Any]:
    with gw.engine.connect() as conn:
        row = conn.execute(select(rights_cases).where(rights_cases.c.ref == ref)).one()
    return {c: row._mapping[c] for c in TEXTS}


def _sealed(value: Any, *plain: str) -> bool:
    """A sealed value: bytes in the envelope's format holding none of `plain` in the clear."""
    return isinstance(value, bytes) and value[:1] == b"\x01" and not any(
        p.encode().lower() in value.lower() for p in plain)


def _case(gw: Gateway, ref: str) -> dict[str, Any]:
    case: dict[str, Any] = gw.post(CASE, variables={"id": ref}, **OFFICER).json()["data"]["rightsCase"]
    return case


def test_case_texts_are_sealed_at_rest_readable_and_null_after_the_erasure(
    fresh_gateway: Gateway,
) -> None:
    gw = fresh_gateway  # its own database: rightsCases lists every case
    # given: cases whose texts quote the person (note, extension and rejection reasons)
    cid, values = add_person(gw)
    note = f"letter from {values['first_name']} {values['last_name']}, {values['email']}"
    extension = f"{values['first_name']} sent a second letter"
    rejection = f"could not reach {values['phone']}"
    access = opened(gw, cid, "access", note=note, receivedAt="2026-01-31T10:00:00Z")
    extended = gw.post(EXTEND, variables={"id": access["id"], "reason": extension}, **OFFICER).json()
    rejected_case = opened(gw, cid, "export", note=note)
    rejected = gw.post(REJECT, variables={"id": rejected_case["id"], "reason": rejection}, **OFFICER).json()
    erase = opened(gw, cid, "erase", note=note)
    export = opened(gw, cid, "export")
    plain = (values["first_name"], values["last_name"], values["email"], values["phone"])
    # then: the stored columns are sealed, none of the person's values in the clear
    for ref in (access["id"], rejected_case["id"], erase["id"]):
        stored = _stored(gw, ref)
        assert all(v is None or _sealed(v, *plain) for v in stored.values()), stored
    assert _stored(gw, access["id"])["extension_reason"] is not None
    assert _stored(gw, rejected_case["id"])["rejection_reason"] is not None
    # and: the API opens them (the mutations' answers, rightsCase, rightsCases)
    assert access["note"] == note
    assert extended["data"]["extendRightsCase"]["case"]["extensionReason"] == extension
    assert rejected["data"]["rejectRightsCase"]["case"]["rejectionReason"] == rejection
    assert (_case(gw, access["id"])["note"], _case(gw, access["id"])["extensionReason"]) == (note, extension)
    listed = {c["id"]: c for c in gw.post(CASES, **OFFICER).json()["data"]["rightsCases"]}
    assert listed[rejected_case["id"]]["rejectionReason"] == rejection
    # and: so does the person's export, in its requests section
    executed(gw, export["id"])
    document = delivered(gw, export["id"])
    requests = {r["id"]: r for r in document["requests"]}
    assert requests[access["id"]]["note"] == note
    assert requests[access["id"]]["extension_reason"] == extension
    assert requests[rejected_case["id"]]["rejection_reason"] == rejection
    # when: the person is erased (their data key destroyed)
    executed(gw, erase["id"])
    # then: every text of their cases reads as null, through every way out
    for ref in (access["id"], rejected_case["id"], erase["id"], export["id"]):
        case = _case(gw, ref)
        assert (case["note"], case["extensionReason"], case["rejectionReason"]) == (None, None, None)
    listed = {c["id"]: c for c in gw.post(CASES, **OFFICER).json()["data"]["rightsCases"]}
    assert all(listed[r]["note"] is None for r in (access["id"], erase["id"]))
    # and: what is left at rest is ciphertext under a key that no longer exists
    assert _sealed(_stored(gw, access["id"])["note"], *plain)


def test_a_case_of_an_erased_customer_can_still_be_closed_its_reason_is_not_kept(gateway: Gateway) -> None:
    gw = gateway
    # given: a person with an erase case and another open case, then erased
    cid, values = add_person(gw)
    other = opened(gw, cid, "access")
    erase = opened(gw, cid, "erase")
    executed(gw, erase["id"])
    # when: staff reject the orphaned case, with a reason that names the person
    answer = gw.post(REJECT, variables={"id": other["id"], "reason": f"{values['email']} was erased"},
                     **OFFICER).json()["data"]["rejectRightsCase"]
    # then: closed; the reason is neither stored nor shown (no key to seal it under, and
    # plaintext is not the fallback)
    assert answer["__typename"] == "RightsCaseSuccess", answer
    assert (answer["case"]["status"], answer["case"]["rejectionReason"]) == ("rejected", None)
    assert _stored(gw, other["id"])["rejection_reason"] is None


def test_a_text_copied_to_another_case_does_not_open(gateway: Gateway) -> None:
    gw = gateway
    # given: two cases of the same person, with different notes
    cid, _ = add_person(gw)
    first = opened(gw, cid, "access", note="first note")
    second = opened(gw, cid, "export", note="second note")
    # when: the first note's ciphertext is copied onto the second case
    with gw.engine.begin() as conn:
        conn.execute(update(rights_cases).where(rights_cases.c.ref == second["id"])
                     .values(note=_stored(gw, first["id"])["note"]))
    # then: it does not open there (bound to its case), instead of showing the other text
    with gw.engine.connect() as conn, pytest.raises(SealedValueError):
        cases.load(conn, gw.services.vault, ref=second["id"])
