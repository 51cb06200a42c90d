"""Helpers of the preference-center tests: the mutations over HTTP and ledger row counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from tests.harness import Gateway

Json = dict[str, Any]
_OUTCOME = "__typename ... on MutationError { code field message }"
RECORD_CONSENT = (
    "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { "
    f"... on RecordConsentSuccess {{ receipt {{ id jws payload }} }} {_OUTCOME} }} }}"
)
SET_CHANNEL = (
    "mutation($input: SetChannelPreferenceInput!) { setChannelPreference(input: $input) { "
    f"... on SetChannelPreferenceSuccess {{ receipt {{ id jws payload }} }} {_OUTCOME} }} }}"
)
RECORD_OBJECTION = (
    "mutation($input: RecordObjectionInput!) { recordObjection(input: $input) { "
    f"... on RecordObjectionSuccess {{ receipt {{ id jws payload }} }} {_OUTCOME} }} }}"
)
RESTRICT = (
    "mutation($input: RestrictProcessingInput!) { restrictProcessing(input: $input) { "
    f"... on RestrictProcessingSuccess {{ receipt {{ id jws payload }} }} {_OUTCOME} }} }}"
)
# What the staff channel records when it grants or lifts a protection on the customer's word.
CALL_EVIDENCE = "call 2026-11-30 #4411, customer confirmed"
PROFILE = "query($id: ID!) { customer(id: $id) { firstName email consents { purpose status } } }"


def record_consent(gw: Gateway, customer_id: int, action: str = "grant", *,
                   purpose: str = "marketing_email", notice_version: int = 2,
                   app: str = "call_center", declared: str = "support",
                   source_channel: str = "call_center", **extra: Any) -> Json:
    """recordConsent as `app` (declaring `declared`); the mutation's result object."""
    given: Json = {
        "customerId": gw.pseudonym(customer_id, app), "purpose": purpose,
        "noticeVersion": notice_version, "action": action, "sourceChannel": source_channel,
        "evidence": CALL_EVIDENCE, **extra,
    }
    body = gw.post(RECORD_CONSENT, app=app, purpose=declared, variables={"input": given}).json()
    assert "errors" not in body, body
    result: Json = body["data"]["recordConsent"]
    return result


def mutate(gw: Gateway, query: str, name: str, customer_id: int, *, app: str = "call_center",
           declared: str = "support", source_channel: str = "call_center", **fields: Any) -> Json:
    """One preference mutation (`name` is its root field); the mutation's result object."""
    given = {"customerId": gw.pseudonym(customer_id, app), "sourceChannel": source_channel,
             "evidence": CALL_EVIDENCE, **fields}
    body = gw.post(query, app=app, purpose=declared, variables={"input": given}).json()
    assert "errors" not in body, body
    result: Json = body["data"][name]
    return result


def read_profile(gw: Gateway, customer_id: int, purpose: str = "marketing_email") -> Json:
    """What the marketing app reads about `customer_id` for `purpose`."""
    return dict(gw.post(PROFILE, purpose=purpose, variables={"id": gw.pseudonym(customer_id)}).json())


def ledger_counts(gw: Gateway) -> tuple[int, ...]:
    """Rows in the four ledger tables: a failed write must leave these unchanged."""
    with gw.engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (consent_events, consent_state, preference_events, preference_state)
        )
