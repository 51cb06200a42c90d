"""Rate limits on sign-in requests (links by email, codes by SMS), per address and per client
IP, shared by every worker through the gateway's limiter storage (the `limits` library).

Keys are digests, never the address, the number or the IP itself: the address or number by
its blind index (the same digest whether or not anyone has it), the IP by SHA-256. The
counters live where the gateway's app limits live (`GATEWAY_RATE_LIMIT_STORAGE`, Redis when
several workers or replicas serve; `GATEWAY_PORTAL_RATE_STORAGE` overrides it), under the
same namespace, so a limit holds across workers instead of multiplying by their number.

When that storage is unreachable the portal falls back to counting in this process (and
says so in the log and the `gateway_unavailable_total{cause="portal_rate_limit_storage"}`
counter): neither open nor closed. Failing open would let anyone mail- or SMS-bomb a
person while Redis is down (each SMS also costs money); failing closed would stop every
customer signing in because of a cache. Per-process counting keeps each worker's own limit,
so the bound is at most the number of workers times the limit. What protects a code from
guessing does not depend on this: the attempts per code are counted in the database
(codes.py).
"""

from __future__ import annotations

import hashlib
import logging

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.ops.metrics import RATE_LIMITED, UNAVAILABLE
from gateway.portal.settings import PortalSettings

logger = logging.getLogger("gateway.portal")
KINDS = ("link", "code", "verify")  # a link asked for, a code asked for, a code typed


class SignInLimits:
    """Counts sign-in requests in a moving window; `allow` says whether one more may go."""

    def __init__(self, settings: PortalSettings, storage_uri: str = "memory://",
                 namespace: str = "gateway") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_storage or storage_uri))
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._per_address = parse(settings.rate_per_address)
        self._per_ip = parse(settings.rate_per_ip)
        self.namespace = namespace

    def allow(self, kind: str, address_digest: str | None, client_ip: str) -> bool:
        """Count one `kind` request from `client_ip` (and for the address or number, when
        given); False when either is over its limit. Both are counted: a refused address
        still costs its IP a request."""
        assert kind in KINDS
        ip = hashlib.sha256(client_ip.encode()).hexdigest()
        hits: list[tuple[RateLimitItem, str, str]] = [(self._per_ip, f"portal-{kind}-ip", ip)]
        if address_digest is not None:
            hits.append((self._per_address, f"portal-{kind}-address", address_digest))
        results = [self._hit(item, name, key) for item, name, key in hits]  # count every one
        allowed = all(results)
        if not allowed:
            RATE_LIMITED.labels("portal", kind).inc()
        return allowed

    def _hit(self, item: RateLimitItem, name: str, key: str) -> bool:
        try:
            return bool(self._limiter.hit(item, self.namespace, name, key))
        except Exception as exc:  # noqa: BLE001 - the shared storage is down: count locally
            UNAVAILABLE.labels("portal_rate_limit_storage").inc()
            logger.warning("portal rate-limit storage unreachable (%s); counting in this process",
                           type(exc).__name__)
            return bool(self._local.hit(item, self.namespace, name, key))
