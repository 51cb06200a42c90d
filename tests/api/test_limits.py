"""Request limits: aliases, tokens and body size, refused before any data is read."""

from __future__ import annotations

from tests.api.support import audit_count, codes
from tests.harness import Gateway

ALIASES_30 = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
ALIASES_31 = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
CUSTOMER_ALIASES_31 = (
    "{ " + " ".join(f"c{i}: customers(first: 1) {{ totalCount }}" for i in range(31)) + " }"
)
TOO_MANY_TOKENS = "{ customers(first: 1) { nodes { " + "id " * 4100 + "} } }"
TYPENAME = "{ __typename }"
BODY_70_KB = TYPENAME + " " * (70 * 1024)
BODY_60_KB = TYPENAME + " " * (60 * 1024)


def test_thirty_aliases_are_allowed(gw: Gateway) -> None:
    # given
    query = ALIASES_30

    # when
    response = gw.post(query)

    # then
    body = response.json()
    assert "errors" not in body
    assert len(body["data"]) == 30


def test_more_than_thirty_aliases_are_refused(gw: Gateway) -> None:
    # given
    query = ALIASES_31

    # when
    response = gw.post(query)

    # then
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["TOO_MANY_ALIASES"]
    assert "at most 30 are allowed" in body["errors"][0]["message"]


def test_alias_limit_stops_personal_reads_before_execution(gw: Gateway) -> None:
    # given
    query = CUSTOMER_ALIASES_31

    # when
    response = gw.post(query)

    # then: nothing was read, so the entry names no subject
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["TOO_MANY_ALIASES"]
    entry = gw.audit_entry(response.headers["X-Request-Id"])
    assert entry.subjects == []
    assert entry.operation is None


def test_too_many_tokens_are_refused(gw: Gateway) -> None:
    # given
    query = TOO_MANY_TOKENS

    # when
    response = gw.post(query)

    # then
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["TOO_MANY_TOKENS"]
    assert body["errors"][0]["message"] == "The query is too long: at most 4000 tokens are allowed."


def test_body_over_the_limit_is_request_too_large(gw: Gateway) -> None:
    # given
    before = audit_count(gw)

    # when
    response = gw.post(BODY_70_KB)

    # then
    assert response.status_code == 413
    assert response.json() == {"errors": [{
        "message": "the request body is limited to 65536 bytes",
        "extensions": {"code": "REQUEST_TOO_LARGE"},
    }]}
    assert audit_count(gw) == before


def test_body_over_the_limit_is_refused_before_authentication(gw: Gateway) -> None:
    # given: no key at all
    body = {"query": BODY_70_KB}

    # when
    response = gw.client.post("/graphql", json=body)

    # then
    assert response.status_code == 413
    assert codes(response.json()) == ["REQUEST_TOO_LARGE"]


def test_body_under_the_limit_is_answered(gw: Gateway) -> None:
    # given
    query = BODY_60_KB

    # when
    response = gw.post(query)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
