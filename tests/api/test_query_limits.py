"""Depth, directives and introspection: one stable code per limit, one error per request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.config import Settings
from tests.api.support import codes, post_raw
from tests.databases import DatabaseFactory
from tests.harness import Gateway

GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}


def _nested_type(levels: int) -> str:
    """`__type` nested `levels` deep through `ofType` (depth = levels + 1)."""
    inner = "name"
    for _ in range(levels):
        inner = f"ofType {{ {inner} }}"
    return f'{{ __type(name: "Customer") {{ fields {{ type {{ {inner} }} }} }} }}'


def _spread_bomb(width: int, levels: int) -> str:
    """Fragments that each spread the next `width` times: width**levels fields expanded."""
    fragments = [f"fragment F{levels} on Query {{ a: __typename }}"]
    for level in range(levels - 1, -1, -1):
        spreads = " ".join(f"...F{level + 1}" for _ in range(width))
        fragments.append(f"fragment F{level} on Query {{ {spreads} }}")
    return "{ ...F0 } " + " ".join(fragments)


@pytest.fixture(scope="module")
def open_gw(databases: DatabaseFactory, template_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with introspection on (as `make demo` runs)."""
    gw = Gateway.start(databases.new(template_url), tmp_path_factory.mktemp("intro"),
                       introspection=True)
    yield gw
    gw.close()


def test_introspection_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("GATEWAY_INTROSPECTION", raising=False)

    # then
    assert Settings().introspection is False
    assert Settings.from_env().introspection is False


def test_introspection_off_answers_one_error_per_request(gw: Gateway) -> None:
    # given: many introspection fields in one document
    query = ("{ __schema { types { name fields { name } } queryType { name } } "
             '__type(name: "Customer") { name } a: __type(name: "Query") { name } }')

    # when
    response = gw.post(query, headers=GRAPHQL_RESPONSE)

    # then
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert codes(body) == ["INTROSPECTION_DISABLED"]
    assert "Customer" not in response.text


def test_typename_stays_allowed_with_introspection_off(gw: Gateway) -> None:
    assert gw.post("{ __typename }").json() == {"data": {"__typename": "Query"}}


def test_introspection_on_answers_the_schema(open_gw: Gateway) -> None:
    # when
    response = open_gw.post("{ __schema { queryType { name } } }")

    # then
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_depth_counts_introspection_at_the_default_limit(open_gw: Gateway) -> None:
    # given: the default limit is 8
    assert Settings().max_query_depth == 8
    deepest_allowed, too_deep = _nested_type(5), _nested_type(6)

    # when
    allowed = open_gw.post(deepest_allowed)
    refused = open_gw.post(too_deep, headers=GRAPHQL_RESPONSE)

    # then
    assert "errors" not in allowed.json()
    assert refused.status_code == 400
    assert codes(refused.json()) == ["QUERY_TOO_DEEP"]
    assert "at most 8" in refused.json()["errors"][0]["message"]


def test_depth_through_fragments_is_counted(open_gw: Gateway) -> None:
    # given: the same nesting as a 7-level query, split over fragments and an inline fragment
    query = ('{ ...Root } fragment Root on Query { __type(name: "Customer") { ...Fields } } '
             "fragment Fields on __Type { fields { type { ... on __Type { ofType { ofType { "
             "ofType { ofType { ofType { ofType { name } } } } } } } } } }")

    # when
    response = open_gw.post(query, headers=GRAPHQL_RESPONSE)

    # then
    assert codes(response.json()) == ["QUERY_TOO_DEEP"]


def test_a_fragment_bomb_is_measured_at_once(gw: Gateway) -> None:
    # given: 8**6 (262,144) aliases once the spreads are expanded, in a few hundred tokens
    query = _spread_bomb(8, 6)

    # when
    response = gw.post(query, headers=GRAPHQL_RESPONSE)

    # then
    assert response.status_code == 400
    assert codes(response.json()) == ["TOO_MANY_ALIASES"]


def test_too_many_directives_is_one_error(gw: Gateway) -> None:
    # given: 21 directives, known and unknown, and a repeated one
    fields = " ".join(f"f{i}: __typename @skip(if: false)" for i in range(15))
    query = "{ " + fields + " __typename @aa @bb @cc @skip(if: true) @skip(if: true) @dd }"

    # when
    response = gw.post(query, headers=GRAPHQL_RESPONSE)

    # then
    assert response.status_code == 400
    assert codes(response.json()) == ["TOO_MANY_DIRECTIVES"]


def test_a_few_unknown_or_repeated_directives_are_bad_requests(gw: Gateway) -> None:
    # given: under the limit (control of the test above)
    query = "{ __typename @aa @skip(if: true) @skip(if: true) }"

    # when
    response = gw.post(query)

    # then
    assert codes(response.json()) == ["BAD_REQUEST", "BAD_REQUEST"]
    assert "data" not in response.json()


def test_every_limit_has_its_own_code_under_graphql_response(gw: Gateway) -> None:
    # given
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    tokens = "{ " + "__typename " * 4100 + "}"

    # when
    answers = [post_raw(gw, f'{{"query": "{q}"}}'.encode(), headers=GRAPHQL_RESPONSE)
               for q in (aliases, tokens)]

    # then
    assert [a.status_code for a in answers] == [400, 400]
    assert [codes(a.json()) for a in answers] == [["TOO_MANY_ALIASES"], ["TOO_MANY_TOKENS"]]
