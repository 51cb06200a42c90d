"""The servers under test: one uvicorn worker each, pinned to CPU 0, and their checks.

Each target is a (server, request) pair: the floors take one request each; the gateway
server takes two (the support app under `service`, the marketing app under
`marketing_email`), and optionally a third (the compliance officer under `compliance_audit`,
the one scenario in which every field is allowed).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._floors import QUERY
from bench._load import Request, pin_prefix
from bench._probe import WRITE_EVERY, read
from bench._setup import POLICY_DIR, REPO, SCENARIO_APPS, BenchDatabase

SERVER_CPU = 0

# Target -> (server, what it is, scenario app or None).
TARGETS: dict[str, tuple[str, str, str | None]] = {
    "a": ("starlette", "floor A: Starlette + SQLAlchemy Core + orjson", None),
    "b": ("strawberry", "floor B: plain strawberry, caches, sync resolvers", None),
    "c0": ("gateway", "gateway, compliance_officer / compliance_audit (all fields allowed)",
           "compliance"),
    "c1": ("gateway", "gateway, support app / service (full read)", "support"),
    "c2": ("gateway", "gateway, marketing app / marketing_email (consent mix)", "marketing"),
    # The same reads as persisted documents (by sha256): served through the compiled plan.
    "p0": ("gateway", "gateway, compliance_officer, persisted document (compiled plan)", "compliance"),
    "p1": ("gateway", "gateway, support app / service, persisted document (compiled plan)", "support"),
    "p2": ("gateway", "gateway, marketing app / marketing_email, persisted document (compiled plan)",
           "marketing"),
}
PERSISTED = frozenset({"p0", "p1", "p2"})
QUERY_SHA256 = hashlib.sha256(QUERY.encode()).hexdigest()
APPS = {
    "starlette": "bench._floors:starlette_app",
    "strawberry": "bench._floors:strawberry_app",
    "gateway": "gateway.app:create_app",
}
PROBED_APPS = {
    "starlette": "bench._probe:starlette_app",
    "strawberry": "bench._probe:strawberry_app",
    "gateway": "bench._probe:gateway_app",
}


@dataclass
class Server:
    """A running uvicorn process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    gc_file: Path | None = None

    def gc_seconds(self) -> float | None:
        """Seconds spent in garbage collection so far (with --gc-probe), else None."""
        if self.gc_file is None:
            return None
        time.sleep(2 * WRITE_EVERY)  # let the probe write its latest totals
        return read(self.gc_file)[0]

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mb(self) -> float:
        """Resident memory of the server process, in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@dataclass
class Fleet:
    """The three servers and the request of every target."""

    servers: dict[str, Server] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)

    def server_of(self, target: str) -> Server:
        """The server that answers `target`."""
        return self.servers[TARGETS[target][0]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uvicorn_command(app: str, port: int) -> list[str]:
    """One worker, no access log; uvloop and httptools when installed; pinned to CPU 0."""
    cmd = [*pin_prefix(SERVER_CPU), sys.executable, "-m", "uvicorn", app, "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
           "--log-level", "warning"]
    if importlib.util.find_spec("uvloop"):
        cmd += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools"):
        cmd += ["--http", "httptools"]
    return cmd


def _rate_limits(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """BENCH_RATE_LIMITS=off|memory|redis (default memory, the gateway's default): the limiter
    runs on every request with limits too high to refuse any, so its cost is measured."""
    mode = env.get("BENCH_RATE_LIMITS", "memory")
    if mode == "off":
        return {"GATEWAY_RATE_LIMITS": "off"}
    policies = workdir / "policies"
    if not policies.exists():
        shutil.copytree(POLICY_DIR, policies)
        (policies / "limits.yaml").write_text(
            "default: {requests: 1000000/second, rows: 1000000000/minute}\n")
    storage = "redis://127.0.0.1:6379/0" if mode == "redis" else "memory://"
    return {"GATEWAY_RATE_LIMITS": "on", "GATEWAY_RATE_LIMIT_STORAGE": storage,
            "GATEWAY_POLICY_DIR": str(policies)}


def _environment(db: BenchDatabase, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "BENCH_DATABASE_URL": db.url,
        "GATEWAY_DATABASE_URL": db.url,
        "GATEWAY_MASTER_KEY": db.master_key,
        "GATEWAY_MASTER_KEY_FILE": str(workdir / "master.key"),
        "GATEWAY_POLICY_DIR": str(POLICY_DIR),
        "GATEWAY_LOG_LEVEL": "warning",
        "BENCH_WHATIF": env.get("BENCH_WHATIF", ""),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    })
    env.update(_rate_limits(env, workdir))
    return env


def _request(port: int, db: BenchDatabase, app: str | None, persisted: bool = False,
             register: bool = False) -> Request:
    headers = {"Content-Type": "application/json"}
    if app is not None:
        headers["Authorization"] = f"Bearer {db.keys[app]}"
        headers["X-Purpose"] = SCENARIO_APPS[app][1]
    body: dict[str, Any] = {"query": QUERY}
    if persisted:
        body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": QUERY_SHA256}}}
        if register:  # the app's automatic registration: the text with its hash, once
            body["query"] = QUERY
    return Request("127.0.0.1", port, "/graphql", orjson.dumps(body), headers)


def _wait_ready(server: Server, request: Request, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            post(request)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer within {timeout:.0f} s")


def post(request: Request) -> httpx.Response:
    """Send `request` once."""
    url = f"http://{request.host}:{request.port}{request.path}"
    return httpx.post(url, content=request.body, headers=request.headers, timeout=30)


@contextlib.contextmanager
def fleet(
    db: BenchDatabase, workdir: Path, targets: list[str], gc_probe: bool = False
) -> Iterator[Fleet]:
    """Start the servers `targets` need (through `bench._probe` with `gc_probe`); stop them
    (by pid) on exit."""
    out = Fleet()
    try:
        for name in dict.fromkeys(TARGETS[t][0] for t in targets):
            port = _free_port()
            log = workdir / f"{name}.log"
            env = _environment(db, workdir)
            gc_file = workdir / f"{name}.gc.json" if gc_probe else None
            if gc_file is not None:
                env["BENCH_GC_FILE"] = str(gc_file)
            app = (PROBED_APPS if gc_probe else APPS)[name]
            with log.open("wb") as fh:
                process = subprocess.Popen(
                    uvicorn_command(app, port), cwd=REPO, env=env,
                    stdout=fh, stderr=subprocess.STDOUT,
                )
            out.servers[name] = Server(name, port, process, log, gc_file)
        for target in targets:
            server = out.server_of(target)
            out.requests[target] = _request(server.port, db, TARGETS[target][2], target in PERSISTED)
        for target in targets:
            server = out.server_of(target)
            if target in PERSISTED:
                _wait_ready(server, _request(server.port, db, TARGETS[target][2], True, register=True))
            else:
                _wait_ready(server, out.requests[target])
        yield out
    finally:
        for server in out.servers.values():
            server.process.terminate()
        for server in out.servers.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _nodes(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return list(answer["data"]["customers"]["nodes"])


def verify(fleet_: Fleet) -> dict[str, dict[str, Any]]:
    """Each target answers 200 with 20 nodes; floors A and B agree value for value, and
    their first names are the gateway's (c1) wherever the gateway shows one.

    Returns, per target, the node count, the error count by code and the response size.
    """
    found: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    raw: dict[str, bytes] = {}
    for target, request in fleet_.requests.items():
        response = post(request)
        if response.status_code != 200:
            raise RuntimeError(f"{target}: HTTP {response.status_code}: {response.text[:500]}")
        answer = response.json()
        raw[target] = response.content
        nodes = _nodes(answer)
        if len(nodes) != 20:
            raise RuntimeError(f"{target}: {len(nodes)} nodes, expected 20")
        codes: dict[str, int] = {}
        for error in answer.get("errors", []):
            code = error.get("extensions", {}).get("code", "?")
            codes[code] = codes.get(code, 0) + 1
        found[target] = {"nodes": len(nodes), "errors": codes, "bytes": len(response.content)}
        answers[target] = answer
    if "a" in answers and "b" in answers:
        if answers["a"] != answers["b"]:
            a, b = _nodes(answers["a"]), _nodes(answers["b"])
            diff = next(
                (f"node {i} field {k}: {x[k]!r} != {y.get(k)!r}"
                 for i, (x, y) in enumerate(zip(a, b, strict=True)) for k in x if x[k] != y.get(k)),
                "shapes differ",
            )
            raise RuntimeError(f"floors A and B disagree: {diff}")
        if "errors" in answers["b"]:
            raise RuntimeError(f"floor B answered errors: {answers['b']['errors'][:3]}")
    for plan, general in (("p0", "c0"), ("p1", "c1"), ("p2", "c2")):
        if plan in raw and general in raw and raw[plan] != raw[general]:
            raise RuntimeError(f"{plan} (compiled plan) does not answer {general}'s bytes")
    # (The floors list the first customers by id; the gateway lists in each app's own order
    # since issue 9, so their pages hold other customers: names are not compared row by row.)
    return found
