"""The portal's settings, from `GATEWAY_PORTAL_*` environment variables with demo defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class PortalSettings:
    """How links are made and sent, how long things last, how often one may ask.

    `base_url` is where links point: configured, never taken from the request's Host
    header (a forged Host would otherwise send a victim's link to another site).
    `sender` is `outbox` (a JSON-lines file, the demo) or `module:factory` for a real one.
    `rate_storage` is a `limits` storage URI; unset, the gateway's own limiter storage
    (`GATEWAY_RATE_LIMIT_STORAGE`: Redis shared by every worker, or `memory://`) is used.
    """

    base_url: str = "http://127.0.0.1:8000"
    outbox: Path = Path("./var/outbox/portal.jsonl")
    sender: str = "outbox"
    link_minutes: int = 15
    code_minutes: int = 10  # an SMS code's lifetime
    code_attempts: int = 5  # tries per SMS code
    session_minutes: int = 480  # absolute lifetime of a session
    idle_minutes: int = 30  # a session unused this long ends
    rate_per_address: str = "5/15 minutes"
    rate_per_ip: str = "30/15 minutes"
    rate_storage: str = ""  # empty: GATEWAY_RATE_LIMIT_STORAGE
    pdf_font: str | None = None  # a Unicode TTF for the PDF summary (default: DejaVu Sans)

    @classmethod
    def from_env(cls) -> PortalSettings:
        """Read the settings from `GATEWAY_PORTAL_*` environment variables."""
        env = os.environ
        return cls(
            base_url=(env.get("GATEWAY_PORTAL_BASE_URL") or cls.base_url).rstrip("/"),
            outbox=Path(env.get("GATEWAY_PORTAL_OUTBOX") or "./var/outbox/portal.jsonl"),
            sender=env.get("GATEWAY_PORTAL_SENDER") or cls.sender,
            link_minutes=_int("GATEWAY_PORTAL_LINK_MINUTES", cls.link_minutes),
            code_minutes=_int("GATEWAY_PORTAL_CODE_MINUTES", cls.code_minutes),
            code_attempts=_int("GATEWAY_PORTAL_CODE_ATTEMPTS", cls.code_attempts),
            session_minutes=_int("GATEWAY_PORTAL_SESSION_MINUTES", cls.session_minutes),
            idle_minutes=_int("GATEWAY_PORTAL_IDLE_MINUTES", cls.idle_minutes),
            rate_per_address=env.get("GATEWAY_PORTAL_RATE_PER_ADDRESS") or cls.rate_per_address,
            rate_per_ip=env.get("GATEWAY_PORTAL_RATE_PER_IP") or cls.rate_per_ip,
            rate_storage=env.get("GATEWAY_PORTAL_RATE_STORAGE") or cls.rate_storage,
            pdf_font=env.get("GATEWAY_PORTAL_PDF_FONT") or None,
        )
