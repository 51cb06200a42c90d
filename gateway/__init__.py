"""consent-gateway: a privacy-first consent and profile gateway."""

from __future__ import annotations

__version__ = "0.1.0"
