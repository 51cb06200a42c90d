"""Rate limits on link requests, per address and per client IP (the `limits` library).

Keys are digests, never the address or the IP itself: the address by its blind index (the
same digest whether or not anyone has it), the IP by SHA-256.
"""

from __future__ import annotations

import hashlib

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.portal.settings import PortalSettings


class LinkLimits:
    """Counts link requests in a moving window; `allow` says whether one more may go."""

    def __init__(self, settings: PortalSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_storage))
        self._per_address = parse(settings.rate_per_address)
        self._per_ip = parse(settings.rate_per_ip)

    def allow(self, address_digest: str, client_ip: str) -> bool:
        """Count one request for this address and IP; False when either is over its limit."""
        ip = hashlib.sha256(client_ip.encode()).hexdigest()
        # Both are counted (a refused address still costs its IP a request).
        by_ip = self._limiter.hit(self._per_ip, "portal-link-ip", ip)
        by_address = self._limiter.hit(self._per_address, "portal-link-address", address_digest)
        return bool(by_ip and by_address)
