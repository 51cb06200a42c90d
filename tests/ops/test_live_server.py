"""A real server with two uvicorn workers: JSON logs, merged metrics, graceful shutdown."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from gateway.audit.tables import audit_events
from tests.api.support import add_person, audit_count
from tests.databases import DatabaseFactory
from tests.harness import Gateway
from tests.live import LiveServer, live_server, stop

PAGE = "{ customers(first: 50) { nodes { id firstName email city orders { total } } } }"


@pytest.fixture(scope="module")
def two_workers(gateway: Gateway, databases: DatabaseFactory,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, LiveServer]]:
    """The session's database served by `consent-gateway serve --workers 2`."""
    if databases.backend != "sqlite":
        pytest.skip("process behaviour does not depend on the backend; run once")
    with live_server(gateway.url, tmp_path_factory.mktemp("live"), workers=2,
                     ready_path="/readyz", GATEWAY_LOG_LEVEL="info") as server:
        yield gateway, server


def _post(server: LiveServer, key: str, query: str, purpose: str = "support") -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json={"query": query}, timeout=30,
                      headers={"Authorization": f"Bearer {key}", "X-Purpose": purpose})


def _log_lines(server: LiveServer) -> list[dict[str, Any]]:
    lines = []
    for raw in server.output().splitlines():
        assert raw.startswith("{"), f"not a JSON log line: {raw[:200]}"
        lines.append(json.loads(raw))
    return lines


def test_logs_are_json_with_request_id_app_and_purpose_and_no_personal_data(
    two_workers: tuple[Gateway, LiveServer],
) -> None:
    # given: a customer the support app reads
    gw, server = two_workers
    cid, values = add_person(gw)
    query = f'{{ customer(id: "{gw.pseudonym(cid, "support")}") {{ firstName lastName }} }}'

    # when
    response = _post(server, gw.keys["support"], query)
    request_id = response.headers["X-Request-Id"]
    time.sleep(0.3)
    lines = _log_lines(server)

    # then
    assert response.json()["data"]["customer"]["firstName"] == values["first_name"]  # control
    [line] = [entry for entry in lines if entry.get("request_id") == request_id]
    assert line["app"] == gw.callers["support"].name
    assert line["purpose"] == "support" and line["operation"] == "customer"
    assert line["status"] == 200 and line["rows"] == 1
    text = server.output()
    for secret in (values["last_name"], values["first_name"], gw.pseudonym(cid, "support"),
                   '"POST /graphql'):  # the last: uvicorn's access line, with the address
        assert secret not in text
    assert "Policy:" not in text and "p : p :" not in text  # casbin's start-up dump


def test_metrics_merge_both_workers(two_workers: tuple[Gateway, LiveServer]) -> None:
    # given
    gw, server = two_workers
    app = gw.callers["analytics"].name

    # when: enough requests that both workers answer some
    for _ in range(20):
        _post(server, gw.keys["analytics"], "{ __typename }", purpose="analytics")
    text = httpx.get(f"{server.url}/metrics").text

    # then: every one of them is counted, whichever worker scraped
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("gateway_requests_total{") and f'app="{app}"' in line)
    assert counted >= 20
    assert re.search(r"^gateway_db_pool_in_use ", text, re.MULTILINE) or "gateway_db_pool" in text


def _entries_of(gateway: Gateway, actor: str) -> int:
    with gateway.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)
                                .where(audit_events.c.actor == actor)).scalar_one())


def test_sigterm_finishes_in_flight_requests_and_their_audit_entries(
    gateway: Gateway, databases: DatabaseFactory, tmp_path: Path,
) -> None:
    # given: a server under load from 6 clients of one app of their own
    if databases.backend != "sqlite":
        pytest.skip("process behaviour does not depend on the backend; run once")
    key = gateway.add_app("support", "shutdown-probe")
    answered: list[httpx.Response] = []
    refused: list[str] = []
    stop_at = time.monotonic() + 120
    stopping = threading.Event()

    def client(server: LiveServer) -> None:
        while time.monotonic() < stop_at:
            try:
                answered.append(_post(server, key, PAGE))
            except httpx.TransportError as exc:
                # After SIGTERM the listener closes: a connection still in the kernel's accept
                # queue is refused or reset before any byte of it is read.
                refused.append(f"{type(exc).__name__}{'' if stopping.is_set() else ' early'}")
                return

    with live_server(gateway.url, tmp_path, workers=2, ready_path="/readyz") as server:
        threads = [threading.Thread(target=client, args=(server,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        while len(answered) < 12 and time.monotonic() < stop_at:
            time.sleep(0.1)  # under way on both workers (a loaded machine takes its time)

        # when
        stopping.set()
        code = stop(server)
        for thread in threads:
            thread.join(30)

    # then: each request the gateway ran got its whole answer, and each answer its entry
    assert code == 0
    assert not [r for r in refused if r.endswith("early")]
    assert len(answered) > 6
    assert {r.status_code for r in answered} == {200}
    assert all(audit_count(gateway, r.headers["X-Request-Id"]) == 1 for r in answered)
    assert _entries_of(gateway, "shutdown-probe") == len(answered)
