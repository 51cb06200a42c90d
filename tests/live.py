"""A real gateway process (uvicorn, one or more workers) on a free port of 127.0.0.1.

For what the in-process TestClient cannot show: several workers, signals, external clients
(the GraphQL-over-HTTP audit in node, schemathesis, load).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

from tests.harness import MASTER_KEY, REPO


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running `consent-gateway serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the server printed so far (its logs)."""
        return self.log.read_text(errors="replace")


def server_env(database_url: str, workdir: Path, **env: str) -> dict[str, str]:
    """The environment of a gateway process on `database_url`."""
    return {
        **os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_MASTER_KEY": MASTER_KEY,
        "GATEWAY_MASTER_KEY_FILE": str(workdir / "master.key"),
        "GATEWAY_POLICY_DIR": str(REPO / "policies"), **env,
    }


@contextmanager
def live_server(database_url: str, workdir: Path, *, workers: int = 1,
                ready_path: str = "/healthz", **env: str) -> Iterator[LiveServer]:
    """Serve `database_url` until the block ends (then SIGTERM, as an orchestrator would)."""
    port = free_port()
    log = workdir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
             "--workers", str(workers)],
            env=server_env(database_url, workdir, **env), stdout=out, stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, ready_path)
        yield server
    finally:
        stop(server)


def stop(server: LiveServer, timeout: float = 20) -> int:
    """SIGTERM, then wait (SIGKILL after `timeout` seconds); the exit code."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return int(server.process.returncode)


def _wait_ready(server: LiveServer, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {server.output()[-2000:]}")
        try:
            if httpx.get(server.url + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    output = server.output()
    raise RuntimeError(f"the gateway did not become ready: {output[:2500]} ... {output[-1500:]}")
