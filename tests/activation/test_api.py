"""Activation over GraphQL, under policy: marketing plans and runs, compliance reads
everything, analytics reads results only; the request's audit entry holds counts, no values."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from gateway.activation.clock import SYSTEM
from gateway.activation.tables import activation_messages
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, customer, drain, webhook
from tests.harness import Gateway, audit_events
from tests.segmentation.support import save

CREATE = """
mutation Create($input: CreateCampaignInput!) {
  createCampaign(input: $input) {
    __typename
    ... on CampaignSuccess { campaign { id name destination purpose status arms { name } } }
    ... on MutationError { code field message }
  }
}"""
RUN = """
mutation Run($id: ID!) {
  %s(id: $id) {
    __typename
    ... on CampaignRunSuccess { run { kind audience eligible enqueued excluded { key count } } }
    ... on MutationError { code field message }
  }
}"""
READ = """
query Read($id: ID!) {
  campaign(id: $id) { id status outbox { key count } reasons { key count } }
  campaignResults(id: $id) { arm assigned sent conversions }
  outboxMessages(campaignId: $id) { id kind status reason destination }
}"""


def _data(response: Any) -> Any:
    body = response.json()
    assert response.status_code == 200, body
    return body


def _create(gw: Gateway, ids: list[int], app: str = "marketing", purpose: str = "marketing_email") -> Any:
    variables = {"input": {"name": "spring", "destination": "esp", "template": "spring_sale",
                           "customerIds": [gw.pseudonym(i, app) for i in ids],
                           "holdout": 0.0}}
    return _data(gw.post(CREATE, app=app, purpose=purpose, variables=variables))


def test_marketing_plans_and_runs_compliance_reads_analytics_reads_results(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=SYSTEM)  # as the API's
        webhook(gw, act, receiver.url, name="esp")
        ok, refused = customer(gw), customer(gw, consent=None)
        # when: marketing creates the campaign, dry-runs it and runs it
        created = _create(gw, [ok, refused])["data"]["createCampaign"]
        assert created["__typename"] == "CampaignSuccess", created
        ref = created["campaign"]["id"]
        dry = _data(gw.post(RUN % "dryRunCampaign", variables={"id": ref}))["data"]["dryRunCampaign"]
        assert dry["run"]["eligible"] == 1 and dry["run"]["enqueued"] == 0
        assert dry["run"]["excluded"] == [{"key": "CONSENT_REQUIRED", "count": 1}]
        response = gw.post(RUN % "runCampaign", variables={"id": ref})
        run = _data(response)["data"]["runCampaign"]["run"]
        assert (run["kind"], run["enqueued"]) == ("plan", 1)
        # then: the request's audit entry holds the counts per reason, and no personal value
        entry = gw.audit_entry(response.headers["x-request-id"])
        assert entry.action == "activation.run"
        assert entry.detail["excluded"] == {"CONSENT_REQUIRED": 1} and entry.detail["enqueued"] == 1
        drain(gw, act)
        # and: compliance reads the campaign and its messages, analytics only its results
        read = _data(gw.post(READ, app="compliance_officer", purpose="compliance_audit",
                             variables={"id": ref}))
        assert "errors" not in read, read
        assert read["data"]["campaign"]["outbox"] == [{"key": "sent", "count": 1}]
        assert [m["status"] for m in read["data"]["outboxMessages"]] == ["sent"]
        results = _data(gw.post("query R($id: ID!) { campaignResults(id: $id) { arm assigned sent } }",
                                app="analytics", purpose="analytics", variables={"id": ref}))
        assert results["data"]["campaignResults"] == [{"arm": "A", "assigned": 1, "sent": 1}]
        denied = _data(gw.post(READ, app="analytics", purpose="analytics", variables={"id": ref}))
        assert {e["extensions"]["code"] for e in denied["errors"]} == {"POLICY_DENIED"}


def test_others_cannot_plan_or_run(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/hook", name="esp")
    cid = customer(gw)
    for app, purpose in (("analytics", "analytics"), ("support", "support"),
                         ("compliance_officer", "compliance_audit"), ("marketing", "profiling")):
        answer = _create(gw, [cid], app=app, purpose=purpose)["data"]["createCampaign"]
        assert (answer["__typename"], answer["code"]) == ("MutationError", "POLICY_DENIED"), app
    # and: a campaign of marketing_email is invisible under marketing_sms
    ref = _create(gw, [cid])["data"]["createCampaign"]["campaign"]["id"]
    other = _data(gw.post(RUN % "runCampaign", purpose="marketing_sms", variables={"id": ref}))
    assert other["data"]["runCampaign"]["code"] == "NOT_FOUND"
    with gw.engine.connect() as conn:
        assert conn.execute(select(activation_messages.c.id)).all() == []


def test_bad_input_is_a_mutation_error_with_its_field(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/hook", name="esp", fields=("firstName", "email"))
    cid = customer(gw)
    base = {"name": "x", "destination": "esp", "template": "spring_sale",
            "customerIds": [gw.pseudonym(cid)]}
    for change, code, field in (
        ({"destination": "nowhere"}, "NOT_FOUND", "destination"),
        ({"template": "spring_sale_city"}, "INVALID_INPUT", "template"),
        ({"customerIds": ["c_not-a-pseudonym"]}, "NOT_FOUND", "customerIds"),
        ({"customerIds": None, "segmentId": "7"}, "NOT_FOUND", "segmentId"),
    ):
        answer = _data(gw.post(CREATE, variables={"input": {**base, **change}}))["data"]["createCampaign"]
        assert (answer["code"], answer["field"]) == (code, field), change


def test_events_and_recipients_over_graphql(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix, clock=SYSTEM)  # as the API's
        webhook(gw, act, receiver.url, name="esp-email")
        cid = customer(gw)
        event = """mutation E($input: RecordEventInput!) { recordEvent(input: $input) {
          __typename ... on RecordEventSuccess { duplicate triggered { rule steps } }
          ... on MutationError { code field } } }"""
        answer = _data(gw.post(event, variables={"input": {
            "kind": "signup", "source": "web", "customerId": gw.pseudonym(cid),
            "sourceEventId": "signup-1"}}))["data"]["recordEvent"]
        assert answer == {"__typename": "RecordEventSuccess", "duplicate": False,
                          "triggered": [{"rule": "welcome_series", "steps": 2}]}
        refused = _data(gw.post(event, app="analytics", purpose="analytics", variables={"input": {
            "kind": "signup", "source": "web", "customerId": gw.pseudonym(cid, "analytics")}}))
        assert refused["data"]["recordEvent"]["code"] == "POLICY_DENIED"
        drain(gw, act)
        # then: the officer sees who received the customer
        query = """query R($id: ID!) { customerRecipients(customerId: $id) {
          recipients { destination messages } notices { type } } }"""
        officer = _data(gw.post(query, app="compliance_officer", purpose="compliance_audit",
                                variables={"id": gw.pseudonym(cid, "compliance_officer")}))
        assert officer["data"]["customerRecipients"]["recipients"] == [
            {"destination": "esp-email", "messages": 1}]
        # and: marketing may not see that view
        marketing = _data(gw.post(query, variables={"id": gw.pseudonym(cid)}))
        assert marketing["errors"][0]["extensions"]["code"] == "POLICY_DENIED"
        # and: no audit entry holds the attributes' or the customer's values
        with gw.engine.connect() as conn:
            details = [json.dumps(r.detail) for r in conn.execute(select(audit_events))]
        assert not any("signup-1" in d for d in details)


def test_marketing_cannot_activate_a_segment_on_data_its_purpose_may_not_read(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    webhook(gw, act, "http://127.0.0.1:9/sms", name="sms", channel="sms", purpose="marketing_sms",
            fields=("firstName", "phone"))
    tag = uuid.uuid4().hex[:8]
    with gw.engine.begin() as conn:
        on_orders = save(gw, conn, f"spend-{tag}", "orders.total_spent > 100")
        on_city = save(gw, conn, f"city-{tag}", f'city = "Town-{tag}"')
    answers = {}
    for name, info in (("orders", on_orders), ("city", on_city)):
        variables = {"input": {"name": "sms", "destination": "sms", "template": "sms_offer",
                               "segmentId": str(info.id)}}
        # when: marketing (declaring marketing_sms) activates each segment
        response = gw.post(CREATE, purpose="marketing_sms", variables=variables)
        answers[name] = _data(response)["data"]["createCampaign"]
    # then: the segment on orders is refused with the policy's code and no word of the rule
    assert (answers["orders"]["code"], answers["orders"]["field"]) == ("POLICY_DENIED", "segmentId")
    assert "total_spent" not in json.dumps(answers["orders"])
    # control: the segment on the city becomes a campaign
    assert answers["city"]["__typename"] == "CampaignSuccess", answers["city"]
