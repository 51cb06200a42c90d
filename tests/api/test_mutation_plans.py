"""Compiled mutation plans (issue 15, target 6): the same answers as the general path.

The differential test sends every document below with every input below, for every role
and every purpose, twice: through the general path (the plan switched off) and through the
compiled plan (where the planner knows the document), and compares the answers byte for
byte, status and errors included, and the audit entries they left. The clock and the
receipt id are fixed for each pair, so a receipt signed on both paths is the same JWS (Ed25519
signatures are deterministic); the general run's event is renamed out of the way of the
plan run's (the receipt id is the event's idempotency key).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

import gateway.api.http as http_module
import gateway.consent.service as consent_service
from gateway.audit.tables import audit_events
from gateway.consent.tables import consent_events, preference_events
from tests.api.support import add_person
from tests.harness import Gateway

_OUTCOME = "... on MutationError { code field message }"
RECORD = ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { __typename "
          "... on RecordConsentSuccess { receipt { id } } " + _OUTCOME + " } }")
# Documents the planner compiles.
PLANNED = (
    RECORD,
    ("mutation Grant($in: RecordConsentInput!) { r: recordConsent(input: $in) { "
    "... on RecordConsentSuccess { receipt { jws payload id } __typename } "
    "... on MutationError { message code } ... on RecordConsentResult { kind: __typename } } }"),
    ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { "
    "... on MutationError { field } ... { __typename } ... on RecordConsentSuccess { receipt { id } "
    "receipt { jws } } } }"),
    "mutation($i: RecordObjectionInput!) { recordObjection(input: $i) { __typename "
    "... on RecordObjectionSuccess { receipt { id payload } } " + _OUTCOME + " } }",
    "mutation($i: RestrictProcessingInput!) { restrictProcessing(input: $i) { __typename "
    "... on RestrictProcessingSuccess { receipt { id jws } } " + _OUTCOME + " } }",
)
# Documents it must leave to the general path.
GENERAL = (
    ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { ...R } } "
    "fragment R on RecordConsentSuccess { receipt { id } }"),
    ("mutation($input: RecordConsentInput!) { recordConsent(input: $input) { "
    "... on RecordConsentSuccess @include(if: true) { receipt { id } } } }"),
    "mutation($input: RecordConsentInput) { recordConsent(input: $input) { __typename } }",
    ("mutation($input: RecordConsentInput!) { a: recordConsent(input: $input) { __typename } "
    "b: recordConsent(input: $input) { __typename } }"),
    "mutation($input: RecordConsentInput!, $x: Int) { recordConsent(input: $input) { __typename } }",
    "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { nope } }",
    ("mutation($i: SetChannelPreferenceInput!) { setChannelPreference(input: $i) { __typename "
    "... on SetChannelPreferenceSuccess { receipt { id } } } }"),
    "mutation { recordConsent(input: {customerId: \"x\", purpose: \"marketing_email\", noticeVersion: 2, "
    "action: \"deny\", sourceChannel: \"api\"}) { __typename " + _OUTCOME + " } }",
)

_ROLES = ("call_center", "support", "marketing")
_PURPOSES = (None, "support", "marketing_email")


def _inputs(gw: Gateway, role: str, customer: int) -> list[Any]:
    """Variables for each kind of document: good, refused, malformed."""
    token = gw.pseudonym(customer, role)
    consent = {"customerId": token, "purpose": "marketing_email", "noticeVersion": 2,
               "action": "grant", "sourceChannel": "call_center", "evidence": "call #1"}
    return [
        consent,
        {**consent, "action": "withdraw", "sourceChannel": "api", "evidence": None},
        {**consent, "evidence": None},  # a staff grant without evidence: INVALID_INPUT
        {**consent, "customerId": "not-a-pseudonym"},  # NOT_FOUND
        {**consent, "purpose": "nope"},
        {**consent, "occurredAt": "yesterday"},
        {**consent, "occurredAt": "2026-01-02T03:04:05+00:00", "expiresAt": "2027-01-01T00:00:00+00:00"},
        {**consent, "noticeVersion": "2"},  # a variable error
        {**consent, "noticeVersion": 2.0},
        {**consent, "unknown": 1},
        {k: v for k, v in consent.items() if k != "action"},
        {**consent, "customerId": customer},  # an ID given as an int
        None,
        {"customerId": token, "scope": "profiling", "objected": True, "sourceChannel": "call_center"},
        {"customerId": token, "restricted": False, "sourceChannel": "api", "evidence": "case 7"},
        {"customerId": token, "restricted": "yes", "sourceChannel": "api"},
        {"customerId": token, "channel": "email", "optedIn": False, "sourceChannel": "api"},
    ]


@pytest.fixture
def switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`on`: whether the mutation plans run; `runs`: whether each run answered (True)."""
    state: dict[str, Any] = {"on": True, "runs": []}
    original = http_module.run_mutation

    def switched(*args: Any) -> Any:
        if not state["on"]:
            return None  # nothing ran: the general path answers
        data = original(*args)
        state["runs"].append(data is not None)
        return data

    monkeypatch.setattr(http_module, "run_mutation", switched)
    yield state


@pytest.fixture
def receipt_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The clock of the consent service fixed; the receipt id it uses next is `ids[0]`."""
    ids = ["rcpt_" + "0" * 32]
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(consent_service, "utcnow", lambda: now)
    monkeypatch.setattr(consent_service, "new_receipt_id", lambda: ids[0])
    yield ids


def _send(gw: Gateway, role: str, purpose: str | None, document: str, variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {gw.keys[role]}", "Content-Type": "application/json"}
    if purpose is not None:
        headers["X-Purpose"] = purpose
    body = {"query": document, "variables": {name: variables for name in ("input", "in", "i")}}
    return gw.client.post("/graphql", content=orjson.dumps(body), headers=headers)


def _entry(gw: Gateway, request_id: str) -> dict[str, Any] | None:
    with gw.engine.connect() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.request_id == request_id)).first()
    if row is None:
        return None
    kept = ("actor_type", "actor", "role", "purpose", "action", "operation", "decision", "subjects", "detail")
    return {k: row._mapping[k] for k in kept}


def _set_aside(gw: Gateway, key: str) -> None:
    """Rename the general run's event so that the plan run may use the same receipt id."""
    with gw.engine.begin() as conn:
        for table in (consent_events, preference_events):
            conn.execute(update(table).where(table.c.idempotency_key == key)
                         .values(idempotency_key=key + "-general"))


_SERIAL = itertools.count(1)


@pytest.mark.parametrize("document", PLANNED + GENERAL)
def test_the_plan_answers_byte_for_byte_as_the_general_path(
        gw: Gateway, document: str, switch: dict[str, Any], receipt_ids: list[str]) -> None:
    # given: a customer, and the ids each role knows them by
    customer, _ = add_person(gw)
    succeeded = 0
    for role in _ROLES:
        for purpose in _PURPOSES:
            for variables in _inputs(gw, role, customer):
                receipt_ids[0] = f"rcpt_{next(_SERIAL):032x}"
                # when: the general path, then the plan, with the same clock and receipt id
                switch["on"] = False
                general = _send(gw, role, purpose, document, variables)
                _set_aside(gw, receipt_ids[0])
                switch["on"] = True
                planned = _send(gw, role, purpose, document, variables)
                # then: the same status, the same bytes, the same audit entry
                where = f"{role} / {purpose} / {variables}"
                assert planned.status_code == general.status_code, where
                assert planned.content == general.content, where
                succeeded += b"Success" in planned.content
                assert _entry(gw, planned.headers["x-request-id"]) == _entry(
                    gw, general.headers["x-request-id"]), where
    if document in PLANNED:
        assert any(switch["runs"]), "the plan never answered"
        assert succeeded, "no input was recorded"
    else:
        assert not switch["runs"], "a document the planner must not know was planned"


def test_a_planned_grant_is_recorded_once_with_its_entry(
        gw: Gateway, switch: dict[str, Any]) -> None:
    # given
    customer, _ = add_person(gw)
    variables = _inputs(gw, "call_center", customer)[0]
    # when
    answer = _send(gw, "call_center", "support", RECORD, variables)
    # then: answered by the plan; one event, under the receipt's id, and the request's entry
    assert switch["runs"] == [True]
    receipt = answer.json()["data"]["recordConsent"]["receipt"]["id"]
    with gw.engine.connect() as conn:
        events = conn.execute(select(consent_events.c.customer_id).where(
            consent_events.c.idempotency_key == receipt)).scalars().all()
    assert events == [customer]
    entry = _entry(gw, answer.headers["x-request-id"])
    assert entry is not None
    assert (entry["operation"], entry["action"]) == ("recordConsent", "consent.record")


def test_a_failure_inside_the_plan_leaves_nothing_and_the_general_path_answers(
        gw: Gateway, switch: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # given: shaping fails once, after the event was written
    import gateway.api.mutation_plans as plans

    customer, _ = add_person(gw)
    calls = {"n": 0}

    def failing(*args: Any) -> Any:
        calls["n"] += 1
        raise TypeError("unexpected")

    monkeypatch.setattr(plans, "_shape", failing)
    # when
    answer = _send(gw, "call_center", "support", RECORD, _inputs(gw, "call_center", customer)[0])
    # then: the general path answered; only its event stayed
    assert calls["n"] == 1 and switch["runs"] == [False]
    assert answer.json()["data"]["recordConsent"]["__typename"] == "RecordConsentSuccess"
    with gw.engine.connect() as conn:
        count = len(conn.execute(select(consent_events.c.id).where(
            consent_events.c.customer_id == customer)).all())
    assert count == 1
