"""When a data subject request is due, by jurisdiction and kind of right.

GDPR (Art. 12(3)): one month from receipt for every right, extendable by two further months
with reasons given to the person. Months are counted as Regulation 1182/71 Art. 3 does (the
same date of the next month, or its last day when that date does not exist); a term ending
on a Saturday or Sunday moves to the next Monday. Member-state public holidays are not
modelled: which state's calendar applies is not known to the gateway.

152-FZ (as amended by Federal Law 266-FZ of 14.07.2022, in force since 01.09.2022):
  access, export   10 working days (Art. 14(7), 20(1)), +5 working days with a reasoned notice
  rectify           7 working days from the supporting information (Art. 20(3), 21(2))
  erase            30 days from the withdrawal / demand to destroy (Art. 21(5))
  restrict         blocking from the moment of the request (Art. 21(1)): due the same day
  object           10 working days to cease processing (Art. 21(5.1)), +5 with a reasoned notice
A term starts the day after receipt (Civil Code Art. 191); working days follow the Russian
production calendar (weekends, public holidays and the government's transferred days off and
working Saturdays) from the `holidays` package; a calendar-day term ending on a day off moves
to the next working day (Civil Code Art. 193).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

KINDS = ("access", "export", "rectify", "erase", "restrict", "object")
JURISDICTIONS = ("gdpr", "152-fz")


@dataclass(frozen=True)
class Term:
    """A statutory term: its length in one unit, the extension allowed, the legal basis."""

    unit: str  # months, working_days, days
    length: int
    extension: int  # in the same unit; 0: no extension allowed
    basis: str


_GDPR = Term("months", 1, 2, "GDPR Art. 12(3)")
TERMS: dict[tuple[str, str], Term] = {
    **{("gdpr", kind): _GDPR for kind in KINDS},
    ("152-fz", "access"): Term("working_days", 10, 5, "152-FZ Art. 14(7), 20(1)"),
    ("152-fz", "export"): Term("working_days", 10, 5, "152-FZ Art. 14(7), 20(1)"),
    ("152-fz", "rectify"): Term("working_days", 7, 0, "152-FZ Art. 20(3), 21(2)"),
    ("152-fz", "erase"): Term("days", 30, 0, "152-FZ Art. 21(5)"),
    ("152-fz", "restrict"): Term("days", 0, 0, "152-FZ Art. 21(1)"),
    ("152-fz", "object"): Term("working_days", 10, 5, "152-FZ Art. 21(5.1)"),
}


@lru_cache(maxsize=64)
def _russian_calendar(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=year)


def is_working_day(day: date, jurisdiction: str) -> bool:
    """A working day in `jurisdiction` (GDPR: Monday to Friday; 152-FZ: the RU calendar)."""
    if jurisdiction == "152-fz":
        return bool(_russian_calendar(day.year).is_working_day(day))
    return day.weekday() < 5


def next_working_day(day: date, jurisdiction: str) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day, jurisdiction):
        day += timedelta(days=1)
    return day


def add_working_days(start: date, count: int, jurisdiction: str) -> date:
    """The `count`-th working day after `start` (`start` itself does not count)."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day, jurisdiction):
            count -= 1
    return day


def add_months(start: date, months: int) -> date:
    """The same date `months` later, or that month's last day when the date does not exist."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _end(start: date, unit: str, length: int, jurisdiction: str) -> date:
    if unit == "working_days":
        return add_working_days(start, length, jurisdiction)
    end = add_months(start, length) if unit == "months" else start + timedelta(days=length)
    return next_working_day(end, jurisdiction) if length else end


def term_of(jurisdiction: str, kind: str) -> Term:
    """The term for `kind` in `jurisdiction` (KeyError for unknown ones: validate first)."""
    return TERMS[(jurisdiction, kind)]


def due_date(received: date, jurisdiction: str, kind: str) -> date:
    """The last day to answer a request of `kind` received on `received`."""
    term = term_of(jurisdiction, kind)
    return _end(received, term.unit, term.length, jurisdiction)


def extended_due_date(received: date, jurisdiction: str, kind: str) -> date | None:
    """The last day once the term is extended, or None when the law allows no extension."""
    term = term_of(jurisdiction, kind)
    if not term.extension:
        return None
    if term.unit == "months":  # two further months on top of the first one
        return _end(received, "months", term.length + term.extension, jurisdiction)
    return add_working_days(due_date(received, jurisdiction, kind), term.extension, jurisdiction)
