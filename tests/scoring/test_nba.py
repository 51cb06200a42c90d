"""Next best action: the best allowed offer, never one whose purpose or channel the customer
has not allowed, and the reasons in plain words."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from gateway.activation.clock import ManualClock
from gateway.activation.gate import capped, epoch
from gateway.consent.ledger import append_preference
from gateway.profile.tables import customers, interactions
from gateway.scoring.nba import NextAction, load_offers, next_actions
from gateway.scoring.tables import customer_scores
from gateway.store.types import utcnow
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, drain, plan, statuses, webhook
from tests.api.support import add_person
from tests.harness import REPO, Gateway


def _customer(gw: Gateway, *, churn: float = 0.8, purchase: float = 0.3, **values: object) -> int:
    cid, _ = add_person(gw, **{"lifecycle_stage": "at_risk", "rfm_segment": "hibernating",
                               "loyalty_points": 100, **values})
    with gw.engine.begin() as conn:
        conn.execute(insert(customer_scores), [
            {"customer_id": cid, "model": "churn", "version": 1, "value": churn, "scored_at": utcnow()},
            {"customer_id": cid, "model": "purchase_30d", "version": 1, "value": purchase,
             "scored_at": utcnow()}])
    return cid


def _decide(gw: Gateway, *ids: int) -> dict[int, NextAction]:
    purposes = gw.services.purposes
    offers = load_offers(REPO / "policies", purposes)
    profiling = purposes.get("profiling")
    assert profiling is not None
    with gw.engine.connect() as conn:
        return next_actions(conn, list(ids), offers, purposes, profiling, utcnow())


def _texts(action: NextAction) -> str:
    return " ".join(r.text for r in action.explanation)


def test_the_best_allowed_offer_is_chosen(gw: Gateway) -> None:
    # given: an at-risk customer who consented to marketing emails, and a champion who also
    # allows push, whose purchase score makes the push offer worth more
    lapsing = _customer(gw)
    champion = _customer(gw, rfm_segment="champions", purchase=0.9, churn=0.3)
    for cid in (lapsing, champion):
        gw.consent(cid, "marketing_email")
    gw.consent(champion, "marketing_push")
    # when
    found = _decide(gw, lapsing, champion)
    # then
    assert (found[lapsing].offer, found[lapsing].channel) == ("winback_discount", "email")
    assert found[lapsing].expected_value == 0.8
    assert "because you have not bought from us for a while" in _texts(found[lapsing])
    assert "Your score for the chance of no purchase in the next 90 days is 80%." in _texts(found[lapsing])
    assert (found[champion].offer, found[champion].channel) == ("new_collection_preview", "push")


def test_never_an_offer_the_customer_has_not_allowed(gw: Gateway) -> None:
    # given: three at-risk customers: no consent; consent but email opted out; consent but an
    # objection to direct marketing (a reached cap: test_caps_count_what_left_the_outbox...)
    no_consent = _customer(gw)
    opted_out, objected, control = (_customer(gw) for _ in range(3))
    for cid in (opted_out, objected, control):
        gw.consent(cid, "marketing_email")
    gw.preference(opted_out, "channel", "email", "opt_out")
    gw.preference(objected, "objection", "direct_marketing", "on")
    # when
    found = _decide(gw, no_consent, opted_out, objected, control)
    # then: no action for any of the three, each told why in words
    for cid in (no_consent, opted_out, objected):
        assert found[cid].offer is None and found[cid].channel is None
    assert "you have not agreed to send marketing emails and newsletters" in _texts(found[no_consent])
    assert "you opted out of messages by email" in _texts(found[opted_out])
    assert "you objected to direct marketing" in _texts(found[objected])
    # and: the same customer without those choices gets the offer (the control)
    assert found[control].offer == "winback_discount"


def test_the_offers_catalogue_is_checked() -> None:
    # given: offers with a wrong channel, an unknown score and a rule reading location data
    from gateway.consent.purposes import load_purposes
    from gateway.scoring.nba import parse_offers
    from gateway.segmentation.config import ConfigError

    purposes = load_purposes(REPO / "policies" / "purposes.yaml")
    bad = {"offers": [
        {"name": "a", "channel": "sms", "purpose": "marketing_email", "when": 'lifecycle = "new"', "score": "churn"},
        {"name": "b", "channel": "email", "purpose": "marketing_email", "when": 'lifecycle = "new"', "score": "x"},
        {"name": "c", "channel": "email", "purpose": "marketing_email", "when": 'city = "X"', "score": "churn"},
    ]}
    # when / then: each problem at its place
    try:
        parse_offers(bad, purposes)
    except ConfigError as exc:
        text = "; ".join(exc.problems)
    else:
        raise AssertionError("accepted")
    assert "offers[0].purpose" in text and "offers[1].score" in text
    assert "offers[2].when: reads location data" in text


def _decide_at(gw: Gateway, now: datetime, *ids: int) -> dict[int, NextAction]:
    purposes = gw.services.purposes
    profiling = purposes.get("profiling")
    assert profiling is not None
    with gw.engine.connect() as conn:
        return next_actions(conn, list(ids), load_offers(REPO / "policies", purposes), purposes,
                            profiling, now)


def _capped_in_sql(gw: Gateway, now: datetime, *ids: int) -> dict[int, bool]:
    """The gate's SQL twin of the cap (what plans and dry runs decide on), per customer."""
    c = customers.c
    with gw.engine.connect() as conn:
        rows = conn.execute(select(c.id, capped(c.id, "email")).where(c.id.in_(ids)),
                            {"now_epoch": epoch(now)})
        return {int(r[0]): bool(r[1]) for r in rows}


def _capped_by_nba(found: dict[int, NextAction]) -> dict[int, bool]:
    return {cid: any(r.feature == "cap" for r in action.explanation) for cid, action in found.items()}


def test_caps_count_what_left_the_outbox_like_activation(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    # given: at-risk customers who allow marketing emails: one may get 1 email every 30
    # days, one 2, one 1 but has only opened and clicked emails (interactions, no send
    # through the gateway's outbox), and one without a cap (the control)
    one, two, opened, free = (_customer(gw) for _ in range(4))
    clock = ManualClock()
    with gw.engine.begin() as conn:
        for cid, cap in ((one, 1), (two, 2), (opened, 1)):
            append_preference(conn, customer_id=cid, kind="channel", key="email", value="opt_in",
                              source_channel="api", cap_count=cap, cap_period_days=30)
        for kind in ("email_open", "email_click"):
            conn.execute(insert(interactions).values(
                customer_id=opened, kind=kind, channel="email", device="mobile", campaign="spring",
                occurred_at=clock.now() - timedelta(days=2)))
    for cid in (one, two, opened, free):
        gw.consent(cid, "marketing_email")
    everyone = (one, two, opened, free)
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=clock)
        webhook(gw, act, receiver.url, name="esp")
        # when: a campaign sends one email to the first two (the worker, through the outbox)
        plan(gw, act, campaign(gw, act, "esp", [one, two]))
        drain(gw, act)
        now = clock.advance(hours=1)
        found = _decide_at(gw, now, *everyone)
        # then: the first is capped, the second has room for one more; opens and clicks
        # are not sends: the third is offered; and the gate's SQL says the same
        assert {cid: a.offer for cid, a in found.items()} == {
            one: None, two: "winback_discount", opened: "winback_discount", free: "winback_discount"}
        assert "you asked for at most 1 messages by email every 30 days" in _texts(found[one])
        assert _capped_by_nba(found) == _capped_in_sql(gw, now, *everyone) == {
            one: True, two: False, opened: False, free: False}
        # when: another campaign reaches the second (caps count across campaigns), and a
        # third to everyone is planned at the same time, before the second leaves
        second = plan(gw, act, campaign(gw, act, "esp", [two]))
        third = plan(gw, act, campaign(gw, act, "esp", list(everyone)))
        drain(gw, act)
        now = clock.advance(hours=1)
        found = _decide_at(gw, now, *everyone)
        # then: the second is capped too, and so is the one the third campaign just reached
        assert _capped_by_nba(found) == _capped_in_sql(gw, now, *everyone) == {
            one: True, two: True, opened: True, free: False}
        # and: activation refused the third campaign to exactly those two, by the same rule:
        # the first when it was planned (the SQL twin), the second when it left (the worker)
        assert second.enqueued == 1 and third.excluded == {"FREQUENCY_CAPPED": 1}
        assert statuses(gw, campaign_id=third.campaign.id) == {
            two: ("excluded", "FREQUENCY_CAPPED"), opened: ("sent", None), free: ("sent", None)}
        # when: the window has passed since the last sends
        now = clock.advance(days=31)
        found = _decide_at(gw, now, *everyone)
        # then: nobody is capped any more
        assert _capped_by_nba(found) == _capped_in_sql(gw, now, *everyone) == dict.fromkeys(everyone, False)
        assert found[one].offer == "winback_discount"
