"""The person's rights through the portal: take their data, ask for erasure, follow requests.

An export is a right carried out at once (the person is signed in): an `export` case opened
and completed in one transaction, audited step by step, so it shows among their requests.
An erasure is irreversible and needs the operator's checks (legal holds, Art. 17(3)): the
portal opens the case with its due date, and a compliance officer carries it out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.portal.context import ACTOR, ACTOR_TYPE, PURPOSE, ROLE, Portal
from gateway.rights.cases import ACTIVE, Case, list_cases, load, open_case, steps_of
from gateway.rights.service import Execution, Rights, execute_case
from gateway.rights.subjects import Person
from gateway.rights.trail import Actor

ERASE_NOTE = "asked for by the person through the self-service portal"
EXPORT_NOTE = "downloaded by the person through the self-service portal"


def _rights(portal: Portal) -> Rights:
    return Rights(portal.purposes, portal.signer, portal.pseudonyms, portal.settings, portal.vault)


def _actor(operation: str, request_id: str | None = None) -> Actor:
    return Actor(ACTOR_TYPE, ACTOR, ROLE, PURPOSE, None, request_id, operation)


def export_document(conn: Connection, portal: Portal, person: Person) -> tuple[Case, dict[str, Any]]:
    """Open and complete an `export` case for the person; the case and their document."""
    portal.require("rights_case", "open")
    rights = _rights(portal)
    actor = _actor("portal export")
    case = open_case(conn, rights.trail(actor), person, "export", note=EXPORT_NOTE)
    done = execute_case(conn, rights, actor, case.ref, Execution())
    assert done.document is not None
    return done.case, done.document


def pending_erasure(conn: Connection, portal: Portal, person: Person) -> Case | None:
    """The person's erasure case still open, if any (asking twice opens nothing new)."""
    for case in my_cases(conn, portal, person):
        if case.kind == "erase" and case.status in ACTIVE:
            return case
    return None


def request_erasure(conn: Connection, portal: Portal, person: Person) -> Case:
    """Open an erasure case for the person (or return the one already open)."""
    portal.require("rights_case", "open")
    found = pending_erasure(conn, portal, person)
    if found is not None:
        return found
    return open_case(conn, _rights(portal).trail(_actor("portal erase")), person, "erase",
                     note=ERASE_NOTE)


def my_cases(conn: Connection, portal: Portal, person: Person) -> list[Case]:
    """The person's requests (cases naming their audit pseudonym), by due date."""
    portal.require("rights_case", "read_own")
    return list_cases(conn, portal.vault, subject_ref=portal.audit.customer_id(person.id))


def my_case(conn: Connection, portal: Portal, person: Person, ref: str) -> tuple[Case, list[dict[str, Any]]]:
    """One of the person's requests with its steps; NOT_FOUND when it is not theirs."""
    portal.require("rights_case", "read_own")
    try:
        case = load(conn, portal.vault, ref=ref)
    except ServiceError:
        case = None
    if case is None or case.subject_ref != portal.audit.customer_id(person.id):
        raise ServiceError(Code.NOT_FOUND, "no such request", "id")
    return case, steps_of(conn, [case.id])[case.id]
