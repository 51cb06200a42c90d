"""Closed-loop HTTP load: `wrk` when installed, else a small asyncio client.

Both send the same POST (body and headers) over C keep-alive connections for D seconds and
report requests/s, latency percentiles and any failed or non-2xx answers as a `LoadResult`.
wrk runs pinned to CPU 1 with `taskset` (the servers sit on CPU 0); the Python fallback pins
the calling process instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

INSTALL_WRK = "apt-get install -y wrk   (Debian/Ubuntu; macOS: brew install wrk)"
LOAD_CPU = 1


@dataclass(frozen=True)
class LoadResult:
    """One measurement of one target."""

    tool: str
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failures: int  # connect/read/write errors, timeouts and non-2xx answers

    def as_dict(self) -> dict[str, float | int | str]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class Request:
    """What the load generator sends: POST `path` on host:port with `body` and `headers`."""

    host: str
    port: int
    path: str
    body: bytes
    headers: dict[str, str]


def wrk_path() -> str | None:
    """The wrk executable, if installed."""
    return shutil.which("wrk")


def pin_prefix(cpu: int) -> list[str]:
    """`taskset -c cpu` when taskset exists and the machine has more than `cpu` CPUs."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu)]
    return []


# --- wrk -----------------------------------------------------------------------------------

_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT {{\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,"
    .. "\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"max\\":%d}}\\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_script(request: Request) -> str:
    """The wrk script that sends `request` and prints one parseable `BENCH_RESULT` line."""
    body = request.body.decode()
    if "]==]" in body:
        raise ValueError("the request body cannot contain ]==]")
    headers = "\n".join(
        f'wrk.headers["{name}"] = "{value}"' for name, value in request.headers.items()
    )
    return _LUA.format(body=body, headers=headers)


def run_wrk(request: Request, seconds: float, connections: int) -> LoadResult:
    """Run wrk (one thread, pinned to CPU 1) and parse its `done` output."""
    wrk = wrk_path()
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua_script(request))
        script = fh.name
    try:
        cmd = [
            *pin_prefix(LOAD_CPU), wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "30s", "-s", script,
            f"http://{request.host}:{request.port}{request.path}",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    finally:
        Path(script).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    duration = raw["duration_us"] / 1e6
    return LoadResult(
        tool="wrk", seconds=duration, requests=raw["requests"],
        rps=raw["requests"] / duration if duration else 0.0,
        p50_ms=raw["p50"] / 1000, p90_ms=raw["p90"] / 1000, p99_ms=raw["p99"] / 1000,
        max_ms=raw["max"] / 1000, failures=raw["errors"],
    )


# --- Python fallback -----------------------------------------------------------------------


def _raw_request(request: Request) -> bytes:
    head = [f"POST {request.path} HTTP/1.1", f"Host: {request.host}:{request.port}",
            f"Content-Length: {len(request.body)}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + request.body


async def _one_connection(request: Request, raw: bytes, deadline: float,
                          latencies: list[float], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection(request.host, request.port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                failures.append(1)
    except (OSError, asyncio.IncompleteReadError):
        failures.append(1)
    finally:
        writer.close()


async def _python_load(request: Request, seconds: float, connections: int) -> LoadResult:
    raw = _raw_request(request)
    latencies: list[float] = []
    failures: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(
        _one_connection(request, raw, deadline, latencies, failures) for _ in range(connections)
    ))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    return LoadResult(
        tool="python", seconds=elapsed, requests=len(latencies),
        rps=len(latencies) / elapsed if elapsed else 0.0, p50_ms=pct(50), p90_ms=pct(90),
        p99_ms=pct(99), max_ms=ordered[-1] * 1000, failures=len(failures),
    )


def run_python(request: Request, seconds: float, connections: int) -> LoadResult:
    """The fallback load generator (slower than wrk: it may limit the fastest target)."""
    if (os.cpu_count() or 1) > LOAD_CPU and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {LOAD_CPU})
    try:
        import uvloop

        return uvloop.run(_python_load(request, seconds, connections))
    except ImportError:
        return asyncio.run(_python_load(request, seconds, connections))


def run_load(request: Request, seconds: float, connections: int, tool: str) -> LoadResult:
    """Measure `request` for `seconds` at `connections` with `tool` (wrk | python)."""
    if tool == "wrk":
        return run_wrk(request, seconds, connections)
    return run_python(request, seconds, connections)
