"""Test and learn: stable, balanced assignment; a held-out control; results with uplift."""

from __future__ import annotations

from collections import Counter

from gateway.activation.campaigns import Arm, get_campaign
from gateway.activation.clock import ManualClock
from gateway.activation.events import EventInput, record_event
from gateway.activation.experiments import CONTROL, assign, results, uplift
from gateway.activation.service import CLI
from gateway.activation.tables import activation_messages
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, customer, drain, plan, webhook
from tests.harness import Gateway

ARMS = (Arm("A", 1, "spring_sale"), Arm("B", 1, "spring_sale_city"))


def test_assignment_is_stable_and_balanced() -> None:
    # given: 20,000 customers, 10% held out, two arms of equal weight
    ids = range(1, 20_001)
    first = [assign("salt-1", i, 0.1, ARMS) for i in ids]
    again = [assign("salt-1", i, 0.1, ARMS) for i in ids]
    other = [assign("salt-2", i, 0.1, ARMS) for i in ids]
    # then: the same customer always lands in the same arm of a campaign
    assert first == again
    counts = Counter(a.name if a else CONTROL for a in first)
    # and: the shares are within 3 standard deviations of 10/45/45 %
    assert abs(counts[CONTROL] - 2000) < 3 * (20000 * 0.1 * 0.9) ** 0.5
    assert abs(counts["A"] - 9000) < 3 * (20000 * 0.45 * 0.55) ** 0.5
    assert abs(counts["B"] - 9000) < 3 * (20000 * 0.45 * 0.55) ** 0.5
    # and: another campaign draws independently (not the same split again)
    same = sum(1 for a, b in zip(first, other, strict=True) if (a and a.name) == (b and b.name))
    assert same < 0.6 * len(first)


def test_weights_split_in_proportion() -> None:
    arms = (Arm("A", 3, "t"), Arm("B", 1, "t"))
    counts = Counter(a.name for i in range(1, 8001) if (a := assign("s", i, 0.0, arms)))
    assert abs(counts["A"] / 8000 - 0.75) < 0.03


def test_uplift_interval_covers_the_difference() -> None:
    diff, low, high = uplift(60, 500, 40, 500) or (0, 0, 0)
    assert round(diff, 3) == 0.04 and low < 0.04 < high and low > -0.01


def test_results_per_arm_with_control(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        people = [customer(gw) for _ in range(40)]
        ref = campaign(gw, act, "esp", people, template="spring_sale", holdout=0.25, arms=ARMS)
        plan(gw, act, ref)
        drain(gw, act)
        # when: some open, click and buy (through the message ids they received)
        got = receiver.messages("message")
        clock.advance(hours=1)
        with gw.engine.begin() as conn:
            for message in got[:10]:
                record_event(conn, act, CLI, EventInput(kind="email_open", source="esp",
                                                        message=message["id"]))
            for message in got[:4]:
                record_event(conn, act, CLI, EventInput(kind="email_click", source="esp",
                                                        message=message["id"]))
            for cid in people[:20]:
                record_event(conn, act, CLI, EventInput(kind="purchase", source="shop",
                                                        customer_id=cid))
            found = results(conn, get_campaign(conn, ref))
        # then: control first, every customer in exactly one arm, counts add up
        assert [r.arm for r in found] == [CONTROL, "A", "B"]
        assert sum(r.assigned for r in found) == 40
        control = found[0]
        assert control.sent == 0 and control.assigned > 0
        assert sum(r.sent for r in found) == len(got) == 40 - control.assigned
        assert sum(r.opens for r in found) == 10 and sum(r.clicks for r in found) == 4
        assert sum(r.conversions for r in found) == 20
        assert all(r.uplift is not None and r.uplift_low is not None for r in found[1:])
        # and: each message carries the template of its arm
        with gw.engine.connect() as conn:
            arms = dict(conn.execute(activation_messages.select().with_only_columns(
                activation_messages.c.arm, activation_messages.c.template)).all())
        assert arms.get("A") in (None, "spring_sale") and arms.get("B") in (None, "spring_sale_city")
        assert {m["arm"] for m in got} <= {"A", "B"}
