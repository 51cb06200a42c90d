"""An erased person's id, and so their pseudonyms, are never given to a later customer."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit.tables import audit_subjects
from tests.api.support import add_person
from tests.harness import Gateway
from tests.rights.support import executed, opened

APPS = ("marketing", "support", "compliance_officer")


def _names(gw: Gateway, cid: int) -> set[str]:
    return {gw.pseudonym(cid, app) for app in APPS} | {gw.audit_ref(cid)}


def test_the_next_customer_after_an_erasure_gets_a_new_id_and_new_pseudonyms(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: the newest customer, read about, then erased through an erasure case
    erased, _ = add_person(gw)
    before = _names(gw, erased)
    case = opened(gw, erased, "erase")
    executed(gw, case["id"])
    # when: the next customer is created through the write service
    later, _ = add_person(gw)
    # then: a new id, above the erased one (SQLite would otherwise hand the same id back)
    assert later > erased
    # and: none of its pseudonyms (per app, audit) is one the erased person had
    assert _names(gw, later).isdisjoint(before)
    # and: the audit entries about the erased person do not name the new customer
    with gw.engine.connect() as conn:
        refs = set(conn.execute(select(audit_subjects.c.ref)).scalars())
    assert gw.audit_ref(erased) in refs
    assert gw.audit_ref(later) not in refs
