"""Property-based API test (schemathesis): generated queries and mutations over the SDL.

A bounded run (about 300 cases, derandomized for CI), each sent with an app key and a
purpose of that app: no 5xx, no INTERNAL, and every answer fits the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.shape import violations
from tests.databases import DatabaseFactory
from tests.harness import REPO, Gateway

SDL = (REPO / "schema" / "schema.graphql").read_text()
SCHEMA = schemathesis.graphql.from_file(SDL)
GRAPHQL = build_schema(SDL)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CALLERS = [("marketing", "marketing_email"), ("support", "support"),
           ("call_center", "support"), ("compliance_officer", "compliance_audit"),
           ("analytics", "analytics")]
CASES_PER_OPERATION = 13  # x 23 root fields: about 300 cases


@pytest.fixture(scope="module")
def own_gateway(databases: DatabaseFactory, template_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of this module's own: generated mutations change nothing another test sees."""
    gw = Gateway.start(databases.new(template_url), tmp_path_factory.mktemp("fuzz"))
    yield gw
    gw.close()


def test_the_shape_check_finds_a_violation() -> None:
    # the control of the test below
    query = "{ customers(first: 1) { totalCount nodes { id } } }"
    assert violations(GRAPHQL, query, {"data": {"customers": {"totalCount": "3", "nodes": []}}})
    assert violations(GRAPHQL, query, {"data": {"customers": {"totalCount": 3, "nodes": None}}})
    assert not violations(GRAPHQL, query, {"data": {"customers": {"totalCount": 3, "nodes": []}}})


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_generated_requests_get_no_5xx_no_internal_and_fit_the_schema(
    own_gateway: Gateway, operation: Any
) -> None:
    gw = own_gateway
    seen: list[str] = []

    @settings(max_examples=CASES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), caller=st.sampled_from(CALLERS))
    def check(case: Any, caller: tuple[str, str]) -> None:
        query = case.body if isinstance(case.body, str) else case.body["query"]
        app, purpose = caller
        response = gw.post(query, app=app, purpose=purpose)
        seen.append(query)
        assert response.status_code < 500, (query, response.text[:500])
        body = response.json()
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert "INTERNAL" not in codes, (query, body)
        assert violations(GRAPHQL, query, body) == [], (query, body)

    check()
    assert seen
