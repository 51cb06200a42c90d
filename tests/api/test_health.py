"""The health check."""

from __future__ import annotations

from tests.harness import Gateway


def test_healthz_is_ok(gw: Gateway) -> None:
    # given: a running gateway; no key is needed

    # when
    response = gw.client.get("/healthz")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
