"""A real server and a real browser for the portal's browser tests.

The gateway of the test session is served by uvicorn on a free local port (in a thread), and
Debian's chromium is driven by Playwright (PyPI), one browser per test session and worker.
axe-core comes from npm, installed once into ./var/npm (git-ignored) when missing.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.app import create_app
from gateway.portal.settings import PortalSettings
from gateway.portal.web.base import Web
from tests.databases import IN_CI
from tests.harness import REPO, Gateway

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
AXE_VERSION = "4.10"
NPM_DIR = REPO / "var" / "npm"
AXE = NPM_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "var" / "screenshots"


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI (browser tests must run there)."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def chromium() -> str:
    """The system chromium (installed by .ci/run)."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        unavailable("chromium is not installed: apt-get install -y chromium (.ci/run does it)")
    return path


def axe_script() -> Path:
    """axe.min.js, installed from npm on first use (one installer at a time)."""
    if AXE.exists():
        return AXE
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is needed to install axe-core (apt-get install -y npm)")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    with (NPM_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE.exists():
            subprocess.run([str(npm), "install", "--prefix", str(NPM_DIR), "--no-save", "--no-audit",
                            "--no-fund", "--silent", f"axe-core@{AXE_VERSION}"], check=True,
                           timeout=300)
    return AXE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """The portal served over real HTTP."""

    url: str
    gw: Gateway
    web: Web
    outbox: Path

    def link_for(self, customer_ref: str, timeout: float = 10) -> str:
        """The newest sign-in link the outbox holds for the person with audit ref `customer_ref`."""
        return self._newest(customer_ref, "link", timeout)

    def code_for(self, customer_ref: str, timeout: float = 10) -> str:
        """The newest SMS sign-in code the outbox holds for the person with `customer_ref`."""
        return self._newest(customer_ref, "code", timeout)

    def _newest(self, customer_ref: str, key: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.web.dispatcher.drain()
            if self.outbox.exists():
                for line in reversed(self.outbox.read_text(encoding="utf-8").splitlines()):
                    item: dict[str, Any] = json.loads(line)
                    if item["to_ref"] == customer_ref and item.get(key):
                        return str(item[key])
            time.sleep(0.05)
        raise AssertionError(f"no {key} in the outbox")


class Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


def serve(gw: Gateway, workdir: Path) -> tuple[Live, Server, threading.Thread]:
    """Serve `gw`'s services with the portal on a free port; return when it accepts."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    outbox = workdir / "outbox.jsonl"
    app = create_app(services=gw.services, portal=PortalSettings(base_url=url, outbox=outbox))
    server = Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                   lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    mount = next(r for r in app.routes if getattr(r, "path", "") == "/portal")
    return Live(url, gw, mount.app.web, outbox), server, thread  # type: ignore[attr-defined]


def screenshot_dir() -> Path:
    """Where the run's screenshots go (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
