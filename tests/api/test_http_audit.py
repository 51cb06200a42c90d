"""The GraphQL-over-HTTP audit suite (npm `graphql-http`) against a running gateway.

`make test` installs the pinned package (tests/http_audit/package-lock.json) into the
git-ignored `.cache/node`; without node or that folder the test is skipped (fails in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.databases import IN_CI, DatabaseFactory
from tests.harness import REPO, Gateway
from tests.live import live_server

NODE_MODULES = REPO / ".cache" / "node" / "node_modules"
RUNNER = REPO / "tests" / "http_audit" / "run.cjs"
GET_MAYS = {"5A70", "D6D5", "6A70"}  # GET requests: off by default (URLs end up in logs)
# The two audits of a `variables` map ask `__type(name: $name)`: introspection, off by default.
INTROSPECTION_AUDITS = {"28B9", "2EA1"}


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "graphql-http").is_dir():
        reason = "node or .cache/node/node_modules/graphql-http missing (make test installs it)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def run_audit(url: str, key: str) -> list[dict[str, Any]]:
    """Every audit's result for the server at `url` (GraphQL at /graphql)."""
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    done = subprocess.run([_node(), str(RUNNER), f"{url}/graphql", key], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _failing(results: list[dict[str, Any]]) -> dict[str, str]:
    return {r["id"]: f"{r['name']}: {r.get('reason')}" for r in results if r["status"] != "ok"}


@pytest.fixture(scope="module")
def audit_key(gateway: Gateway) -> str:
    return gateway.add_app("marketing", "graphql-http-audit")


@pytest.mark.parametrize(("config", "get", "expected_failures"),
                         [("demo", False, GET_MAYS), ("demo", True, set()),
                          ("defaults", False, GET_MAYS | INTROSPECTION_AUDITS)],
                         ids=["demo", "with-get", "defaults"])
def test_every_must_and_should_passes(
    gateway: Gateway, databases: DatabaseFactory, audit_key: str, tmp_path: Path,
    config: str, get: bool, expected_failures: set[str],
) -> None:
    # given: the demo's configuration (introspection on, as `make demo`), or the production
    # defaults (introspection off; rate limits off in both: 61 requests in a burst would meet
    # the per-second limit of policies/limits.yaml, 429, and that is not what is audited)
    if databases.backend != "sqlite":
        pytest.skip("the HTTP layer does not depend on the backend; run once")
    _node()
    env = {"GATEWAY_INTROSPECTION": "true", "GATEWAY_HTTP_GET": "true" if get else "false",
           "GATEWAY_RATE_LIMITS": "off"}  # 61 requests at once: the HTTP rules, not limits
    if config == "defaults":
        env = {"GATEWAY_RATE_LIMITS": "off"}

    # when
    with live_server(gateway.url, tmp_path, **env) as server:
        results = run_audit(server.url, audit_key)

    # then: 61 audits; with GET off only its three MAYs fail; with introspection off also the
    # two that ask `__type`, refused with the introspection error
    assert len(results) == 61
    failing = _failing(results)
    assert set(failing) == expected_failures, json.dumps(failing, indent=1)
    print(f"graphql-http audit ({config}): {61 - len(failing)} of 61 passing "
          f"(GET {'on' if get else 'off'})")
