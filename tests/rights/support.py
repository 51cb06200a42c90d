"""Helpers of the rights tests: GraphQL documents and calls as the support app and officer."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from gateway.audit.tables import audit_events
from gateway.rights.cases import load
from gateway.rights.export import dumps
from tests.harness import Gateway

CASE_FIELDS = """
fragment CaseFields on RightsCase {
  id customerId kind jurisdiction status receivedAt dueOn extendedTo deadline overdue
  legalBasis note extensionReason rejectionReason openedBy closedAt outcome
  steps { step status occurredAt actor }
}
"""
OPEN = """
mutation Open($input: OpenRightsCaseInput!) {
  openRightsCase(input: $input) {
    __typename
    ... on RightsCaseSuccess { case { ...CaseFields } }
    ... on MutationError { code field message }
  }
}
""" + CASE_FIELDS
EXECUTE = """
mutation Execute($input: ExecuteRightsCaseInput!) {
  executeRightsCase(input: $input) {
    __typename
    ... on ExecuteRightsCaseSuccess { case { ...CaseFields } document receipt { id payload } }
    ... on MutationError { code field message }
  }
}
""" + CASE_FIELDS
EXTEND = """
mutation Extend($id: ID!, $reason: String!) {
  extendRightsCase(id: $id, reason: $reason) {
    __typename
    ... on RightsCaseSuccess { case { ...CaseFields } }
    ... on MutationError { code field message }
  }
}
""" + CASE_FIELDS
REJECT = """
mutation Reject($id: ID!, $reason: String!) {
  rejectRightsCase(id: $id, reason: $reason) {
    __typename
    ... on RightsCaseSuccess { case { ...CaseFields } }
    ... on MutationError { code field message }
  }
}
""" + CASE_FIELDS
CASES = "query Cases($status: String, $kind: String) { rightsCases(status: $status, kind: $kind, first: 200) { ...CaseFields } }" + CASE_FIELDS
CASE = "query Case($id: ID!) { rightsCase(id: $id) { ...CaseFields } }" + CASE_FIELDS
OVERDUE = "{ overdueRightsCases { ...CaseFields } }" + CASE_FIELDS
EXPORT = "query Export($id: ID!) { rightsExport(caseId: $id) }"

SUPPORT = {"app": "support", "purpose": "support"}
OFFICER = {"app": "compliance_officer", "purpose": "compliance_audit"}


def open_case(gw: Gateway, customer_id: int, kind: str, **extra: Any) -> dict[str, Any]:
    """Open a case as the support app; the union result."""
    variables = {"input": {"customerId": gw.pseudonym(customer_id, "support"), "kind": kind, **extra}}
    answer = gw.post(OPEN, variables=variables, **SUPPORT)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["data"]["openRightsCase"]
    return result


def opened(gw: Gateway, customer_id: int, kind: str, **extra: Any) -> dict[str, Any]:
    """Open a case that must succeed; the case."""
    result = open_case(gw, customer_id, kind, **extra)
    assert result["__typename"] == "RightsCaseSuccess", result
    case: dict[str, Any] = result["case"]
    return case


def execute(gw: Gateway, ref: str, **extra: Any) -> dict[str, Any]:
    """Carry out case `ref` as the compliance officer; the union result."""
    answer = gw.post(EXECUTE, variables={"input": {"id": ref, **extra}}, **OFFICER)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["data"]["executeRightsCase"]
    return result


def executed(gw: Gateway, ref: str, **extra: Any) -> dict[str, Any]:
    """Carry out a case that must succeed; the success value."""
    result = execute(gw, ref, **extra)
    assert result["__typename"] == "ExecuteRightsCaseSuccess", result
    return result


def audit_rows(gw: Gateway, action_prefix: str = "rights.") -> list[Any]:
    """Audit entries whose action starts with `action_prefix`, in chain order."""
    with gw.engine.connect() as conn:
        return list(conn.execute(
            select(audit_events).where(audit_events.c.action.like(f"{action_prefix}%"))
            .order_by(audit_events.c.seq)
        ))


def delivered(gw: Gateway, ref: str) -> dict[str, Any]:
    """The document of access or export case `ref`, as delivered to its data subject (the
    officer who executes the case does not receive it)."""
    from gateway.rights.service import Rights, document_for_subject

    s = gw.services
    rights = Rights(s.purposes, s.signer, s.pseudonyms, s.settings, s.vault)
    with gw.engine.connect() as conn:
        case = load(conn, s.vault, ref=ref)
        assert case.customer_id is not None and case.status == "completed", case
        return json.loads(dumps(document_for_subject(conn, rights, case.customer_id, case.kind)))
