"""Rate limits and quotas per app: requests per second and personal-data rows per minute.

The counters live in Redis (`GATEWAY_RATE_LIMIT_STORAGE=redis://127.0.0.1:6379/0`) so every
worker and replica shares them; `memory://` (the default) counts per process, for a single
worker. Not in the database: every request of an app would update the same counter row, a
lock all of them queue on (and on SQLite the one write lock, taken by every read). Redis
answers an atomic sliding-window update in about 0.2 ms and expires its keys by itself.

A request is admitted when its app is under its request rate and still has row quota; the
rows it read are charged after the answer left (off the request's latency). So one request
can take an app past its quota by at most one page; the next is refused until the window
frees. When the storage is unreachable the limiter lets requests through (and counts it):
limits protect capacity, not privacy, which the policy enforces on every request anyway.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from limits import RateLimitItem, parse, storage, strategies
from limits.storage import MemoryStorage

from gateway.ops.metrics import RATE_LIMITED, UNAVAILABLE
from gateway.policy.codes import Code

logger = logging.getLogger("gateway.ratelimit")
ROWS_MARGIN = 50  # pages of the last request's size that must be left to skip the check
ROWS_FRESH_SECONDS = 1.0


@dataclass(frozen=True)
class RoleLimits:
    """The limits of each app of one role (None: unlimited)."""

    requests: RateLimitItem | None
    rows: RateLimitItem | None


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused (429) and when to retry, in whole seconds."""

    code: Code
    message: str
    retry_after: int


class LimitsFileError(ValueError):
    """limits.yaml is malformed; the message names the entry."""


def load_limits(path: Path) -> tuple[RoleLimits, dict[str, RoleLimits]]:
    """The default limits and those per role, from `limits.yaml` (none when it is absent)."""
    if not path.exists():
        return RoleLimits(None, None), {}
    document = yaml.safe_load(path.read_text()) or {}
    default = _role_limits(document.get("default") or {}, "default")
    roles = {name: _role_limits(given or {}, f"roles.{name}")
             for name, given in (document.get("roles") or {}).items()}
    return default, roles


def _role_limits(given: dict[str, Any], where: str) -> RoleLimits:
    try:
        return RoleLimits(
            parse(given["requests"]) if given.get("requests") else None,
            parse(given["rows"]) if given.get("rows") else None,
        )
    except ValueError as exc:
        raise LimitsFileError(f"limits.yaml {where}: {exc} (write e.g. 50/second)") from exc


class _SweptMemoryStorage(MemoryStorage):
    """`memory://` without a thread per request.

    limits' `MemoryStorage` starts a `threading.Timer` (0.01 s) on every counter update whose
    previous timer has ended, to drop expired counters: with requests more than 10 ms apart,
    one new thread per request, and `Thread.start` waits until the new thread runs (on a
    loaded core, milliseconds). Reads of a counter check its expiry themselves, so the sweep
    only frees memory: here it runs inline, at most once a second.
    """

    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the name-mangled hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage(uri: str) -> Any:
    """The counters' storage for `uri` (limits' own, but `memory://`)."""
    if uri.startswith("memory://"):
        return _SweptMemoryStorage(uri)
    return storage.storage_from_string(uri)


class Limiter:
    """Admits or refuses an app's request; charges the personal-data rows it read."""

    def __init__(self, storage_uri: str, default: RoleLimits, roles: dict[str, RoleLimits],
                 namespace: str = "gateway") -> None:
        self.storage = _storage(storage_uri)
        self.namespace = namespace  # gateways that share one Redis keep apart by it
        self.window = strategies.SlidingWindowCounterRateLimiter(self.storage)
        self.default = default
        self.roles = roles
        # Per app: until when the row quota is known to have plenty left (learnt by the
        # charge after an answer, off the request's path), so admit skips asking the storage:
        # one round trip per request instead of two. Another worker may spend rows meanwhile;
        # "plenty" is a margin of `ROWS_MARGIN` pages for `ROWS_FRESH_SECONDS`.
        self._rows_fresh: dict[str, float] = {}

    def limits_of(self, role: str) -> RoleLimits:
        return self.roles.get(role, self.default)

    def admit(self, app_id: int, app: str, role: str) -> Refusal | None:
        """None when the request may run; otherwise the refusal (429)."""
        limits = self.limits_of(role)
        key = f"{self.namespace}:{app_id}"
        try:
            if limits.requests is not None and not self.window.hit(limits.requests, "req", key):
                RATE_LIMITED.labels(app, "requests").inc()
                return Refusal(Code.RATE_LIMITED,
                               f"this app may send {limits.requests} requests; slow down",
                               self._retry_after(limits.requests, "req", key))
            if (limits.rows is not None and self._rows_fresh.get(key, 0.0) < time.monotonic()
                    and not self.window.test(limits.rows, "rows", key)):
                RATE_LIMITED.labels(app, "rows").inc()
                return Refusal(Code.QUOTA_EXCEEDED,
                               f"this app may read {limits.rows} customers' data; "
                               "its quota is used up for now",
                               self._retry_after(limits.rows, "rows", key))
        except Exception as exc:  # noqa: BLE001 - the storage is down: fail open, loudly
            self._unavailable(exc)
        return None

    def charge(self, app_id: int, role: str, rows: int) -> None:
        """Count `rows` customers read against the app's quota (after the answer)."""
        item = self.limits_of(role).rows
        if item is None or rows <= 0:
            return
        key = f"{self.namespace}:{app_id}"
        try:
            if not self.window.hit(item, "rows", key, cost=rows):
                # More than what is left: use the rest up, so the next request is refused.
                self._rows_fresh.pop(key, None)
                left = self.window.get_window_stats(item, "rows", key).remaining
                if left > 0:
                    self.window.hit(item, "rows", key, cost=left)
                return
            left = self.window.get_window_stats(item, "rows", key).remaining
            if left > ROWS_MARGIN * max(rows, 1):
                self._rows_fresh[key] = time.monotonic() + ROWS_FRESH_SECONDS
            else:
                self._rows_fresh.pop(key, None)
        except Exception as exc:  # noqa: BLE001 - see admit
            self._unavailable(exc)

    def _retry_after(self, item: RateLimitItem, *ids: str) -> int:
        reset = self.window.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _unavailable(self, exc: Exception) -> None:
        UNAVAILABLE.labels("rate_limit_storage").inc()
        logger.warning("rate-limit storage unreachable (%s); request let through",
                       type(exc).__name__)

    def ping(self) -> bool:
        """The storage answers (for /readyz's report; a failure does not make it unready)."""
        try:
            return bool(self.storage.check())
        except Exception:  # noqa: BLE001
            return False


def limiter_for(enabled: bool, storage_uri: str, path: Path, namespace: str) -> Limiter | None:
    """The process's limiter, or None when limits are off."""
    if not enabled:
        return None
    default, roles = load_limits(path)
    return Limiter(storage_uri, default, roles, namespace)
