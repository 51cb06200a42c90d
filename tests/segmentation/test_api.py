"""Segments and the derived Customer fields through GraphQL over HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import insert

from gateway.scoring.model import fit
from gateway.scoring.tables import customer_scores
from gateway.scoring.train import store
from gateway.store.types import utcnow
from tests.api.support import add_person, errors_by_path, unique
from tests.harness import Gateway

SAVE = """mutation($input: SaveSegmentInput!) { saveSegment(input: $input) {
  __typename
  ... on SegmentSuccess { segment { id name version fields categories purpose } }
  ... on SegmentError { code field message line column } } }"""
VERSION = """mutation($input: VersionSegmentInput!) { versionSegment(input: $input) {
  __typename ... on SegmentSuccess { segment { id version definition versions { version } } }
  ... on SegmentError { code field message line column } } }"""
SEGMENT = """query($id: ID!) { segment(id: $id) { name definition count preview(first: 5) { id city } } }"""


def _data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _save(gw: Gateway, name: str, rule: str, *, app: str = "marketing", purpose: str = "profiling") -> Any:
    body = _data(gw.post(SAVE, app=app, purpose=purpose,
                         variables={"input": {"name": name, "definition": rule}}))
    return body["data"]["saveSegment"]


def test_save_count_preview_and_version(gw: Gateway) -> None:
    # given: three customers of a city, one of whom objected to profiling
    city = unique("City")
    ids = [add_person(gw, city=city)[0] for _ in range(3)]
    gw.preference(ids[2], "objection", "profiling", "on")
    # when: marketing saves a segment on the city for profiling
    saved = _save(gw, unique("seg"), f'city = "{city}"')
    # then: version 1, reading `city` (location)
    assert saved["__typename"] == "SegmentSuccess", saved
    segment = saved["segment"]
    assert (segment["version"], segment["fields"], segment["categories"], segment["purpose"]) == (
        1, ["city"], ["location"], "profiling")
    # when: counting and previewing it
    found = _data(gw.post(SEGMENT, purpose="profiling", variables={"id": segment["id"]}))
    # then: the customer who objected is neither counted nor shown
    seg = found["data"]["segment"]
    assert seg["count"] == 2
    assert sorted(c["id"] for c in seg["preview"]) == sorted(gw.pseudonym(i) for i in ids[:2])
    assert all(c["city"] == city for c in seg["preview"])
    # when: saving a new version
    again = _data(gw.post(VERSION, purpose="profiling", variables={"input": {
        "id": segment["id"], "definition": f'city = "{city}" and region = "Nowhere"', "note": "narrower"}}))
    # then
    assert again["data"]["versionSegment"]["segment"]["version"] == 2
    assert [v["version"] for v in again["data"]["versionSegment"]["segment"]["versions"]] == [2, 1]


def test_a_bad_rule_is_answered_at_its_place(gw: Gateway) -> None:
    # when
    refused = _save(gw, unique("seg"), 'city = "A" and\n  lifecycle = "at_rsk"')
    # then: a union error with the code, the field and the place
    assert refused == {"__typename": "SegmentError", "code": "INVALID_INPUT", "field": "definition",
                       "message": refused["message"], "line": 2, "column": 15}
    assert "unknown value 'at_rsk'" in refused["message"]


def test_a_rule_on_a_field_the_purpose_may_not_read_is_refused(gw: Gateway) -> None:
    # when: marketing saves a rule on the amount spent while declaring text messages
    refused = _save(gw, unique("seg"), "orders.total_spent > 100", purpose="marketing_sms")
    # then
    assert (refused["code"], refused["line"], refused["column"]) == ("POLICY_DENIED", 1, 1)
    # and: the same rule is accepted for email marketing (the control)
    assert _save(gw, unique("seg"), "orders.total_spent > 100", purpose="marketing_email")[
        "__typename"] == "SegmentSuccess"
    # and: a segment saved for email cannot be counted under text messages
    saved = _save(gw, unique("seg"), "orders.total_spent > 10", purpose="marketing_email")
    body = _data(gw.post("query($id: ID!) { segment(id: $id) { name count } }", purpose="marketing_sms",
                         variables={"id": saved["segment"]["id"]}))
    assert body["data"] is None or body["data"]["segment"] is None
    assert body["errors"][0]["extensions"]["code"] == "POLICY_DENIED"


def test_who_may_save_and_count(gw: Gateway) -> None:
    # when: support tries to save, analytics tries to save, analytics counts
    support = _save(gw, unique("seg"), 'city = "X"', app="support", purpose="support")
    analytics = _save(gw, unique("seg"), 'city = "X"', app="analytics", purpose="analytics")
    mine = _save(gw, unique("seg"), 'city = "X"')
    counted = _data(gw.post("query($id: ID!) { segment(id: $id) { count } }", app="analytics",
                            purpose="analytics", variables={"id": mine["segment"]["id"]}))
    # then
    assert support["code"] == "POLICY_DENIED" and analytics["code"] == "POLICY_DENIED"
    assert counted["data"]["segment"]["count"] == 0


def test_preview_segment_counts_without_saving(gw: Gateway) -> None:
    city = unique("City")
    add_person(gw, city=city)
    body = _data(gw.post("query($d: String!) { previewSegment(definition: $d) { count fields } }",
                         purpose="profiling", variables={"d": f'city = "{city}"'}))
    assert body["data"]["previewSegment"] == {"count": 1, "fields": ["city"]}
    bad = _data(gw.post("query($d: String!) { previewSegment(definition: $d) { count } }",
                        purpose="profiling", variables={"d": "city = "}))
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "definition",
                                              "line": 1, "column": 8}


DERIVED = """query($id: ID!) { customer(id: $id) { id city segments { name }
  scores { model version value explanation { feature text } }
  nextBestAction { offer channel explanation { text } } } }"""


def _score(gw: Gateway, cid: int) -> None:
    """A churn score of 0.7 from a stored model version."""
    rng = np.random.default_rng(1)
    model = fit("churn", rng.random((40, 9)), (rng.random(40) > 0.5).astype(np.int64))
    trained = store(gw.engine, model, {}, utcnow(), utcnow())
    with gw.engine.begin() as conn:
        conn.execute(insert(customer_scores).values(customer_id=cid, model="churn",
                                                    version=trained.version, value=0.7,
                                                    scored_at=utcnow()))


def test_derived_fields_are_withheld_at_once_after_an_objection(gw: Gateway) -> None:
    # given: a consenting customer in a saved segment, with a score
    city = unique("City")
    cid, _ = add_person(gw, city=city, lifecycle_stage="at_risk")
    gw.consent(cid, "marketing_email")
    _score(gw, cid)
    name = unique("seg")
    assert _save(gw, name, f'city = "{city}"')["__typename"] == "SegmentSuccess"
    # when: marketing reads them
    before = _data(gw.post(DERIVED, variables={"id": gw.pseudonym(cid)}))
    # then: the segment, the score and an action
    node = before["data"]["customer"]
    assert name in [s["name"] for s in node["segments"]]
    assert node["scores"][0]["model"] == "churn" and node["scores"][0]["value"] == 0.7
    assert node["nextBestAction"]["offer"] == "winback_discount"
    # and: a rule on the score selects them, a stricter one does not
    counted = [_data(gw.post("query($d: String!) { previewSegment(definition: $d) { count } }",
                             variables={"d": f'city = "{city}" and score.churn {cmp}'}))
               ["data"]["previewSegment"]["count"] for cmp in (">= 0.6", "> 0.8")]
    assert counted == [1, 0]
    # when: the customer objects to profiling (no job has run since)
    gw.preference(cid, "objection", "profiling", "on")
    after = _data(gw.post(DERIVED, variables={"id": gw.pseudonym(cid)}))
    # then: every derived field is withheld with the reason; the city is still there
    node = after["data"]["customer"]
    assert node["city"] == city
    assert node["segments"] is None and node["scores"] is None and node["nextBestAction"] is None
    codes = errors_by_path(after)
    assert {codes[("customer", f)] for f in ("segments", "scores", "nextBestAction")} == {"OBJECTED"}
    # and: counts leave them out at once: profiling counts them nowhere; email marketing
    # still counts them on their city but not on their score (no side channel either way)
    def preview(rule: str, purpose: str) -> int:
        return int(_data(gw.post("query($d: String!) { previewSegment(definition: $d) { count } }",
                                 purpose=purpose, variables={"d": rule}))["data"]["previewSegment"]["count"])

    rules = (f'city = "{city}" and score.churn >= 0.6', f'city = "{city}"')
    assert [preview(r, "profiling") for r in rules] == [0, 0]
    assert [preview(r, "marketing_email") for r in rules] == [0, 1]
    saved = _data(gw.post("query { segments { name count } }", purpose="profiling"))["data"]["segments"]
    assert [s["count"] for s in saved if s["name"] == name] == [0]


def test_segments_listed_only_where_the_reader_may_read_their_fields(gw: Gateway) -> None:
    # given: a customer in two segments, one on the city, one on the amount spent
    city = unique("City")
    cid, _ = add_person(gw, city=city)
    gw.consent(cid, "marketing_sms")
    gw.consent(cid, "marketing_email")
    on_city, on_money = unique("seg"), unique("seg")
    _save(gw, on_city, f'city = "{city}"')
    _save(gw, on_money, f'city = "{city}" and orders.total_spent > 1')
    query = "query($id: ID!) { customer(id: $id) { segments { name } } }"
    # when: read for text messages (no transactions) and for email (transactions)
    sms = _data(gw.post(query, purpose="marketing_sms", variables={"id": gw.pseudonym(cid)}))
    email = _data(gw.post(query, purpose="marketing_email", variables={"id": gw.pseudonym(cid)}))
    # then (other tests' segments on amounts may list the customer too)
    mine = {on_city, on_money}
    assert [s["name"] for s in sms["data"]["customer"]["segments"] if s["name"] in mine] == [on_city]
    assert {s["name"] for s in email["data"]["customer"]["segments"]} >= mine


def test_support_reads_explanations_in_plain_words(gw: Gateway) -> None:
    # given: a customer with a next best action decided now
    cid, _ = add_person(gw, lifecycle_stage="at_risk")
    gw.consent(cid, "marketing_email")
    _score(gw, cid)
    # when: support reads it while helping them
    body = _data(gw.post("query($id: ID!) { customer(id: $id) { nextBestAction { offer explanation { text } } } }",
                         app="support", purpose="support", variables={"id": gw.pseudonym(cid, "support")}))
    # then
    action = body["data"]["customer"]["nextBestAction"]
    assert action["offer"] == "winback_discount"
    assert action["explanation"][0]["text"].startswith("Chosen: a 15% discount to come back by email")
