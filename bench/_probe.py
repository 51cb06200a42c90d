"""Server-side garbage-collector accounting (`profile_read.py --gc-probe`).

Each factory here installs a `gc.callbacks` hook that adds up the wall time of every
collection (the collector holds the GIL, and each server has one pinned core, so this is
CPU time), then builds the usual app. A daemon thread writes the totals to the JSON file
named by `BENCH_GC_FILE` every 0.2 s; nothing touches the request path.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

WRITE_EVERY = 0.2
_totals = {"seconds": 0.0, "collections": [0, 0, 0]}
_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _totals["seconds"] += time.perf_counter() - _started[0]  # type: ignore[operator]
        _totals["collections"][info["generation"]] += 1  # type: ignore[index]


def _writer(path: Path) -> None:
    while True:
        time.sleep(WRITE_EVERY)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_totals))
        tmp.replace(path)


def _install() -> None:
    target = os.environ.get("BENCH_GC_FILE")
    if not target:
        raise SystemExit("set BENCH_GC_FILE for the GC probe")
    gc.callbacks.append(_on_gc)
    threading.Thread(target=_writer, args=(Path(target),), daemon=True).start()


def read(path: Path) -> tuple[float, list[int]]:
    """GC seconds and collections per generation so far, as last written by the server."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0.0, [0, 0, 0]
    return float(raw["seconds"]), list(raw["collections"])


def starlette_app() -> Any:
    """Floor A, with the probe."""
    _install()
    from bench._floors import starlette_app as make

    return make()


def strawberry_app() -> Any:
    """Floor B, with the probe."""
    _install()
    from bench._floors import strawberry_app as make

    return make()


def gateway_app() -> Any:
    """The gateway (`gateway.app:create_app`), with the probe."""
    _install()
    from gateway.app import create_app

    return create_app()
