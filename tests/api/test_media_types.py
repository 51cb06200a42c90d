"""GraphQL over HTTP: what a POST must be, what the answer is, and when nothing runs."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from tests.api.support import GRAPHQL, add_person, audit_count, codes, post_raw
from tests.consent.http import RECORD_OBJECTION, ledger_counts
from tests.databases import DatabaseFactory
from tests.harness import Gateway

TYPENAME = b'{"query": "{ __typename }"}'
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _objection(gw: Gateway, app: str = "call_center") -> bytes:
    cid, _ = add_person(gw)
    given = {"customerId": gw.pseudonym(cid, app), "scope": "direct_marketing",
             "objected": True, "sourceChannel": "call_center"}
    return orjson.dumps({"query": RECORD_OBJECTION, "variables": {"input": given}})


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/graphql", "application/json; charset=latin-1",
])
def test_a_mutation_in_another_media_type_is_415_and_changes_nothing(
    gw: Gateway, content_type: str
) -> None:
    # given: a mutation that would record an objection
    body = _objection(gw)
    before = (ledger_counts(gw), audit_count(gw))

    # when
    response = post_raw(gw, body, app="call_center",
                        headers={"Content-Type": content_type, "X-Purpose": "support"})

    # then
    assert response.status_code == 415
    assert codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert (ledger_counts(gw), audit_count(gw)) == before


def test_the_same_mutation_as_json_runs(gw: Gateway) -> None:
    # given: the control of the test above
    body = _objection(gw)
    before = ledger_counts(gw)

    # when
    response = post_raw(gw, body, app="call_center", headers={"X-Purpose": "support"})

    # then
    assert response.status_code == 200
    assert response.json()["data"]["recordObjection"]["__typename"] == "RecordObjectionSuccess"
    assert ledger_counts(gw) != before


def test_a_post_without_content_type_is_415(gw: Gateway) -> None:
    # given
    headers = {"Authorization": f"Bearer {gw.keys['marketing']}"}

    # when
    response = gw.client.post(GRAPHQL, content=TYPENAME, headers=headers)

    # then
    assert response.status_code == 415


@pytest.mark.parametrize(("accept", "media"), [
    (None, "application/json"),
    ("*/*", "application/json"),
    ("application/json", "application/json"),
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
    (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
])
def test_the_answer_is_in_the_media_type_the_client_prefers(
    gw: Gateway, accept: str | None, media: str
) -> None:
    # given
    headers = {"Accept": accept} if accept else {}

    # when
    response = post_raw(gw, TYPENAME, headers=headers)

    # then
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media


def test_a_client_accepting_no_json_is_406(gw: Gateway) -> None:
    # when
    response = post_raw(gw, TYPENAME, headers={"Accept": "text/html"})

    # then
    assert response.status_code == 406
    assert codes(response.json()) == ["NOT_ACCEPTABLE"]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
def test_request_errors_are_400_and_document_errors_follow_the_media_type(
    gw: Gateway, accept: str
) -> None:
    # given
    headers = {"Accept": accept}

    # when
    broken_json = post_raw(gw, b'{ "not a JSON', headers=headers)
    bad_extensions = post_raw(gw, b'{"query": "{ __typename }", "extensions": "x"}', headers=headers)
    syntax = post_raw(gw, b'{"query": "{"}', headers=headers)
    invalid = post_raw(gw, b'{"query": "{ nothingHere }"}', headers=headers)

    # then: under graphql-response+json a document that never ran is 400 without `data`
    assert broken_json.status_code == bad_extensions.status_code == 400
    document_status = 400 if accept == GRAPHQL_RESPONSE else 200
    assert syntax.status_code == invalid.status_code == document_status
    assert "data" not in syntax.json() and "data" not in invalid.json()


def test_an_extensions_map_and_null_parameters_are_accepted(gw: Gateway) -> None:
    # when
    mapped = post_raw(gw, b'{"query": "{ __typename }", "extensions": {"some": "value"}}')
    nulls = post_raw(gw, b'{"query": "{ __typename }", "variables": null, '
                         b'"operationName": null, "extensions": null}')

    # then
    assert mapped.json() == nulls.json() == {"data": {"__typename": "Query"}}


@pytest.fixture(scope="module")
def get_gateway(databases: DatabaseFactory, template_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with GATEWAY_HTTP_GET on."""
    gw = Gateway.start(databases.new(template_url), tmp_path_factory.mktemp("get"), http_get=True)
    yield gw
    gw.close()


def test_get_runs_queries_when_enabled_and_never_mutations(get_gateway: Gateway) -> None:
    # given
    gw = get_gateway
    headers = {"Authorization": f"Bearer {gw.keys['support']}", "X-Purpose": "support"}
    mutation = "mutation { recordObjection(input: {customerId: \"x\", scope: \"direct_marketing\", " \
        "objected: true, sourceChannel: \"call_center\"}) { __typename } }"

    # when
    query = gw.client.get(GRAPHQL, params={"query": "{ __typename }"}, headers=headers)
    refused = gw.client.get(GRAPHQL, params={"query": mutation}, headers=headers)

    # then
    assert query.json() == {"data": {"__typename": "Query"}}
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "POST"
