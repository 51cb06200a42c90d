"""Rate limits and quotas per app and role: 429 with Retry-After, shared through Redis."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.api.support import audit_count, codes
from tests.databases import IN_CI, DatabaseFactory
from tests.harness import REPO, Gateway

REDIS = "redis://127.0.0.1:6379/0"
TYPENAME = "{ __typename }"
PAGE = "{ customers(first: 10) { nodes { id firstName } } }"
LIMITS = """
default: {requests: 1000/second, rows: 100000/minute}
roles:
  marketing: {requests: 3/minute}
  support: {requests: 1000/second, rows: 15/minute}
"""


def _policies(tmp_path: Path) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "limits.yaml").write_text(LIMITS)
    return policies


@pytest.fixture
def limited(databases: DatabaseFactory, template_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway with tight limits (memory storage: this process only)."""
    gw = Gateway.start(databases.new(template_url), tmp_path, rate_limits=True,
                       policy_dir=_policies(tmp_path))
    yield gw
    gw.close()


def test_over_the_request_rate_is_429_with_retry_after(limited: Gateway) -> None:
    # given: marketing apps may send 3 requests a minute
    answers = [limited.post(TYPENAME) for _ in range(3)]
    before = audit_count(limited)

    # when
    refused = limited.post(TYPENAME)

    # then: refused before anything ran (no audit entry), told when to retry
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert refused.status_code == 429
    assert codes(refused.json()) == ["RATE_LIMITED"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert audit_count(limited) == before


def test_limits_are_per_app_and_per_role(limited: Gateway) -> None:
    # given: one marketing app used up its rate
    for _ in range(4):
        limited.post(TYPENAME)
    other_key = limited.add_app("marketing", "second-marketing-app")

    # when
    same_role_other_app = limited.post(TYPENAME, app="second-marketing-app")
    other_role = limited.post(TYPENAME, app="analytics", purpose="analytics")

    # then
    assert other_key
    assert same_role_other_app.status_code == other_role.status_code == 200


def test_personal_rows_past_the_quota_are_429(limited: Gateway) -> None:
    # given: support apps may read 15 customers' data a minute; two pages of 10 use it up
    first = limited.post(PAGE, app="support", purpose="support")
    second = limited.post(PAGE, app="support", purpose="support")

    # when
    refused = limited.post(PAGE, app="support", purpose="support")
    typename = limited.post(TYPENAME, app="support", purpose="support")

    # then: the third read is refused (and so is any request until the window frees)
    assert first.status_code == second.status_code == 200
    assert len(first.json()["data"]["customers"]["nodes"]) == 10
    assert refused.status_code == typename.status_code == 429
    assert codes(refused.json()) == ["QUOTA_EXCEEDED"]
    assert int(refused.headers["Retry-After"]) >= 1


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")


def test_two_workers_share_the_limits_through_redis(
    databases: DatabaseFactory, template_url: str, tmp_path: Path
) -> None:
    # given: two gateway processes' worth of services on one database and one Redis
    _redis_or_skip()
    url = databases.new(template_url)
    settings = {"rate_limits": True, "policy_dir": _policies(tmp_path),
                "rate_limit_storage": REDIS, "rate_limit_namespace": uuid.uuid4().hex}
    one = Gateway.start(url, tmp_path / "one", **settings)
    two = Gateway.start(url, tmp_path / "two", **settings)
    two.keys, two.callers = one.keys, one.callers  # the same apps
    try:
        # when: 2 requests through one, 1 through the other, then one more through each
        answers = [one.post(TYPENAME), one.post(TYPENAME), two.post(TYPENAME)]
        late = [one.post(TYPENAME), two.post(TYPENAME)]
    finally:
        one.close()
        two.close()

    # then: the third request used the shared budget up
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.status_code for a in late] == [429, 429]


def test_an_unreachable_storage_lets_requests_through(
    databases: DatabaseFactory, template_url: str, tmp_path: Path
) -> None:
    # given: nothing listens where the limiter's storage should be
    gw = Gateway.start(databases.new(template_url), tmp_path, rate_limits=True,
                       policy_dir=_policies(tmp_path),
                       rate_limit_storage="redis://127.0.0.1:9/0")
    try:
        # when
        answers = [gw.post(TYPENAME) for _ in range(5)]
        ready = gw.client.get("/readyz").json()
    finally:
        gw.close()

    # then: limits protect capacity, not privacy: fail open, and say so
    assert [a.status_code for a in answers] == [200] * 5
    assert ready["rate_limit_storage"] == "down"
