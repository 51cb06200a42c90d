"""The gate, end to end against a real HTTP receiver: who is excluded by which reason, and
that the decision is the one taken when the message leaves, not when it was planned."""

from __future__ import annotations

from typing import Any

from gateway.activation.clock import ManualClock
from gateway.activation.events import EventInput, record_event
from gateway.activation.service import CLI
from gateway.activation.suppression import SuppressionInput, add_suppression
from tests.activation.receiver import Receiver
from tests.activation.support import (
    activation_for,
    campaign,
    customer,
    drain,
    plan,
    statuses,
    webhook,
)
from tests.harness import Gateway


def _everyone(gw: Gateway) -> dict[str, int]:
    """One customer in each state the gate tells apart."""
    people = {
        "ok": customer(gw),
        "no_consent": customer(gw, consent=None),
        "objected": customer(gw),
        "restricted": customer(gw),
        "opted_out": customer(gw),
        "suppressed": customer(gw),
        "no_email": customer(gw, email=None),
        "capped": customer(gw),
        "cap_unused": customer(gw),  # control: a cap with nothing sent yet does not exclude
    }
    gw.preference(people["objected"], "objection", "direct_marketing", "on")
    gw.preference(people["restricted"], "restriction", "processing", "on")
    gw.preference(people["opted_out"], "channel", "email", "opt_out")
    return people


def test_dry_run_counts_each_reason_and_sends_nothing(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        people = _everyone(gw)
        # given: a cap of one email a week, already used by an earlier campaign
        with gw.engine.begin() as conn:
            from gateway.consent.ledger import append_preference

            for who in ("capped", "cap_unused"):
                append_preference(conn, customer_id=people[who], kind="channel", key="email",
                                  value="opt_in", cap_count=1, cap_period_days=7,
                                  source_channel="api")
            add_suppression(conn, act, CLI, SuppressionInput(
                scope="customer", reason="complaint", customer_id=people["suppressed"]))
        first = campaign(gw, act, "esp", [people["capped"]])
        plan(gw, act, first)
        drain(gw, act)
        assert len(receiver.messages()) == 1
        clock.advance(days=1)
        ref = campaign(gw, act, "esp", list(people.values()))
        # when: a dry run
        from gateway.activation.campaigns import dry_run

        with gw.engine.begin() as conn:
            result = dry_run(conn, act, CLI, ref)
        # then: one eligible, one excluded per reason, and nothing planned or sent
        assert result.audience == 9 and result.eligible == 2
        assert result.excluded == {
            "CHANNEL_OPTED_OUT": 1, "CONSENT_REQUIRED": 1, "FREQUENCY_CAPPED": 1,
            "NO_CONTACT": 1, "OBJECTED": 1, "RESTRICTED": 1, "SUPPRESSED": 1,
        }
        assert statuses(gw, campaign_id=result.campaign.id) == {}
        assert len(receiver.messages()) == 1


def test_real_run_sends_only_to_the_eligible_and_is_idempotent(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        people = _everyone(gw)
        ref = campaign(gw, act, "esp", list(people.values()))
        # when: the campaign runs twice and the worker drains the outbox
        first = plan(gw, act, ref)
        second = plan(gw, act, ref)
        drain(gw, act)
        # then: planned once, sent once, to the eligible customers only
        # (no cap and no suppression are set in this test: those two are eligible too)
        eligible = ("ok", "capped", "suppressed", "cap_unused")
        assert first.enqueued == len(eligible)
        assert second.enqueued == 0 and second.already_planned == len(eligible)
        got = receiver.messages("message")
        assert len(got) == len(eligible) and receiver.got.duplicates == 0
        sent = statuses(gw, campaign_id=first.campaign.id)
        assert sent == {people[k]: ("sent", None) for k in eligible}


def test_withdrawal_between_plan_and_send_stops_the_message(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        stays, withdraws, opts_out, objects, restricts = (customer(gw) for _ in range(5))
        ref = campaign(gw, act, "esp", [stays, withdraws, opts_out, objects, restricts])
        result = plan(gw, act, ref)
        assert result.enqueued == 5
        # when: time passes, four customers change their minds, then the worker runs
        clock.advance(hours=2)
        gw.consent(withdraws, "marketing_email", "withdraw")
        gw.preference(opts_out, "channel", "email", "opt_out")
        gw.preference(objects, "objection", "direct_marketing", "on")
        gw.preference(restricts, "restriction", "processing", "on")
        clock.advance(hours=2)
        drain(gw, act)
        # then: only the one who did not change their mind receives it
        assert [m["recipient"] for m in receiver.messages("message")] == [
            act.pseudonyms.for_destination(_audience(gw, "esp")).customer_id(stays)]
        assert statuses(gw, campaign_id=result.campaign.id) == {
            stays: ("sent", None), withdraws: ("excluded", "CONSENT_REQUIRED"),
            opts_out: ("excluded", "CHANNEL_OPTED_OUT"), objects: ("excluded", "OBJECTED"),
            restricts: ("excluded", "RESTRICTED"),
        }


def test_frequency_cap_holds_across_two_campaigns(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        capped, free = customer(gw), customer(gw)
        with gw.engine.begin() as conn:
            from gateway.consent.ledger import append_preference

            append_preference(conn, customer_id=capped, kind="channel", key="email", value="opt_in",
                              cap_count=2, cap_period_days=7, source_channel="api")
        # given: two campaigns planned at the same time, both before anything was sent
        refs = [campaign(gw, act, "esp", [capped, free]) for _ in range(3)]
        results = [plan(gw, act, ref) for ref in refs]
        assert all(r.enqueued == 2 for r in results)
        # when: the worker sends them
        drain(gw, act)
        # then: the capped customer gets two (the cap), the other three
        per = [statuses(gw, campaign_id=r.campaign.id) for r in results]
        assert [p[capped] for p in per] == [("sent", None), ("sent", None),
                                            ("excluded", "FREQUENCY_CAPPED")]
        assert all(p[free] == ("sent", None) for p in per)
        # when: a week later, a fourth campaign
        clock.advance(days=7, seconds=1)
        late = plan(gw, act, campaign(gw, act, "esp", [capped]))
        drain(gw, act)
        # then: the window has moved on, the cap allows it again
        assert statuses(gw, campaign_id=late.campaign.id)[capped] == ("sent", None)


def test_frequency_cap_holds_across_a_campaign_and_a_trigger(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    clock = ManualClock()
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp-email")  # the welcome_series rule's destination
        capped, free = customer(gw), customer(gw)
        with gw.engine.begin() as conn:
            from gateway.consent.ledger import append_preference

            append_preference(conn, customer_id=capped, kind="channel", key="email", value="opt_in",
                              cap_count=2, cap_period_days=7, source_channel="api")
        # given: a campaign sends to both (1 of the cap's 2)
        first = plan(gw, act, campaign(gw, act, "esp-email", [capped, free]))
        drain(gw, act)
        clock.advance(hours=1)
        # when: both sign up: the triggered welcome goes through the same gate (2 of 2)
        for cid in (capped, free):
            with gw.engine.begin() as conn:
                record_event(conn, act, CLI, EventInput(kind="signup", source="web", customer_id=cid))
        drain(gw, act)
        clock.advance(hours=1)
        # and: a second campaign
        second = plan(gw, act, campaign(gw, act, "esp-email", [capped, free]))
        drain(gw, act)
        # then: the campaign and the trigger used up the cap; the second campaign is capped
        assert statuses(gw, campaign_id=first.campaign.id) == {capped: ("sent", None), free: ("sent", None)}
        welcomes = statuses(gw, rule="welcome_series", step=0)
        assert welcomes == {capped: ("sent", None), free: ("sent", None)}
        assert second.excluded == {"FREQUENCY_CAPPED": 1}  # decided already when planned
        assert statuses(gw, campaign_id=second.campaign.id) == {free: ("sent", None)}
        # and: the capped customer received exactly two messages in the window
        assert len([m for m in receiver.messages("message")
                    if m["recipient"] == _pseudonym(gw, act, capped)]) == 2


def test_suppression_wins_over_consent_and_is_applied_at_send_time(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        by_id, by_address, other_channel, free = (customer(gw) for _ in range(4))
        ref = campaign(gw, act, "esp", [by_id, by_address, other_channel, free])
        result = plan(gw, act, ref)
        # when: after planning, a complaint, a hard bounce on an address, an SMS-only hold
        from gateway.profile.identity import read_identity

        with gw.engine.begin() as conn:
            address = read_identity(conn, gw.services.vault, by_address)["email"]
            add_suppression(conn, act, CLI, SuppressionInput(
                scope="customer", reason="complaint", customer_id=by_id))
            add_suppression(conn, act, CLI, SuppressionInput(
                scope="email", reason="hard_bounce", address=address.upper()))
            add_suppression(conn, act, CLI, SuppressionInput(
                scope="customer", reason="legal_hold", customer_id=other_channel, channel="sms"))
        drain(gw, act)
        # then: both email suppressions win; an SMS hold does not stop an email
        assert statuses(gw, campaign_id=result.campaign.id) == {
            by_id: ("excluded", "SUPPRESSED"), by_address: ("excluded", "SUPPRESSED"),
            other_channel: ("sent", None), free: ("sent", None),
        }


def _pseudonym(gw: Gateway, act: Any, cid: int) -> str:
    return str(act.pseudonyms.for_destination(_audience(gw, "esp-email")).customer_id(cid))


def _audience(gw: Gateway, name: str) -> str:
    from gateway.activation.destinations import get_destination

    with gw.engine.connect() as conn:
        return get_destination(conn, name=name).audience
