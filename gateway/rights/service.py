"""Carrying out a case's right: access, export, rectify, erase, restrict, object.

`execute_case` validates what the right needs, starts the case if it was open, does the
work, completes the case and writes the audit entries of each step, all on the caller's
connection, inside a savepoint: a refusal or failure part-way leaves nothing behind.
Restriction and objection are recorded through the preference center's own service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert

from gateway.config import Settings
from gateway.consent import service as consent
from gateway.consent.purposes import Purposes
from gateway.consent.receipts import Receipt
from gateway.consent.validation import OBJECTIONS
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer
from gateway.privacy.vault import Vault
from gateway.rights import export
from gateway.rights.cases import Case, complete_case, load, start_case
from gateway.rights.erase import erase_customer
from gateway.rights.subjects import Person, check_changes, find_by_id, write_fields
from gateway.rights.tables import rights_rectifications
from gateway.rights.trail import Actor, Trail
from gateway.rights.tx import savepoint
from gateway.store.types import utcnow


@dataclass(frozen=True)
class Rights:
    """The long-lived parts the rights need (built from the gateway's Services or the CLI)."""

    purposes: Purposes
    signer: Signer
    pseudonyms: PseudonymService
    settings: Settings
    vault: Vault

    def trail(self, actor: Actor, **extra: Any) -> Trail:
        """The audit trail of `actor`'s steps."""
        return Trail(self.pseudonyms.for_audit(), self.signer, self.settings, actor, self.vault, extra)


@dataclass(frozen=True)
class Execution:
    """What a right needs besides the case: corrections, an objection's scope, or a release."""

    changes: list[tuple[str, str]] = field(default_factory=list)  # rectify: (field, new value)
    objection_scope: str | None = None  # object: profiling | direct_marketing
    lift: bool = False  # restrict / object: release the restriction, lift the objection


@dataclass
class Outcome:
    """The completed case, and the document or receipt the right produced."""

    case: Case
    document: dict[str, Any] | None = None
    receipt: Receipt | None = None


def _check(kind: str, given: Execution) -> dict[str, Any]:
    """Validate what `kind` needs before anything is written; the rectified values."""
    if kind != "rectify" and given.changes:
        raise ServiceError(Code.INVALID_INPUT, "only a rectification takes fields", "fields")
    if kind != "object" and given.objection_scope is not None:
        raise ServiceError(Code.INVALID_INPUT, "only an objection takes a scope", "objectionScope")
    if given.lift and kind not in ("restrict", "object"):
        raise ServiceError(Code.INVALID_INPUT, "only a restriction or objection can be lifted", "lift")
    if kind == "object" and given.objection_scope not in OBJECTIONS:
        raise ServiceError(Code.INVALID_INPUT, "objectionScope must be profiling, direct_marketing or identity_resolution",
                           "objectionScope")
    return check_changes(given.changes) if kind == "rectify" else {}


def _person(conn: Connection, case: Case) -> Person:
    person = find_by_id(conn, case.customer_id) if case.customer_id is not None else None
    if person is None:
        raise ServiceError(Code.ALREADY_ERASED, "the customer of this case has been erased", "id")
    return person


def _recorder(rights: Rights, actor: Actor) -> consent.Recorder:
    names = (rights.pseudonyms.for_app(actor.app_id) if actor.app_id is not None
             else rights.pseudonyms.for_audit())
    return consent.Recorder(rights.purposes, rights.signer, actor.app_id, names, rights.vault)


def _preference(case: Case, person: Person) -> consent.PreferenceInput:
    return consent.PreferenceInput(customer_id=person.id, source_channel="api",
                                   evidence=f"rights-case:{case.ref}")


def execute_case(conn: Connection, rights: Rights, actor: Actor, ref: str,
                 given: Execution) -> Outcome:
    """Carry out the right of case `ref` and complete it (one savepoint on `conn`)."""
    with savepoint(conn):
        return _execute(conn, rights, actor, ref, given)


def _execute(conn: Connection, rights: Rights, actor: Actor, ref: str, given: Execution) -> Outcome:
    trail = rights.trail(actor)
    case = load(conn, rights.vault, ref=ref, lock=True)
    values = _check(case.kind, given)
    if case.status in ("completed", "rejected"):
        raise ServiceError(Code.CASE_CLOSED, f"the case is {case.status}; no further step", "id")
    person = _person(conn, case)
    case = start_case(conn, trail, ref)
    out = Outcome(case)
    if case.kind in ("access", "export"):
        out.document = export.build(conn, rights.vault, rights.pseudonyms.for_audit(), rights.purposes, person, case.kind)
        # Produced for the person, delivered to them (the portal builds it again on their
        # download); the outcome says so without holding any of it.
        outcome: dict[str, Any] = {"document_sections": sorted(out.document),
                                   "delivered_to": "data_subject", "delivery": "portal"}
    elif case.kind == "rectify":
        write_fields(conn, rights.vault, person.id, values)
        now = utcnow()
        conn.execute(insert(rights_rectifications), [
            {"case_id": case.id, "field": name, "changed_at": now, "changed_by": actor.name}
            for name in sorted(values)
        ])
        outcome = {"fields": sorted(values)}
    elif case.kind == "erase":
        done = erase_customer(conn, rights.vault, person.id, subject_ref=case.subject_ref, actor=actor.name,
                              jurisdiction=case.jurisdiction, case_id=case.id)
        outcome = {"tombstone": done.tombstone, "deleted": done.counts}
    elif case.kind == "restrict":
        out.receipt = consent.restrict_processing(conn, _recorder(rights, actor),
                                                  _preference(case, person), not given.lift)
        outcome = {"restricted": not given.lift, "receipt": out.receipt.id}
    else:
        assert given.objection_scope is not None
        out.receipt = consent.record_objection(conn, _recorder(rights, actor), _preference(case, person),
                                               given.objection_scope, not given.lift)
        outcome = {"objection": given.objection_scope, "objected": not given.lift,
                   "receipt": out.receipt.id}
    out.case = complete_case(conn, trail, case, outcome)
    return out


def document_for(conn: Connection, rights: Rights, actor: Actor, ref: str) -> dict[str, Any]:
    """The document of an access or export case, rebuilt now (the read is audited)."""
    case = load(conn, rights.vault, ref=ref)
    if case.kind not in ("access", "export"):
        raise ServiceError(Code.INVALID_INPUT, "only access and export cases have a document", "caseId")
    if case.status == "rejected":
        raise ServiceError(Code.CASE_CLOSED, "the case was rejected", "caseId")
    person = _person(conn, case)
    rights.trail(actor).step(conn, "rights.document", person.id, {"case": case.ref, "kind": case.kind})
    return export.build(conn, rights.vault, rights.pseudonyms.for_audit(), rights.purposes, person, case.kind)


def document_for_subject(conn: Connection, rights: Rights, customer_id: int,
                         kind: str = "export") -> dict[str, Any]:
    """The person's document as delivered to the person themself (the portal's download).

    The export belongs to the data subject: officers execute the case and see that the
    document was produced, but its content reaches only the person (DESIGN.md rule 7, issue
    9). The caller audits the delivery. NOT_FOUND when the customer no longer exists.
    """
    if kind not in ("access", "export"):
        raise ServiceError(Code.INVALID_INPUT, "the document is of an access or an export", "kind")
    person = find_by_id(conn, customer_id)
    if person is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    return export.build(conn, rights.vault, rights.pseudonyms.for_audit(), rights.purposes, person, kind)
