"""consent."""

from __future__ import annotations
