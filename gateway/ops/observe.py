"""One request, observed: its metrics and its log line (names and codes only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gateway.ops.metrics import PERSONAL_ROWS, REQUEST_SECONDS, REQUESTS, WITHHELD

request_log = logging.getLogger("gateway.request")

# Field-level reasons of gateway/api/errors.py (a withheld value).
_WITHHELD_CODES = frozenset({
    "POLICY_DENIED", "NO_CATEGORY", "CONSENT_REQUIRED", "OBJECTED", "RESTRICTED",
    "CHANNEL_OPTED_OUT",
})


@dataclass
class RequestFacts:
    """What may be said about a request outside the audit log: no value, no raw id."""

    request_id: str
    app: str = "-"
    role: str = "-"
    purpose: str = "-"
    operation: str = "-"
    codes: dict[str, int] = field(default_factory=dict)
    subject_codes: dict[str, int] = field(default_factory=dict)
    rows: int = 0  # customers whose data the answer holds (charged to the app's quota)
    app_id: int = 0

    @property
    def code(self) -> str:
        """The request's outcome: OK, or its first error code (most frequent first)."""
        if not self.codes:
            return "OK"
        return max(self.codes.items(), key=lambda item: item[1])[0]


def observe(facts: RequestFacts, status: int, seconds: float) -> None:
    """Count the request (Prometheus) and write its log line."""
    REQUESTS.labels(facts.operation, facts.app, facts.purpose, str(status), facts.code).inc()
    REQUEST_SECONDS.labels(facts.operation).observe(seconds)
    for code, count in facts.codes.items():
        if code in _WITHHELD_CODES:
            WITHHELD.labels(code, facts.purpose, "field").inc(count)
    for code, count in facts.subject_codes.items():
        if code != "ALLOWED":
            WITHHELD.labels(code, facts.purpose, "customer").inc(count)
    if facts.rows:
        PERSONAL_ROWS.labels(facts.app, facts.purpose).inc(facts.rows)
    if request_log.isEnabledFor(logging.INFO):
        request_log.info("request", extra={
            "request_id": facts.request_id, "app": facts.app, "role": facts.role,
            "purpose": facts.purpose, "operation": facts.operation, "status": status,
            "code": facts.code, "codes": facts.codes, "rows": facts.rows,
            "ms": round(seconds * 1000, 2),
        })
