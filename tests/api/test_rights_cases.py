"""Data subject requests as cases, through HTTP: open, follow, extend, reject, overdue, policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from gateway.rights.tables import rights_case_steps, rights_cases
from tests.api.support import add_person, audit_text, codes, secrets_of
from tests.harness import Gateway
from tests.rights.support import (
    CASE,
    CASES,
    EXTEND,
    OFFICER,
    OVERDUE,
    REJECT,
    SUPPORT,
    audit_rows,
    open_case,
    opened,
)


def _count_cases(gw: Gateway) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(rights_cases)).scalar_one())


def test_support_opens_a_case_with_its_term(gw: Gateway) -> None:
    # given: a customer under GDPR
    cid, _ = add_person(gw)
    # when: the support app opens an access request received on 10 March 2026
    case = opened(gw, cid, "access", receivedAt="2026-03-10T09:00:00Z")
    # then: open, due one month later, named for the support app in its own pseudonym
    assert case["status"] == "open" and case["kind"] == "access"
    assert case["jurisdiction"] == "gdpr" and case["legalBasis"] == "GDPR Art. 12(3)"
    assert case["dueOn"] == "2026-04-10" and case["deadline"] == "2026-04-10"
    assert case["customerId"] == gw.pseudonym(cid, "support")
    assert [s["step"] for s in case["steps"]] == ["opened"]
    assert case["openedBy"] == gw.callers["support"].name


def test_a_152fz_customer_gets_working_day_terms(gw: Gateway) -> None:
    # given: a customer under 152-FZ
    cid, _ = add_person(gw, jurisdiction="152-fz")
    # when: access received Thursday 12 March 2026
    case = opened(gw, cid, "access", receivedAt="2026-03-12T08:00:00Z")
    # then: ten working days, two weekends in between
    assert case["jurisdiction"] == "152-fz" and case["dueOn"] == "2026-03-26"
    assert case["legalBasis"].startswith("152-FZ")


def test_each_step_is_audited_in_the_same_transaction(gw: Gateway) -> None:
    # given: a customer and an open case
    cid, values = add_person(gw)
    case = opened(gw, cid, "access", note="asked by phone")
    # when: the officer extends it
    answer = gw.post(EXTEND, variables={"id": case["id"], "reason": "many requests this month"}, **OFFICER)
    # then: the step's entry names the case and the customer's audit pseudonym, no values
    assert answer.json()["data"]["extendRightsCase"]["__typename"] == "RightsCaseSuccess"
    request_id = answer.headers["X-Request-Id"]
    rows = [r for r in audit_rows(gw) if r.detail.get("case") == case["id"]]
    steps = [r for r in rows if r.action != "rights.case"]
    assert [r.action for r in steps] == ["rights.opened", "rights.extended"]
    # and: beside the request's own entry (same request id, same transaction)
    assert {r.action for r in rows if r.request_id == request_id} == {"rights.case", "rights.extended"}
    assert steps[1].subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]
    for row in steps:
        text = audit_text(row)
        assert not any(s in text for s in secrets_of(values))
        assert "many requests" not in text and "asked by phone" not in text
    # and: the step rows point at their audit entries
    with gw.engine.connect() as conn:
        seqs = conn.execute(select(rights_case_steps.c.audit_seq).join(rights_cases).where(
            rights_cases.c.ref == case["id"]).order_by(rights_case_steps.c.id)).scalars().all()
    assert seqs == [r.seq for r in steps]


def test_extension_once_and_only_where_the_law_allows(gw: Gateway) -> None:
    # given: a GDPR case and a 152-FZ rectification
    cid, _ = add_person(gw)
    gdpr = opened(gw, cid, "erase", receivedAt="2026-01-31T10:00:00Z")
    ru, _ = add_person(gw, jurisdiction="152-fz")
    rectify = opened(gw, ru, "rectify")
    # when: extending each, the GDPR one twice
    first = gw.post(EXTEND, variables={"id": gdpr["id"], "reason": "complex"}, **OFFICER).json()
    again = gw.post(EXTEND, variables={"id": gdpr["id"], "reason": "more"}, **OFFICER).json()
    refused = gw.post(EXTEND, variables={"id": rectify["id"], "reason": "busy"}, **OFFICER).json()
    blank = gw.post(EXTEND, variables={"id": rectify["id"], "reason": "  "}, **OFFICER).json()
    # then: two further months once; no extension of a 152-FZ rectification; a reason needed
    extended = first["data"]["extendRightsCase"]["case"]
    assert extended["extendedTo"] == "2026-04-30" and extended["deadline"] == "2026-04-30"
    assert extended["extensionReason"] == "complex"
    assert again["data"]["extendRightsCase"]["code"] == "EXTENSION_NOT_ALLOWED"
    assert refused["data"]["extendRightsCase"]["code"] == "EXTENSION_NOT_ALLOWED"
    assert blank["data"]["extendRightsCase"] == {
        "__typename": "MutationError", "code": "INVALID_INPUT", "field": "reason",
        "message": "give a reason"}


def test_rejected_case_is_closed(gw: Gateway) -> None:
    # given: an open case
    cid, _ = add_person(gw)
    case = opened(gw, cid, "export")
    # when: rejected, then rejected again
    first = gw.post(REJECT, variables={"id": case["id"], "reason": "identity not verified"}, **OFFICER).json()
    second = gw.post(REJECT, variables={"id": case["id"], "reason": "again"}, **OFFICER).json()
    # then
    closed = first["data"]["rejectRightsCase"]["case"]
    assert closed["status"] == "rejected" and closed["closedAt"] is not None
    assert [s["step"] for s in closed["steps"]] == ["opened", "rejected"]
    assert second["data"]["rejectRightsCase"]["code"] == "CASE_CLOSED"


def test_overdue_cases_for_the_officer(gw: Gateway) -> None:
    # given: a case received two months ago, one received now, one old but completed
    cid, _ = add_person(gw)
    old = (datetime.now(UTC) - timedelta(days=70)).isoformat()
    late = opened(gw, cid, "access", receivedAt=old)
    fresh = opened(gw, cid, "access")
    done = opened(gw, cid, "export", receivedAt=old)
    gw.post(REJECT, variables={"id": done["id"], "reason": "withdrawn by the person"}, **OFFICER)
    # when
    answer = gw.post(OVERDUE, **OFFICER).json()
    # then: only the open one past its term, flagged as overdue
    ids = {c["id"]: c for c in answer["data"]["overdueRightsCases"]}
    assert late["id"] in ids and ids[late["id"]]["overdue"] is True
    assert fresh["id"] not in ids and done["id"] not in ids
    # and: support may not ask what is overdue
    denied = gw.post(OVERDUE, **SUPPORT).json()
    assert codes(denied) == ["POLICY_DENIED"]


def test_support_sees_its_own_cases_the_officer_all(gw: Gateway) -> None:
    # given: a case opened by the support app and one by a second support app
    cid, _ = add_person(gw)
    mine = opened(gw, cid, "access")
    other_key = gw.add_app("support", name="rights-support-two")
    assert other_key
    other = gw.post(
        "mutation($i: OpenRightsCaseInput!) { openRightsCase(input: $i) { ... on RightsCaseSuccess { case { id } } } }",
        app="rights-support-two", purpose="support",
        variables={"i": {"customerId": gw.pseudonym(cid, "rights-support-two"), "kind": "object"}},
    ).json()["data"]["openRightsCase"]["case"]
    # when
    as_support = {c["id"] for c in gw.post(CASES, **SUPPORT).json()["data"]["rightsCases"]}
    as_officer = {c["id"] for c in gw.post(CASES, **OFFICER).json()["data"]["rightsCases"]}
    peek = gw.post(CASE, variables={"id": other["id"]}, **SUPPORT).json()
    # then: support sees only what its app opened; another app's case is NOT_FOUND
    assert mine["id"] in as_support and other["id"] not in as_support
    assert {mine["id"], other["id"]} <= as_officer
    assert codes(peek) == ["NOT_FOUND"]


def test_who_may_do_what(gw: Gateway) -> None:
    # given: a customer
    cid, _ = add_person(gw)
    before = _count_cases(gw)
    variables = {"input": {"customerId": gw.pseudonym(cid), "kind": "access"}}
    # when: marketing tries to open a case, support under another purpose, nobody's purpose
    marketing = gw.post(OPEN_Q, variables=variables).json()["data"]["openRightsCase"]
    service = gw.post(OPEN_Q, app="support", purpose="service", variables={
        "input": {"customerId": gw.pseudonym(cid, "support"), "kind": "access"}}).json()
    none = gw.post(OPEN_Q, app="support", purpose=None, variables={
        "input": {"customerId": gw.pseudonym(cid, "support"), "kind": "access"}}).json()
    # then: refused with codes, nothing written
    assert marketing["code"] == "POLICY_DENIED"
    assert service["data"]["openRightsCase"]["code"] == "POLICY_DENIED"
    assert none["data"]["openRightsCase"]["code"] == "PURPOSE_REQUIRED"
    assert _count_cases(gw) == before
    # and: support may not carry a case out
    case = opened(gw, cid, "erase")
    support_exec = gw.post(
        "mutation($i: ExecuteRightsCaseInput!) { executeRightsCase(input: $i) { ... on MutationError { code } } }",
        variables={"i": {"id": case["id"]}}, **SUPPORT).json()
    assert support_exec["data"]["executeRightsCase"]["code"] == "POLICY_DENIED"


OPEN_Q = """
mutation($input: OpenRightsCaseInput!) {
  openRightsCase(input: $input) { ... on MutationError { code field } ... on RightsCaseSuccess { case { id } } }
}
"""


def test_bad_input_changes_nothing(gw: Gateway) -> None:
    # given: a customer
    cid, _ = add_person(gw)
    before = _count_cases(gw)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    # when: an unknown kind, jurisdiction, a future receipt, a foreign id, a long note
    results = [
        open_case(gw, cid, "forget"),
        open_case(gw, cid, "access", jurisdiction="ccpa"),
        open_case(gw, cid, "access", receivedAt=future),
        open_case(gw, cid, "access", note="x" * 2001),
        gw.post(OPEN_Q, app="support", purpose="support", variables={
            "input": {"customerId": gw.pseudonym(cid, "marketing"), "kind": "access"}}
        ).json()["data"]["openRightsCase"],
    ]
    # then: each a MutationError naming the field; no case written
    assert [(r["code"], r["field"]) for r in results] == [
        ("INVALID_INPUT", "kind"), ("INVALID_INPUT", "jurisdiction"),
        ("INVALID_INPUT", "receivedAt"), ("INVALID_INPUT", "note"), ("NOT_FOUND", "customerId"),
    ]
    assert _count_cases(gw) == before
