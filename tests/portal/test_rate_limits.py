"""Sign-in rate limits shared by every worker through Redis, and what happens without it."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from gateway.portal.ratelimit import SignInLimits
from gateway.portal.settings import PortalSettings
from tests.api.support import add_person
from tests.databases import DatabaseFactory
from tests.harness import Gateway
from tests.ops.test_rate_limits import REDIS, _redis_or_skip
from tests.portal.support import browser, csrf_of, portal_web

TIGHT = PortalSettings(rate_per_address="2/minute", rate_per_ip="3/minute")


def test_two_workers_count_one_address_and_one_ip_together() -> None:
    # given: two workers' limiters on one Redis (a namespace of this test's own)
    _redis_or_skip()
    namespace = uuid.uuid4().hex
    one, two = (SignInLimits(TIGHT, REDIS, namespace) for _ in range(2))
    # when: the same address is asked for through each worker in turn
    by_address = [one.allow("link", "digest-a", "10.9.0.1"), two.allow("link", "digest-a", "10.9.0.2"),
                  one.allow("link", "digest-a", "10.9.0.3")]
    # and: one IP asks for other addresses through both
    by_ip = [w.allow("code", f"digest-{i}", "10.9.9.9") for i, w in enumerate((one, two, one, two))]
    # then: the limits hold across the workers, not per worker
    assert by_address == [True, True, False]
    assert by_ip == [True, True, True, False]
    # and: another namespace (another deployment on the same Redis) counts apart
    assert SignInLimits(TIGHT, REDIS, uuid.uuid4().hex).allow("link", "digest-a", "10.9.0.1")


def test_an_unreachable_storage_counts_in_the_worker_instead(caplog: pytest.LogCaptureFixture) -> None:
    # given: nothing listens where the shared storage should be
    limits = SignInLimits(TIGHT, "redis://127.0.0.1:9/0", uuid.uuid4().hex)
    # when
    with caplog.at_level(logging.WARNING, logger="gateway.portal"):
        answers = [limits.allow("link", "digest-b", "10.8.0.1") for _ in range(3)]
    # then: still limited (neither open nor closed), and said
    assert answers == [True, True, False]
    assert "counting in this process" in caplog.text and "digest-b" not in caplog.text


def test_the_portal_of_two_gateways_shares_the_limit_of_one_address(
    databases: DatabaseFactory, template_url: str, tmp_path: Path,
) -> None:
    # given: two gateways (as two workers) on one database, their limiter storage one Redis
    _redis_or_skip()
    url = databases.new(template_url)
    settings = {"rate_limit_storage": REDIS, "rate_limit_namespace": uuid.uuid4().hex}
    one = Gateway.start(url, tmp_path / "one", **settings)
    two = Gateway.start(url, tmp_path / "two", **settings)
    try:
        _, values = add_person(one)
        clients = [browser(gw, client=(f"10.7.0.{i}", 5000)) for i, gw in enumerate((one, two))]
        tokens = [csrf_of(c.get("/portal/login")) for c in clients]
        # when: six link requests for one address, alternating between the gateways
        statuses = [clients[i % 2].post("/portal/login", data={"csrf": tokens[i % 2],
                                                               "email": values["email"]}).status_code
                    for i in range(6)]
        for gw in (one, two):
            portal_web(gw).dispatcher.drain()
    finally:
        one.close()
        two.close()
    # then: five in all (the address's limit), not five per gateway
    assert statuses == [200] * 5 + [429]
