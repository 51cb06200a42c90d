"""No sign-in token, code, session cookie, email address or phone number in the logs of a
real server: `consent-gateway serve` at debug level, and plain `uvicorn` with its own
default logging (access log on), each taken through sign-in by link and by SMS code."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.ops.logs import RedactAccessLog, redact_path
from tests.api.support import add_person
from tests.harness import Gateway
from tests.live import LiveServer, _wait_ready, free_port, live_server, server_env, stop
from tests.portal.support import CSRF


def _outbox(path: Path, ref: str, channel: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in reversed(path.read_text(encoding="utf-8").splitlines()):
                item: dict[str, Any] = json.loads(line)
                if item["to_ref"] == ref and item["channel"] == channel:
                    return item
        time.sleep(0.1)
    raise AssertionError(f"no {channel} message in the outbox")


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:300]
    return found.group(1)


def _sign_in_both_ways(url: str, outbox: Path, ref: str, email: str, phone: str) -> list[str]:
    """Sign in by link, then by code, visit pages; the secrets the server saw."""
    secrets: list[str] = []
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        page = client.get("/portal/login")
        assert client.post("/portal/login", data={"csrf": _csrf(page), "email": email}).status_code == 200
        link = _outbox(outbox, ref, "email")["link"]
        token = link.rsplit("/", 1)[-1]
        moved = client.get(f"/portal/auth/{token}")
        assert moved.status_code == 303 and moved.headers["location"] == "/portal/auth"
        button = client.get("/portal/auth")
        signed = client.post("/portal/auth", data={"csrf": _csrf(button)})
        assert signed.status_code == 303 and signed.headers["location"] == "/portal/profile"
        secrets += [token, client.cookies["cgw_portal"]]
        assert client.get("/portal/profile").status_code == 200
        assert client.get("/portal/consents?receipt=r-query-value").status_code == 200
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        page = client.get("/portal/code")
        asked = client.post("/portal/code", data={"csrf": _csrf(page), "phone": phone})
        assert asked.status_code == 200
        code = _outbox(outbox, ref, "sms")["code"]
        signed = client.post("/portal/code/verify",
                             data={"csrf": _csrf(asked), "phone": phone, "code": code})
        assert signed.status_code == 303, signed.text[:300]
        secrets += [code, client.cookies["cgw_portal"]]
        assert client.get("/portal/held").status_code == 200
    return secrets


def _assert_clean(log: str, secrets: list[str], values: dict[str, Any]) -> None:
    personal = [values["email"], values["email"].split("@")[0], values["phone"],
                values["phone"].lstrip("+"), values["first_name"], values["last_name"]]
    for secret in secrets + personal:
        assert secret not in log, f"{secret[:4]}... is in the log"
    assert "r-query-value" not in log


@pytest.fixture
def sqlite_only(gateway: Gateway) -> Gateway:
    if not gateway.url.startswith("sqlite"):
        pytest.skip("what a process logs does not depend on the backend; run once")
    return gateway


def test_serve_at_debug_level_logs_no_token_code_cookie_or_personal_data(
    sqlite_only: Gateway, tmp_path: Path,
) -> None:
    # given: a customer, and the gateway served as in production, logging at debug level
    gw = sqlite_only
    cid, values = add_person(gw)
    outbox = tmp_path / "outbox.jsonl"
    with live_server(gw.url, tmp_path, GATEWAY_LOG_LEVEL="debug",
                     GATEWAY_PORTAL_OUTBOX=str(outbox)) as server:
        # when: the person signs in by link and by code, and reads pages
        secrets = _sign_in_both_ways(server.url, outbox, gw.audit_ref(cid), values["email"],
                                     values["phone"])
    log = server.output()
    # then: the server logged (control), and none of it is in the log
    assert '"logger": "gateway.request"' in log or "uvicorn" in log
    _assert_clean(log, secrets, values)
    # and: the outbox (which must hold the link and the code) does: the search is real
    assert secrets[0] in outbox.read_text() and secrets[2] in outbox.read_text()


@contextmanager
def plain_uvicorn(database_url: str, workdir: Path, **env: str) -> Iterator[LiveServer]:
    """`uvicorn gateway.app:create_app --factory` with uvicorn's own logging: access log on."""
    port = free_port()
    log = workdir / f"uvicorn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory",
             "--port", str(port), "--log-level", "debug"],
            env=server_env(database_url, workdir, **env), stdout=out, stderr=subprocess.STDOUT,
            cwd=workdir)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, "/healthz")
        yield server
    finally:
        stop(server)


def test_uvicorns_own_access_log_shows_no_token_address_or_query(
    sqlite_only: Gateway, tmp_path: Path,
) -> None:
    # given: the app under plain uvicorn, whose default logging writes an access line per request
    gw = sqlite_only
    cid, values = add_person(gw)
    outbox = tmp_path / "outbox.jsonl"
    with plain_uvicorn(gw.url, tmp_path, GATEWAY_PORTAL_OUTBOX=str(outbox)) as server:
        # when
        secrets = _sign_in_both_ways(server.url, outbox, gw.audit_ref(cid), values["email"],
                                     values["phone"])
    log = server.output()
    # then: the access lines are there, redacted: the link's path, no query, no client address
    assert '"GET /portal/auth/- HTTP/1.1" 303' in log, log[-2000:]
    assert '"GET /portal/consents?- HTTP/1.1" 200' in log
    access = [line for line in log.splitlines() if '"GET /portal/' in line]
    assert access and all("127.0.0.1:" not in line for line in access)
    _assert_clean(log, secrets, values)


def test_the_access_filter_rewrites_uvicorns_record() -> None:
    # given: an access record as uvicorn makes it
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.7:5123", "GET", "/portal/auth/SECRET?x=1", "1.1", 303), None)
    # when
    assert RedactAccessLog().filter(record)
    # then
    assert record.getMessage() == '- - "GET /portal/auth/-?- HTTP/1.1" 303'
    assert redact_path("/portal/profile") == "/portal/profile"  # control: a plain path stays
    assert redact_path("/portal/auth") == "/portal/auth"
