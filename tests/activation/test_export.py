"""The person's export lists what activation holds about them; their erasure removes it."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.activation.clock import ManualClock
from gateway.activation.events import EventInput, record_event
from gateway.activation.service import CLI
from gateway.activation.suppression import SuppressionInput, add_suppression
from gateway.activation.tables import activation_events, activation_suppressions
from gateway.rights.erase import erase_customer
from gateway.rights.export import build
from gateway.rights.subjects import find_by_id
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, customer, drain, plan, webhook
from tests.harness import Gateway


def test_export_lists_recipients_messages_arms_notices_and_events(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        cid = customer(gw)
        ref = campaign(gw, act, "esp", [cid], template="spring_sale")
        plan(gw, act, ref)
        drain(gw, act)
        clock.advance(minutes=1)
        gw.preference(cid, "objection", "direct_marketing", "on")
        drain(gw, act)
        with gw.engine.begin() as conn:
            record_event(conn, act, CLI, EventInput(kind="web_visit", source="web", customer_id=cid,
                                                    attributes={"page": "sale"}))
            add_suppression(conn, act, CLI, SuppressionInput(scope="customer", reason="manual",
                                                             customer_id=cid, channel="sms"))
            person = find_by_id(conn, cid)
            assert person is not None
            doc = build(conn, gw.services.vault, gw.services.pseudonyms.for_audit(),
                        gw.services.purposes, person, "export")
        section = doc["activation"]
        # then: the destination that received them, the message with its arm, the notice
        assert [(r["destination"], r["messages"]) for r in section["recipients"]] == [("esp", 1)]
        assert [(m["campaign_id"], m["status"], m["arm"]) for m in section["messages"]] == [
            (ref, "sent", "A")]
        assert section["arms"] == [{"campaign_id": ref, "arm": "A"}]
        assert [(n["destination"], n["notice"]["reason"], n["status"])
                for n in section["notices_sent"]] == [("esp", "objection", "sent")]
        assert [e["kind"] for e in section["events"]] == ["web_visit"]
        assert [(s["scope"], s["channel"]) for s in section["suppressions"]] == [("customer", "sms")]


def test_erasure_removes_events_and_suppressions(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="")
    cid, other = customer(gw), customer(gw)
    with gw.engine.begin() as conn:
        from gateway.profile.identity import read_identity

        address = (read_identity(conn, gw.services.vault, cid) or {})["email"]
        for who in (cid, other):
            record_event(conn, act, CLI, EventInput(kind="purchase", source="shop", customer_id=who))
            add_suppression(conn, act, CLI, SuppressionInput(scope="customer", reason="manual",
                                                             customer_id=who))
        add_suppression(conn, act, CLI, SuppressionInput(scope="email", reason="hard_bounce",
                                                         address=address))
        erase_customer(conn, gw.services.vault, cid, subject_ref="c_x", actor="test",
                       jurisdiction="gdpr")
    with gw.engine.connect() as conn:
        events = conn.execute(select(activation_events.c.customer_id)).scalars().all()
        entries = conn.execute(select(func.count()).select_from(activation_suppressions)).scalar_one()
    # then: nothing of the erased customer is left (their address's entry included);
    # control: the other customer's rows stay
    assert cid not in events and other in events
    assert entries == 1
