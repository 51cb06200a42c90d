"""Scalars whose parse errors say what is expected and never echo Python's own messages.

Strawberry's built-in `DateTime` parser answered `Value cannot represent a DateTime: "yest".
invalid literal for int() with base 10: b'yest'`: the caller's value and an internal
message. These definitions keep the names and serialisation and only change the parsing
errors (a `ScalarInputError`, whose text the error formatter may show as it is).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping
from operator import methodcaller
from typing import Any

from strawberry.types.scalar import ScalarDefinition

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ScalarInputError(ValueError):
    """A value that does not parse as its scalar; the message is ours (safe to show)."""


def _strict(parse: Callable[[str], Any], expected: str, *, numbers: bool = False) -> Callable[[object], Any]:
    def parse_value(value: object) -> Any:
        if numbers and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ScalarInputError(f"expected {expected}")
        try:
            return parse(value)
        except (ValueError, ArithmeticError, OverflowError):
            raise ScalarInputError(f"expected {expected}") from None

    return parse_value


def _datetime(value: str) -> dt.datetime:
    # Python 3.11's fromisoformat reads ISO 8601 (a trailing Z included); a bare date is
    # refused so that `2025-01-31` is not silently midnight in an unknown time zone.
    if _ISO_DATE.match(value):
        raise ValueError(value)
    return dt.datetime.fromisoformat(value)


def _date(value: str) -> dt.date:
    if not _ISO_DATE.match(value):
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def _decimal(value: str) -> decimal.Decimal:
    number = decimal.Decimal(value)
    if not number.is_finite():
        raise ValueError(value)
    return number


_isoformat = methodcaller("isoformat")

SCALARS: Mapping[object, ScalarDefinition] = {
    dt.datetime: ScalarDefinition(
        name="DateTime", description="Date with time (isoformat)", specified_by_url=None,
        serialize=_isoformat, parse_literal=None, origin=dt.datetime,
        parse_value=_strict(_datetime, "an ISO 8601 date-time, e.g. 2025-01-31T09:30:00Z"),
    ),
    dt.date: ScalarDefinition(
        name="Date", description="Date (isoformat)", specified_by_url=None,
        serialize=_isoformat, parse_literal=None, origin=dt.date,
        parse_value=_strict(_date, "an ISO 8601 date, e.g. 2025-01-31"),
    ),
    decimal.Decimal: ScalarDefinition(
        name="Decimal", description="Decimal (fixed-point)", specified_by_url=None,
        serialize=str, parse_literal=None, origin=decimal.Decimal,
        parse_value=_strict(_decimal, "a decimal number, e.g. 12.50", numbers=True),
    ),
}
