"""Prometheus metrics: requests by operation, app, purpose and code; no personal value."""

from __future__ import annotations

import re

from tests.api.support import add_person
from tests.harness import Gateway

PROFILE = "query($id: ID!) { customer(id: $id) { id firstName email city } }"


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name{labels...}` (labels matched as a subset)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_requests_are_counted_by_operation_app_purpose_and_code(gateway: Gateway) -> None:
    # given
    gw = gateway
    app = gw.callers["marketing"].name
    cid, _ = add_person(gw)
    before = gw.client.get("/metrics").text
    labels = {"operation": "customer", "app": app, "purpose": "marketing_email"}

    # when
    gw.post(PROFILE, variables={"id": gw.pseudonym(cid)})
    after = gw.client.get("/metrics").text

    # then
    assert _sample(after, "gateway_requests_total", **labels) == \
        _sample(before, "gateway_requests_total", **labels) + 1
    assert _sample(after, "gateway_audit_append_seconds_count") > \
        _sample(before, "gateway_audit_append_seconds_count")


def test_withheld_decisions_are_counted_by_reason(gateway: Gateway) -> None:
    # given: a customer without consent to marketing_email
    gw = gateway
    cid, _ = add_person(gw)
    before = gw.client.get("/metrics").text

    # when
    body = gw.post(PROFILE, variables={"id": gw.pseudonym(cid)}).json()
    after = gw.client.get("/metrics").text

    # then
    reasons = {e["extensions"]["code"] for e in body.get("errors", [])}
    assert reasons, body
    for reason in reasons:
        assert _sample(after, "gateway_withheld_total", reason=reason) > \
            _sample(before, "gateway_withheld_total", reason=reason)


def test_no_personal_value_raw_id_or_caller_text_becomes_a_label(gateway: Gateway) -> None:
    # given: a customer whose data the support app may read, and a made-up purpose
    gw = gateway
    cid, values = add_person(gw)
    pseudonym = gw.pseudonym(cid, "support")
    gw.post(PROFILE, app="support", purpose="support", variables={"id": pseudonym})
    gw.post(PROFILE, purpose="free-text-purpose-5f1c", variables={"id": gw.pseudonym(cid)})

    # when
    text = gw.client.get("/metrics").text

    # then
    for secret in (values["email"], values["first_name"], values["city"], pseudonym,
                   "free-text-purpose-5f1c"):
        assert secret not in text
    assert not re.search(rf'"{cid}"', text)
    assert 'purpose="unknown"' in text  # control: the request with that purpose was counted
