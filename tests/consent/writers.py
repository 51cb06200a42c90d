"""A writer process of the concurrency test: records consents for one customer, one per transaction."""

from __future__ import annotations

from typing import Any

from gateway.app import build_services
from gateway.consent import service
from tests.harness import settings_for


def record_many(url: str, workdir: str, customer_id: int, count: int, barrier: Any, offset: int) -> None:
    """Record `count` grants/withdrawals of marketing_email, starting with the others."""
    from pathlib import Path

    services = build_services(settings_for(url, Path(workdir)))
    recorder = service.Recorder(services.purposes, services.signer, None, services.pseudonyms.for_audit(),
                                services.vault)
    barrier.wait(timeout=60)
    try:
        for n in range(count):
            given = service.ConsentInput(
                customer_id=customer_id, purpose="marketing_email", notice_version=2,
                action="grant" if (n + offset) % 2 == 0 else "withdraw", source_channel="api",
                evidence=f"writer-{offset}-{n}",
            )
            with services.engine.begin() as conn:
                service.record_consent(conn, recorder, given)
    finally:
        services.engine.dispose()
