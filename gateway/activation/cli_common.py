"""Helpers shared by the activation commands: services, one transaction, errors, times."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from rich.console import Console

from gateway.config import Settings

err = Console(stderr=True)
T = TypeVar("T")
# Exit codes: 2 bad input, 3 not found, 4 refused (policy, gate, destination).
_EXIT = {"INVALID_INPUT": 2, "BAD_REQUEST": 2, "PURPOSE_UNKNOWN": 2, "NOT_FOUND": 3}


def fail(code: str, message: str) -> NoReturn:
    """Print the code and what to do, exit with the code's status."""
    err.print(f"[red]{code}[/red]: {message}")
    sys.exit(_EXIT.get(code, 4))


@contextmanager
def services() -> Iterator[Any]:
    """The gateway's services for one command."""
    from gateway.app import build_services

    built = build_services(Settings.from_env())
    try:
        yield built
    finally:
        built.engine.dispose()


def call(work: Callable[[Any, Any], T]) -> T:
    """Run `work(conn, activation)` in one transaction; a ServiceError exits with its code."""
    from gateway.errors import ServiceError

    with services() as built:
        try:
            with built.engine.begin() as conn:
                return work(conn, built.activation)
        except ServiceError as exc:
            where = f" ({exc.field})" if exc.field else ""
            fail(exc.code.value, exc.message + where)


def when(text: str | None) -> datetime | None:
    """An ISO 8601 time with its offset, or None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail("INVALID_INPUT", "a time as ISO 8601 with its offset, e.g. 2026-05-01T09:00:00+00:00")
    if moment.tzinfo is None:
        fail("INVALID_INPUT", "a time with its offset, e.g. 2026-05-01T09:00:00+00:00")
    return moment
