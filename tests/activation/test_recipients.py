"""Recipients are told: a withdrawal, an objection, a rectification and an erasure reach every
destination that received the customer, by its own pseudonym, through the outbox."""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.activation.clock import ManualClock
from gateway.activation.tables import activation_messages
from gateway.rights.erase import erase_customer
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, customer, drain, plan, webhook
from tests.harness import Gateway


def _names(gw: Gateway, act: object, name: str) -> object:
    from gateway.activation.destinations import get_destination

    with gw.engine.connect() as conn:
        return get_destination(conn, name=name).pseudonyms(act)  # type: ignore[arg-type]


def _setup(gw: Gateway, act: object, one: Receiver, two: Receiver, three: Receiver) -> None:
    webhook(gw, act, one.url, name="esp-a")  # type: ignore[arg-type]
    webhook(gw, act, two.url, name="esp-b")  # type: ignore[arg-type]
    webhook(gw, act, three.url, name="ads", channel="ads_audience", purpose="ads_audience",  # type: ignore[arg-type]
            fields=("email", "city"))


def test_withdrawal_reaches_every_destination_that_received_the_customer(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as one, Receiver() as two, Receiver() as three, Receiver() as unused:
        act = activation_for(gw, prefixes=",".join(r.prefix for r in (one, two, three, unused)),
                             clock=clock)
        _setup(gw, act, one, two, three)
        webhook(gw, act, unused.url, name="esp-never")
        cid, other = customer(gw), customer(gw)
        gw.consent(cid, "ads_audience")
        # given: the customer received messages from esp-a, esp-b and ads; esp-never nothing
        for name, template in (("esp-a", "newsletter"), ("esp-b", "newsletter")):
            plan(gw, act, campaign(gw, act, name, [cid, other], template=template))
        plan(gw, act, campaign(gw, act, "ads", [cid], template="ads_match",
                               purpose="ads_audience"))
        plan(gw, act, campaign(gw, act, "esp-never", [other]))
        drain(gw, act)
        clock.advance(hours=1)
        # when: they withdraw their email consent; the worker runs
        gw.consent(cid, "marketing_email", "withdraw")
        drain(gw, act)
        # then: both email destinations are told, by their own pseudonym; ads is not
        # concerned (another purpose), esp-never never received them
        for receiver, name in ((one, "esp-a"), (two, "esp-b")):
            notices = receiver.messages("suppression")
            assert [(n["recipient"], n["reason"]) for n in notices] == [
                (_names(gw, act, name).customer_id(cid), "consent_withdrawn")]  # type: ignore[attr-defined]
        assert three.messages("suppression") == []
        assert unused.messages("suppression") == []
        # and: a second pass does not tell them again
        drain(gw, act)
        assert len(one.messages("suppression")) == 1
        # when: they restrict processing: every destination that received them is told
        clock.advance(hours=1)
        gw.preference(cid, "restriction", "processing", "on")
        drain(gw, act)
        assert [len(r.messages("restriction")) for r in (one, two, three, unused)] == [1, 1, 1, 0]


def test_erasure_reaches_every_destination_and_keeps_only_the_proof(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as one, Receiver() as two, Receiver() as three:
        act = activation_for(gw, prefixes=",".join(r.prefix for r in (one, two, three)), clock=clock)
        _setup(gw, act, one, two, three)
        cid, other = customer(gw), customer(gw)
        gw.consent(cid, "ads_audience")
        plan(gw, act, campaign(gw, act, "esp-a", [cid, other]))
        plan(gw, act, campaign(gw, act, "esp-b", [cid]))
        plan(gw, act, campaign(gw, act, "ads", [cid], template="ads_match",
                               purpose="ads_audience"))
        drain(gw, act)
        received = {name: _names(gw, act, name).customer_id(cid)  # type: ignore[attr-defined]
                    for name in ("esp-a", "esp-b", "ads")}
        # given: a message of a later campaign is waiting in the outbox
        pending = campaign(gw, act, "esp-b", [cid])
        plan(gw, act, pending)
        # when: the customer is erased, then the worker runs
        with gw.engine.begin() as conn:
            erase_customer(conn, gw.services.vault, cid, subject_ref="c_erased", actor="test",
                           jurisdiction="gdpr")
        clock.advance(minutes=1)  # the erasure stamps its notices with the system's time
        drain(gw, act)
        # then: every destination that received them got a deletion, by its own pseudonym
        for receiver, name in ((one, "esp-a"), (two, "esp-b"), (three, "ads")):
            assert [(n["recipient"], n["reason"]) for n in receiver.messages("deletion")] == [
                (received[name], "erased")]
        # and: the waiting message was not sent
        assert len(two.messages("message")) == 1
        # and: the outbox keeps the proof of what was sent, linked to nobody
        with gw.engine.connect() as conn:
            rows = conn.execute(select(activation_messages)).all()
        mine = [r for r in rows if r.customer_id is None]
        assert {(r.kind, r.status) for r in mine} >= {("message", "sent"), ("message", "cancelled"),
                                                      ("notice", "sent")}
        dump = json.dumps([[str(v) for v in r] for r in mine])
        assert all(pseudonym not in dump for pseudonym in received.values())
        assert f":{cid}" not in "".join(r.dedupe for r in mine)
        assert all(r.payload_digest for r in mine if r.status == "sent")
        # control: the other customer's rows still name them
        assert any(r.customer_id == other for r in rows)


def test_rectification_tells_recipients_which_fields_changed(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as one:
        act = activation_for(gw, prefixes=one.prefix, clock=clock)
        webhook(gw, act, one.url, name="esp-a")
        cid = customer(gw)
        plan(gw, act, campaign(gw, act, "esp-a", [cid]))
        drain(gw, act)
        clock.advance(minutes=5)
        # when: a rectification case corrects the first name and the phone
        from gateway.rights.cases import open_case
        from gateway.rights.service import Execution, Rights, execute_case
        from gateway.rights.subjects import find_by_id
        from gateway.rights.trail import Actor

        s = gw.services
        rights = Rights(s.purposes, s.signer, s.pseudonyms, s.settings, s.vault)
        actor = Actor("system", "test")
        with gw.engine.begin() as conn:
            person = find_by_id(conn, cid)
            assert person is not None
            case = open_case(conn, rights.trail(actor), person, "rectify")
            execute_case(conn, rights, actor, case.ref, Execution(
                changes=[("firstName", "Corrected"), ("phone", "+447700900999")]))
        drain(gw, act)
        # then: the destination is told that the first name it holds changed (not the phone,
        # which it never received), and not the new value
        notices = one.messages("rectification")
        assert [(n["reason"], n["fields"]) for n in notices] == [("rectified", ["firstName"])]
        assert "Corrected" not in json.dumps(notices)


def test_an_objection_reaches_every_destination_that_received_the_customer(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as one, Receiver() as two, Receiver() as three, Receiver() as unused:
        act = activation_for(gw, prefixes=",".join(r.prefix for r in (one, two, three, unused)),
                             clock=clock)
        _setup(gw, act, one, two, three)
        webhook(gw, act, unused.url, name="esp-never")
        cid, other = customer(gw), customer(gw)
        gw.consent(cid, "ads_audience")
        # given: the customer received messages from esp-a, esp-b and ads; esp-never nothing
        for name in ("esp-a", "esp-b"):
            plan(gw, act, campaign(gw, act, name, [cid, other]))
        plan(gw, act, campaign(gw, act, "ads", [cid], template="ads_match", purpose="ads_audience"))
        plan(gw, act, campaign(gw, act, "esp-never", [other]))
        drain(gw, act)
        clock.advance(hours=1)
        # when: they object to profiling (no destination serves it): nobody is told
        gw.preference(cid, "objection", "profiling", "on")
        drain(gw, act)
        assert [len(r.messages("suppression")) for r in (one, two, three, unused)] == [0, 0, 0, 0]
        # when: they object to direct marketing, which all three destinations serve
        clock.advance(hours=1)
        gw.preference(cid, "objection", "direct_marketing", "on")
        drain(gw, act)
        # then: each is told once, by its own pseudonym; esp-never received nothing of them
        for receiver, name in ((one, "esp-a"), (two, "esp-b"), (three, "ads")):
            assert [(n["recipient"], n["reason"]) for n in receiver.messages("suppression")] == [
                (_names(gw, act, name).customer_id(cid), "objection")]  # type: ignore[attr-defined]
        assert unused.messages("suppression") == []
        # and: the other customer is named nowhere
        mentioned = json.dumps([r.messages("suppression") for r in (one, two, three)])
        assert _names(gw, act, "esp-a").customer_id(other) not in mentioned  # type: ignore[attr-defined]
