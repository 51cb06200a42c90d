"""The organisation's policy: which fields a role may use for a purpose."""

from __future__ import annotations

import pytest

from gateway.profile.fields import CUSTOMER_FIELDS, NESTED
from tests.api.support import add_person, errors_by_path
from tests.harness import Gateway

_NESTED_PICK = {"orders": "number", "interactions": "kind", "consents": "purpose",
                "channels": "channel", "sources": "source"}
PERSONAL_FIELDS = tuple(spec.name for spec in CUSTOMER_FIELDS)
ALL_PERSONAL_FIELDS = (
    "query($id: ID!) { customer(id: $id) { id "
    + " ".join(f"{n} {{ {_NESTED_PICK[n]} }}" if n in NESTED else n for n in PERSONAL_FIELDS)
    + " } }"
)
CUSTOMER = (
    "query($id: ID!) { customer(id: $id) { id firstName lastName email city country "
    "totalSpent loyaltyPoints lifecycleStage interests } }"
)
IN_CITY = (
    "query($city: String!) { customers(filter: {city: $city}) "
    "{ nodes { id firstName lastName city totalSpent rfmSegment } } }"
)


def test_allowed_fields_have_values(gw: Gateway) -> None:
    # given
    cid, values = add_person(gw, total_spent_cents=12345, loyalty_points=77,
                             lifecycle_stage="active", interests=["books", "tea"])
    gw.consent(cid, "marketing_email")

    # when
    response = gw.post(CUSTOMER, app="marketing", purpose="marketing_email",
                       variables={"id": gw.pseudonym(cid)})

    # then
    body = response.json()
    assert "errors" not in body
    customer = body["data"]["customer"]
    assert customer == {
        "id": gw.pseudonym(cid),
        "firstName": values["first_name"],
        "lastName": values["last_name"],
        "email": values["email"],
        "city": values["city"],
        "country": "GB",
        "totalSpent": "123.45",
        "loyaltyPoints": 77,
        "lifecycleStage": "active",
        "interests": ["books", "tea"],
    }


def test_analytics_gets_no_names(gw: Gateway) -> None:
    # given: analytics works on legitimate interest, so no consent is needed
    _cid, values = add_person(gw, rfm_segment="loyal")

    # when
    response = gw.post(IN_CITY, app="analytics", purpose="analytics",
                       variables={"city": values["city"]})

    # then
    body = response.json()
    [node] = body["data"]["customers"]["nodes"]
    assert node["firstName"] is None
    assert node["lastName"] is None
    assert node["city"] == values["city"]
    assert node["rfmSegment"] == "loyal"
    assert errors_by_path(body) == {
        ("customers", "nodes", 0, "firstName"): "POLICY_DENIED",
        ("customers", "nodes", 0, "lastName"): "POLICY_DENIED",
    }


def test_policy_denial_message_is_generic(gw: Gateway) -> None:
    # given
    _cid, values = add_person(gw)

    # when
    response = gw.post(IN_CITY, app="analytics", purpose="analytics",
                       variables={"city": values["city"]})

    # then
    [error, _] = response.json()["errors"]
    assert error["message"] == "Withheld: the policy does not allow this field for this purpose."
    assert error["extensions"] == {"code": "POLICY_DENIED"}


@pytest.mark.parametrize(
    ("role", "purpose"),
    [("support", "marketing_email"), ("marketing", "support"), ("analytics", "compliance_audit"),
     ("linkage", "analytics"), ("compliance_officer", "marketing_email")],
)
def test_purpose_without_rules_is_refused_as_a_whole(
    gw: Gateway, role: str, purpose: str
) -> None:
    # given: the customer's own choices would allow every purpose here
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when: reading one customer, and listing, under a purpose the role may not use at all
    one = gw.post(ALL_PERSONAL_FIELDS, app=role, purpose=purpose,
                  variables={"id": gw.pseudonym(cid, role)}).json()
    listed = gw.post("{ customers(first: 5) { totalCount nodes { id } } }",
                     app=role, purpose=purpose).json()

    # then: refused as a whole (minimisation): no pseudonym, no count, no node
    assert one["data"] == {"customer": None}
    assert errors_by_path(one) == {("customer",): "POLICY_DENIED"}
    assert listed["data"] is None
    assert errors_by_path(listed) == {("customers",): "POLICY_DENIED"}


def test_purpose_of_the_role_is_not_refused_as_a_whole(gw: Gateway) -> None:
    # given: the control: a purpose the role works for
    cid, _ = add_person(gw)
    gw.consent(cid, "marketing_email")

    # when
    body = gw.post(ALL_PERSONAL_FIELDS, app="marketing", purpose="marketing_email",
                   variables={"id": gw.pseudonym(cid)}).json()

    # then: the customer is answered
    assert body["data"]["customer"]["id"] == gw.pseudonym(cid)
