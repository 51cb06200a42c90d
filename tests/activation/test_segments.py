"""Campaigns over segments of gateway/segmentation (issue 11's `segment_members` contract)."""

from __future__ import annotations

import uuid

import pytest

from gateway.activation.campaigns import CampaignInput, create_campaign, dry_run
from gateway.activation.service import CLI
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, customer, drain, plan, statuses, webhook
from tests.harness import Gateway
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
