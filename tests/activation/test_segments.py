"""Campaigns over segments of gateway/segmentation (issue 11's `segment_members` contract)."""

from __future__ import annotations

import uuid

import pytest

from gateway.activation.campaigns import CampaignInput, create_campaign, dry_run, plan_campaign
from gateway.activation.service import CLI, Actor
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.segmentation.store import version_segment
from gateway.store.types import utcnow
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, customer, drain, plan, statuses, webhook
from tests.harness import Gateway
from tests.segmentation.support import plan as plan_for
from tests.segmentation.support import save


def test_a_segment_campaign_decides_each_member_and_sends_the_eligible(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    city = f"Segtown-{uuid.uuid4().hex[:8]}"
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        members = [customer(gw, city=city) for _ in range(3)]
        ok, refused, opted_out = members
        gw.consent(refused, "marketing_email", "withdraw")
        gw.preference(opted_out, "channel", "email", "opt_out")
        outsider = customer(gw, city="Elsewhere")
        # given: a segment of the city (saved under profiling by marketing)
        with gw.engine.begin() as conn:
            info = save(gw, conn, f"seg-{city}", f'city = "{city}"')
            found = create_campaign(conn, act, CLI, CampaignInput(
                name="city", destination="esp", purpose="marketing_email", template="newsletter",
                segment_id=str(info.id)))
            # when: a dry run
            result = dry_run(conn, act, CLI, found.ref)
        # then: the segment's members, each decided for the campaign's purpose
        assert (result.audience, result.eligible) == (3, 1)
        assert result.excluded == {"CONSENT_REQUIRED": 1, "CHANNEL_OPTED_OUT": 1}
        # when: it runs and the worker drains the outbox
        planned = plan(gw, act, found.ref)
        drain(gw, act)
        # then: only the eligible member received it; the outsider was never considered
        assert planned.enqueued == 1
        assert statuses(gw, campaign_id=found.id) == {ok: ("sent", None)}
        assert outsider not in statuses(gw, campaign_id=found.id)
        assert len(receiver.messages("message")) == 1


def test_a_segment_revealing_what_the_destination_may_not_use_is_refused(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/hook", name="ads", channel="ads_audience",
            purpose="ads_audience", fields=("email", "city"))
    with gw.engine.begin() as conn:
        # a rule on orders: sending its members reveals transactions, which ads may not use
        info = save(gw, conn, f"big-{uuid.uuid4().hex[:6]}", "orders.total_spent > 100",
                    purpose_name="marketing_email")
    for segment_id, code in ((str(info.id), Code.POLICY_DENIED), ("999999", Code.NOT_FOUND),
                             ("not-a-number", Code.NOT_FOUND)):
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            create_campaign(conn, act, CLI, CampaignInput(
                name="big spenders", destination="ads", purpose="ads_audience",
                template="ads_match", segment_id=segment_id))
        assert (caught.value.code, caught.value.field) == (code, "segmentId")


MARKETING_APP = Actor("crm-app", "marketing", "marketing_sms", "app")


def test_a_segment_on_data_the_sms_purpose_may_not_read_cannot_be_activated(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    city = f"Smstown-{uuid.uuid4().hex[:8]}"
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/sms", name="sms", channel="sms", purpose="marketing_sms",
            fields=("firstName", "phone"))
    member = customer(gw, city=city, consent="marketing_sms")
    # given: segments marketing may save for profiling; marketing_sms reads no transactions,
    # neither a field of them nor a derived value computed from them (rfm.recency's lineage)
    with gw.engine.begin() as conn:
        on_orders = save(gw, conn, f"spenders-{city}", "orders.total_spent > 100")
        on_lineage = save(gw, conn, f"recent-{city}", "rfm.recency < 30")
        on_city = save(gw, conn, f"city-{city}", f'city = "{city}"')
    for info in (on_orders, on_lineage):
        # when: the marketing app activates it for sms
        with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
            create_campaign(conn, act, MARKETING_APP, CampaignInput(
                name="sms", destination="sms", purpose="marketing_sms", template="sms_offer",
                segment_id=str(info.id)))
        # then: refused with the policy's code, naming no field of the rule
        assert (caught.value.code, caught.value.field) == (Code.POLICY_DENIED, "segmentId")
        assert "total_spent" not in caught.value.message and "recency" not in caught.value.message
    # control: a segment on a field marketing_sms may read is activated and counted
    with gw.engine.begin() as conn:
        found = create_campaign(conn, act, MARKETING_APP, CampaignInput(
            name="sms", destination="sms", purpose="marketing_sms", template="sms_offer",
            segment_id=str(on_city.id)))
        result = dry_run(conn, act, MARKETING_APP, found.ref)
    assert (result.audience, result.eligible) == (1, 1)
    assert member not in statuses(gw, campaign_id=found.id)  # a dry run plans nothing


@pytest.mark.parametrize("pinned", [False, True], ids=["current-version", "pinned-version-control"])
def test_a_segment_rewritten_onto_denied_data_stops_its_campaign(fresh_gateway: Gateway,
                                                                 pinned: bool) -> None:
    gw = fresh_gateway
    city = f"Moved-{uuid.uuid4().hex[:8]}"
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="sms", channel="sms", purpose="marketing_sms",
                fields=("firstName", "phone"))
        member = customer(gw, city=city, consent="marketing_sms")
        # given: a campaign over a city segment, planned while the rule read only the city
        with gw.engine.begin() as conn:
            info = save(gw, conn, f"moved-{city}", f'city = "{city}"')
            found = create_campaign(conn, act, MARKETING_APP, CampaignInput(
                name="sms", destination="sms", purpose="marketing_sms", template="sms_offer",
                segment_id=str(info.id), segment_version=1 if pinned else None))
            planned = plan_campaign(conn, act, MARKETING_APP, found.ref)
        assert planned.enqueued == 1
        # when: the segment gets a new version that reads orders (allowed for profiling)
        with gw.engine.begin() as conn:
            version_segment(conn, plan_for(gw, "marketing", "profiling"), info.id,
                            definition=f'city = "{city}" and orders.total_spent >= 0',
                            description=None, note=None, actor="test", now=utcnow())
        drain(gw, act)
        if pinned:
            # then (control): a campaign pinned to version 1 still counts and sends
            with gw.engine.begin() as conn:
                assert dry_run(conn, act, MARKETING_APP, found.ref).audience == 1
            assert statuses(gw, campaign_id=found.id) == {member: ("sent", None)}
            assert len(receiver.messages("message")) == 1
            return
        # then: nothing counts or plans it any more, and the planned message does not leave
        for step in (dry_run, plan_campaign):
            with pytest.raises(ServiceError) as caught, gw.engine.begin() as conn:
                step(conn, act, MARKETING_APP, found.ref)
            assert (caught.value.code, caught.value.field) == (Code.POLICY_DENIED, "segmentId")
        assert statuses(gw, campaign_id=found.id) == {member: ("excluded", "POLICY_DENIED")}
        assert receiver.messages("message") == []
