"""The time activation decides at: the system clock, or one a test (or a replay) moves by hand.

Every decision that depends on time (is a message due, is a trigger's delay over, how many
messages fell in a frequency cap's window) asks the clock it was given, never the system
directly, so delays of days can be tested in milliseconds.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from gateway.store.types import utcnow


class Clock(Protocol):
    """Something that tells the time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return utcnow()


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by `timedelta(**delta)`; the new time."""
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (aware)."""
        with self._lock:
            self._now = moment


SYSTEM = SystemClock()
