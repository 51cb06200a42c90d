"""Authentication: no valid app key, no answer but a bare 401."""

from __future__ import annotations

import secrets

import httpx2
import pytest

from tests.api.support import GRAPHQL, audit_count
from tests.harness import Gateway

CUSTOMERS = "{ customers(first: 1) { nodes { id firstName email } } }"
TYPENAME = "{ __typename }"


def _assert_unauthenticated(response: httpx2.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert set(body) == {"errors"}
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert set(error) == {"message", "extensions"}
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}


def test_missing_key_is_unauthenticated(gw: Gateway) -> None:
    # given
    headers = {"X-Purpose": "marketing_email"}

    # when
    response = gw.client.post(GRAPHQL, json={"query": CUSTOMERS}, headers=headers)

    # then
    _assert_unauthenticated(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token cgw_abcdefghijklmnopqrstuvwxyz",
        "cgw_abcdefghijklmnopqrstuvwxyz",
        "Bearer not-a-gateway-key",
        "Bearer cgw_" + "a" * 200,
    ],
    ids=["empty", "scheme-only", "scheme-blank", "basic", "other-scheme", "no-scheme",
         "no-prefix", "too-long"],
)
def test_malformed_key_is_unauthenticated(gw: Gateway, authorization: str) -> None:
    # given
    headers = {"Authorization": authorization, "X-Purpose": "marketing_email"}

    # when
    response = gw.client.post(GRAPHQL, json={"query": CUSTOMERS}, headers=headers)

    # then
    _assert_unauthenticated(response)


def test_unknown_key_is_unauthenticated(gw: Gateway) -> None:
    # given: well-formed, but never issued
    headers = {"Authorization": f"Bearer cgw_{secrets.token_urlsafe(32)}",
               "X-Purpose": "marketing_email"}

    # when
    response = gw.client.post(GRAPHQL, json={"query": CUSTOMERS}, headers=headers)

    # then
    _assert_unauthenticated(response)


def test_unauthenticated_even_for_a_query_without_personal_data(gw: Gateway) -> None:
    # given
    headers = {"X-Purpose": "marketing_email"}

    # when
    response = gw.client.post(GRAPHQL, json={"query": TYPENAME}, headers=headers)

    # then
    _assert_unauthenticated(response)


def test_unauthenticated_request_is_not_executed(gw: Gateway) -> None:
    # given
    before = audit_count(gw)

    # when
    response = gw.client.post(GRAPHQL, json={"query": CUSTOMERS})

    # then: no execution, so no audit entry (the request id is for the logs only)
    _assert_unauthenticated(response)
    assert response.headers["X-Request-Id"]
    assert audit_count(gw) == before


def test_valid_key_is_accepted(gw: Gateway) -> None:
    # given
    headers = {"Authorization": f"Bearer {gw.keys['marketing']}"}

    # when
    response = gw.client.post(GRAPHQL, json={"query": TYPENAME}, headers=headers)

    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
