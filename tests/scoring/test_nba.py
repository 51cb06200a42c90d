"""Next best action: the best allowed offer, never one whose purpose or channel the customer
has not allowed, and the reasons in plain words."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from gateway.consent.ledger import append_preference
from gateway.profile.tables import interactions
from gateway.scoring.nba import NextAction, load_offers, next_actions
from gateway.scoring.tables import customer_scores
from gateway.store.types import utcnow
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
    # given: four at-risk customers: no consent; consent but email opted out; consent but an
    # objection to direct marketing; consent with a frequency cap already reached
    no_consent = _customer(gw)
    opted_out, objected, capped, control = (_customer(gw) for _ in range(4))
    for cid in (opted_out, objected, capped, control):
        gw.consent(cid, "marketing_email")
    gw.preference(opted_out, "channel", "email", "opt_out")
    gw.preference(objected, "objection", "direct_marketing", "on")
    now = utcnow()
    with gw.engine.begin() as conn:
        append_preference(conn, customer_id=capped, kind="channel", key="email", value="opt_in",
                          source_channel="api", cap_count=1, cap_period_days=30)
        conn.execute(insert(interactions).values(
            customer_id=capped, kind="email_open", channel="email", device="mobile",
            campaign="spring", occurred_at=now - timedelta(days=3)))
    # when
    found = _decide(gw, no_consent, opted_out, objected, capped, control)
    # then: no action for any of the four, each told why in words
    for cid in (no_consent, opted_out, objected, capped):
        assert found[cid].offer is None and found[cid].channel is None
    assert "you have not agreed to send marketing emails and newsletters" in _texts(found[no_consent])
    assert "you opted out of messages by email" in _texts(found[opted_out])
    assert "you objected to direct marketing" in _texts(found[objected])
    assert "you asked for at most 1 messages by email every 30 days" in _texts(found[capped])
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
