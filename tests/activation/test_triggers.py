"""Event-triggered messages under a controllable clock: delays, scripts, unless, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.activation.clock import ManualClock
from gateway.activation.events import EventInput, record_event
from gateway.activation.rules import RulesError, parse_rules
from gateway.activation.service import CLI, Activation
from gateway.errors import ServiceError
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, count, customer, drain, webhook
from tests.harness import Gateway


def _event(gw: Gateway, act: Activation, cid: int, kind: str, **attributes: object) -> dict[str, int]:
    with gw.engine.begin() as conn:
        return record_event(conn, act, CLI, EventInput(
            kind=kind, source="web", customer_id=cid, attributes=dict(attributes))).triggered


def test_welcome_script_follow_up_after_three_days_unless_purchased(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp-email")
        buyer, browser = customer(gw), customer(gw)
        # when: both sign up
        assert _event(gw, act, buyer, "signup") == {"welcome_series": 2}
        assert _event(gw, act, browser, "signup") == {"welcome_series": 2}
        drain(gw, act)
        # then: the welcome goes at once, the follow-up waits
        assert sorted(m["template"] for m in receiver.messages()) == ["welcome", "welcome"]
        # when: one buys on day 1; day 3 comes (and a bit)
        clock.advance(days=1)
        _event(gw, act, buyer, "purchase", value=50)
        clock.advance(days=1, hours=23)
        drain(gw, act)
        assert len(receiver.messages()) == 2  # not yet (2 days 23 hours): the delay is three days
        clock.advance(hours=2)
        drain(gw, act)
        # then: the follow-up reaches only the one who did not buy
        follow_ups = [m for m in receiver.messages() if m["template"] == "welcome_follow_up"]
        names = act.pseudonyms.for_destination(_audience(gw, "esp-email"))
        assert [m["recipient"] for m in follow_ups] == [names.customer_id(browser)]
        assert count(gw, rule="welcome_series", status="cancelled", reason="SCRIPT_STOPPED") == 1


def test_condition_and_delay_of_a_single_step_rule(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp-email")
        cid = customer(gw)
        # when: a small cart (below the rule's threshold) and a big one are abandoned
        assert _event(gw, act, cid, "cart_abandoned", value=5) == {}
        assert _event(gw, act, cid, "cart_abandoned", value=80) == {"abandoned_cart": 1}
        clock.advance(hours=1, minutes=59)
        drain(gw, act)
        assert receiver.messages() == []
        clock.advance(minutes=2)
        drain(gw, act)
        # then: one reminder, two hours after the event
        assert [m["template"] for m in receiver.messages()] == ["cart_reminder"]


def test_rule_limit_holds_and_the_gate_still_decides(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp-email")
        cid, withdrawn = customer(gw), customer(gw)
        # when: three big carts in a day (the rule allows one reminder a week)
        for _ in range(3):
            _event(gw, act, cid, "cart_abandoned", value=99)
            clock.advance(hours=3)
        # and: another customer withdraws before their reminder is due
        _event(gw, act, withdrawn, "cart_abandoned", value=99)
        gw.consent(withdrawn, "marketing_email", "withdraw")
        clock.advance(hours=3)
        drain(gw, act)
        # then: one reminder; the others capped by the rule; the withdrawal stops the other
        assert len(receiver.messages()) == 1
        assert count(gw, rule="abandoned_cart", status="excluded", reason="FREQUENCY_CAPPED") == 2
        assert count(gw, rule="abandoned_cart", status="excluded", reason="CONSENT_REQUIRED") == 1


def test_events_are_validated_and_recorded_once(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="")
    cid = customer(gw)
    cases = [
        (EventInput(kind="teleport", source="web", customer_id=cid), "kind"),
        (EventInput(kind="purchase", source="web", customer_id=cid,
                    attributes={"note": "call me on +44 20 7946 0000"}), "attributes"),
        (EventInput(kind="purchase", source="web", customer_id=10**9), "customerId"),
        (EventInput(kind="purchase", source="web", customer_id=cid,
                    occurred_at=act.clock.now() + timedelta(days=1)), "occurredAt"),
    ]
    for given, field in cases:
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            record_event(conn, act, CLI, given)
        assert caught.value.field == field
    with gw.engine.begin() as conn:
        first = record_event(conn, act, CLI, EventInput(kind="purchase", source="shop",
                                                        customer_id=cid, source_event_id="o-1"))
        again = record_event(conn, act, CLI, EventInput(kind="purchase", source="shop",
                                                        customer_id=cid, source_event_id="o-1"))
    assert again.duplicate and again.event_id == first.event_id


def test_rules_file_problems_are_reported_at_their_place() -> None:
    document = {
        "templates": {"hello": {"fields": ["firstName", "shoeSize"]}, "ok": {"fields": ["email"]}},
        "triggers": {
            "bad": {"when": "teleport", "destination": "esp", "purpose": "nope",
                    "steps": [{"after": "soon", "template": "missing"}], "limit": {"count": 0}},
        },
    }
    with pytest.raises(RulesError) as caught:
        parse_rules(document, frozenset({"marketing_email"}))
    problems = "\n".join(caught.value.problems)
    for place in ("templates.hello.fields", "triggers.bad.when", "triggers.bad.purpose",
                  "triggers.bad.steps[0].after", "triggers.bad.steps[0].template",
                  "triggers.bad.limit"):
        assert place in problems


def _audience(gw: Gateway, name: str) -> str:
    from gateway.activation.destinations import get_destination

    with gw.engine.connect() as conn:
        return get_destination(conn, name=name).audience
