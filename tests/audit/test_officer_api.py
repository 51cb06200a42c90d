"""The officers' audit API over HTTP: who may call it, filters, pages, exports, verification."""

from __future__ import annotations

import csv
import json

import pytest

from tests.api.support import add_person, codes, unique
from tests.audit.support import modify
from tests.harness import Gateway

EVENTS = (
    "query($f: AuditEventFilter, $first: Int, $after: String) { auditEvents(filter: $f, "
    "first: $first, after: $after) { nodes { seq actor action decision purpose "
    "subjects { ref code } detail entryHash } pageInfo { endCursor hasNextPage } } }"
)
VERIFY = "query($full: Boolean!) { auditVerification(full: $full) { ok mode entries problem { seq kind } } }"
EXPORT = "query($fmt: AuditExportFormat!, $f: AuditEventFilter) { auditExport(format: $fmt, filter: $f) }"
READ = "query($id: ID!) { customer(id: $id) { city } }"


def _officer(gw: Gateway, query: str, **variables: object) -> dict[str, object]:
    response = gw.post(query, app="compliance_officer", purpose="compliance_audit",
                       variables=variables)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert "errors" not in body, body
    return body


def _read_as(gw: Gateway, app: str, purpose: str, cid: int) -> str:
    response = gw.post(READ, app=app, purpose=purpose, variables={"id": gw.pseudonym(cid, app)})
    return response.headers["X-Request-Id"]


@pytest.mark.parametrize(
    ("app", "purpose"),
    [("marketing", "marketing_email"), ("support", "support"), ("analytics", "analytics"),
     ("compliance_officer", "support"), ("compliance_officer", None), ("marketing", "compliance_audit")],
)
def test_only_officers_auditing_may_call(gw: Gateway, app: str, purpose: str | None) -> None:
    for query, variables in ((EVENTS, {}), (VERIFY, {"full": False}), (EXPORT, {"fmt": "CSV"})):
        # when
        response = gw.post(query, app=app, purpose=purpose, variables=variables)
        # then
        body = response.json()
        assert codes(body) == ["POLICY_DENIED"]
        assert body.get("data") is None


def test_refused_calls_are_audited(gw: Gateway) -> None:
    # when
    response = gw.post(EVENTS, app="marketing", purpose="marketing_email")
    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert (entry.action, entry.operation, entry.decision) == ("audit.query", "auditEvents", "deny")


def test_filter_by_customer_with_the_officers_own_id(gw: Gateway) -> None:
    # given: two reads of one customer by two apps, one of another customer
    cid, _ = add_person(gw, city=unique("Auditville"))
    other, _ = add_person(gw)
    _read_as(gw, "support", "support", cid)
    _read_as(gw, "analytics", "analytics", cid)
    _read_as(gw, "support", "support", other)
    # when: the officer asks with the id the officer's app was given
    body = _officer(gw, EVENTS, f={"customer": gw.pseudonym(cid, "compliance_officer")})
    # then: exactly the two reads, naming the customer by the audit pseudonym only
    nodes = body["data"]["auditEvents"]["nodes"]  # type: ignore[index]
    assert [n["actor"] for n in nodes] == [gw.callers["support"].name, gw.callers["analytics"].name]
    assert all(n["subjects"] == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}] for n in nodes)


def test_the_officers_query_is_itself_audited(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    # when
    response = gw.post(EVENTS, app="compliance_officer", purpose="compliance_audit",
                       variables={"f": {"customer": gw.pseudonym(cid, "compliance_officer")}})
    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.action == "audit.query"
    assert entry.actor == gw.callers["compliance_officer"].name
    assert entry.subjects == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}]
    assert entry.decision == "allow"


def test_filters_and_pages(gw: Gateway) -> None:
    # given: five reads by a fresh app
    name = unique("paged-app")
    gw.add_app("support", name)
    cid, _ = add_person(gw)
    for _ in range(5):
        _read_as(gw, name, "support", cid)
    seen: list[int] = []
    after = None
    # when: paging two at a time
    for _ in range(3):
        body = _officer(gw, EVENTS, f={"app": name, "purpose": "support", "decision": "allow",
                                       "action": "read"}, first=2, after=after)
        conn = body["data"]["auditEvents"]  # type: ignore[index]
        seen += [n["seq"] for n in conn["nodes"]]
        after = conn["pageInfo"]["endCursor"]
    # then: all five, in chain order, no page after the last
    assert len(seen) == 5 and seen == sorted(seen)
    assert conn["pageInfo"]["hasNextPage"] is False


def test_a_forged_cursor_is_invalid_input(gw: Gateway) -> None:
    # when
    response = gw.post(EVENTS, app="compliance_officer", purpose="compliance_audit",
                       variables={"after": "bm90LWEtY3Vyc29y"})
    # then
    assert codes(response.json()) == ["INVALID_INPUT"]


def test_time_window(gw: Gateway) -> None:
    # given
    name = unique("timed-app")
    gw.add_app("support", name)
    cid, _ = add_person(gw)
    _read_as(gw, name, "support", cid)
    # when
    inside = _officer(gw, EVENTS, f={"app": name, "from": "2000-01-01T00:00:00Z"})
    outside = _officer(gw, EVENTS, f={"app": name, "to": "2000-01-01T00:00:00Z"})
    # then
    assert len(inside["data"]["auditEvents"]["nodes"]) == 1  # type: ignore[index]
    assert outside["data"]["auditEvents"]["nodes"] == []  # type: ignore[index]


def test_exports_csv_and_jsonl(gw: Gateway) -> None:
    # given
    name = unique("export-app")
    gw.add_app("support", name)
    cid, values = add_person(gw)
    for _ in range(3):
        _read_as(gw, name, "support", cid)
    # when
    as_csv = _officer(gw, EXPORT, fmt="CSV", f={"app": name})["data"]["auditExport"]  # type: ignore[index]
    as_jsonl = _officer(gw, EXPORT, fmt="JSONL", f={"app": name})["data"]["auditExport"]  # type: ignore[index]
    # then
    rows = list(csv.DictReader(str(as_csv).splitlines()))
    lines = [json.loads(line) for line in str(as_jsonl).splitlines()]
    assert [r["actor"] for r in rows] == [name] * 3
    assert [r["seq"] for r in lines] == [int(r["seq"]) for r in rows]
    assert all(r["subjects"] == [{"ref": gw.audit_ref(cid), "code": "ALLOWED"}] for r in lines)
    for secret in (values["email"], values["city"], values["first_name"]):
        assert secret not in str(as_csv) and secret not in str(as_jsonl)


def test_verification_over_graphql(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    cid, _ = add_person(gw)
    for _ in range(3):
        _read_as(gw, "support", "support", cid)
    # when
    ok = _officer(gw, VERIFY, full=True)["data"]["auditVerification"]  # type: ignore[index]
    modify(gw, 2)
    bad = _officer(gw, VERIFY, full=True)["data"]["auditVerification"]  # type: ignore[index]
    # then
    assert ok["ok"] is True and ok["problem"] is None  # type: ignore[index]
    assert bad["ok"] is False  # type: ignore[index]
    assert bad["problem"] == {"seq": 2, "kind": "modified"}  # type: ignore[index]


RESOLVE = "query($ref: String!) { auditSubject(ref: $ref) { ref customerId } }"


def test_an_officer_resolves_a_pseudonym_through_an_audited_step(gw: Gateway) -> None:
    # given: an entry naming a customer by the audit pseudonym
    cid, _ = add_person(gw)
    ref = gw.audit_ref(cid)
    # when
    response = gw.post(RESOLVE, app="compliance_officer", purpose="compliance_audit",
                       variables={"ref": ref})
    # then: the officer gets the customer as the officer app's own id, and the step is logged
    assert response.json()["data"]["auditSubject"] == {
        "ref": ref, "customerId": gw.pseudonym(cid, "compliance_officer")}
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert (entry.action, entry.operation, entry.decision) == ("audit.resolve", "auditSubject", "allow")
    assert entry.subjects == [{"ref": ref, "code": "ALLOWED"}]


@pytest.mark.parametrize(("app", "purpose"), [("support", "support"), ("compliance_officer", "support")])
def test_only_officers_auditing_may_resolve(gw: Gateway, app: str, purpose: str) -> None:
    # given
    cid, _ = add_person(gw)
    # when
    response = gw.post(RESOLVE, app=app, purpose=purpose, variables={"ref": gw.audit_ref(cid)})
    # then
    assert codes(response.json()) == ["POLICY_DENIED"]
    assert gw.audit_entry(response.headers["X-Request-Id"]).decision == "deny"


@pytest.mark.parametrize("ref", ["c_bm90LWEtcmVm", "nonsense", "c_"])
def test_a_ref_that_is_not_the_audit_logs_is_not_found(gw: Gateway, ref: str) -> None:
    # when: e.g. an app's own pseudonym, or garbage
    response = gw.post(RESOLVE, app="compliance_officer", purpose="compliance_audit",
                       variables={"ref": ref})
    # then
    assert codes(response.json()) == ["NOT_FOUND"]


def test_an_app_pseudonym_does_not_resolve(gw: Gateway) -> None:
    # given
    cid, _ = add_person(gw)
    # when
    response = gw.post(RESOLVE, app="compliance_officer", purpose="compliance_audit",
                       variables={"ref": gw.pseudonym(cid, "support")})
    # then
    assert codes(response.json()) == ["NOT_FOUND"]


def test_the_verification_outcome_is_recorded(fresh_gateway: Gateway) -> None:
    # given
    gw = fresh_gateway
    cid, _ = add_person(gw)
    _read_as(gw, "support", "support", cid)
    modify(gw, 1)
    # when
    response = gw.post(VERIFY, app="compliance_officer", purpose="compliance_audit",
                       variables={"full": True})
    # then
    detail = gw.audit_entry(response.headers["X-Request-Id"]).detail
    assert detail["verification"]["ok"] is False
    assert detail["verification"]["problem"] == {"seq": 1, "kind": "modified"}


def test_an_export_past_the_limit_is_refused_not_cut(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: more matching entries than the limit
    monkeypatch.setattr("gateway.api.audit.EXPORT_LIMIT", 2)
    name = unique("many-app")
    gw.add_app("support", name)
    cid, _ = add_person(gw)
    for _ in range(3):
        _read_as(gw, name, "support", cid)
    # when
    response = gw.post(EXPORT, app="compliance_officer", purpose="compliance_audit",
                       variables={"fmt": "JSONL", "f": {"app": name}})
    # then
    assert codes(response.json()) == ["INVALID_INPUT"]
    assert response.json().get("data") is None


def test_an_unknown_decision_filter_is_invalid_input(gw: Gateway) -> None:
    # when
    response = gw.post(EVENTS, app="compliance_officer", purpose="compliance_audit",
                       variables={"f": {"decision": "maybe"}})
    # then
    assert codes(response.json()) == ["INVALID_INPUT"]


def test_the_filter_used_is_recorded_without_its_text(gw: Gateway) -> None:
    # when
    response = gw.post(EVENTS, app="compliance_officer", purpose="compliance_audit",
                       variables={"f": {"app": "someone@example.org", "decision": "deny"}})
    # then
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.detail["filter"] == ["app", "decision"]
    assert "someone@example.org" not in str(entry.detail)
