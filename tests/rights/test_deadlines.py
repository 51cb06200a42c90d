"""Due dates per jurisdiction and kind of right: GDPR months, 152-FZ working days."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.rights.deadlines import (
    KINDS,
    TERMS,
    add_months,
    add_working_days,
    due_date,
    extended_due_date,
    is_working_day,
)


@pytest.mark.parametrize(("received", "due"), [
    (date(2026, 3, 10), date(2026, 4, 10)),  # the same date one month later (a Friday)
    (date(2026, 3, 5), date(2026, 4, 6)),  # 5 April 2026 is a Sunday: the next Monday
    (date(2026, 1, 31), date(2026, 3, 2)),  # no 31 February: the 28th, a Saturday -> Monday
])
def test_gdpr_one_month_from_receipt(received: date, due: date) -> None:
    # given / when / then: the same for every right (Art. 12(3))
    assert {due_date(received, "gdpr", kind) for kind in KINDS} == {due}


def test_gdpr_extension_is_two_further_months() -> None:
    # given: a request received on 31 January 2026
    received = date(2026, 1, 31)
    # when / then: three months from receipt, month-end clamped (30 April, a Thursday)
    assert extended_due_date(received, "gdpr", "access") == date(2026, 4, 30)
    assert extended_due_date(received, "gdpr", "erase") == date(2026, 4, 30)


def test_152fz_access_spans_weekends() -> None:
    # given: an access request received on Thursday 12 March 2026
    received = date(2026, 3, 12)
    # when
    due = due_date(received, "152-fz", "access")
    # then: ten working days from the next day, skipping two weekends: Thursday 26 March
    assert due == date(2026, 3, 26)
    assert (due - received).days == 14
    # and: the reasoned extension adds five working days (a weekend again): 2 April
    assert extended_due_date(received, "152-fz", "access") == date(2026, 4, 2)
    assert due_date(received, "152-fz", "export") == due


def test_152fz_follows_the_russian_production_calendar() -> None:
    # given: Friday 31 October 2025; Saturday 1 November 2025 was a working day (moved from
    # 3 November), 3 and 4 November were days off (Unity Day)
    received = date(2025, 10, 31)
    assert is_working_day(date(2025, 11, 1), "152-fz")
    assert not is_working_day(date(2025, 11, 3), "152-fz")
    assert not is_working_day(date(2025, 11, 4), "152-fz")
    # when / then: 17 November, not the 14th that weekends alone would give
    assert due_date(received, "152-fz", "access") == date(2025, 11, 17)
    assert add_working_days(received, 10, "gdpr") == date(2025, 11, 14)
    # and: the New Year holidays (1-11 January 2026) stop the clock
    assert due_date(date(2025, 12, 26), "152-fz", "access") == date(2026, 1, 21)


def test_152fz_terms_of_the_other_rights() -> None:
    # given: requests received on Friday 13 March 2026
    received = date(2026, 3, 13)
    # then: rectification in 7 working days, destruction in 30 days (12 April is a Sunday:
    # the next working day), blocking from the moment of the request, ceasing in 10 working days
    assert due_date(received, "152-fz", "rectify") == date(2026, 3, 24)
    assert due_date(received, "152-fz", "erase") == date(2026, 4, 13)
    assert due_date(received, "152-fz", "restrict") == received
    assert due_date(received, "152-fz", "object") == date(2026, 3, 27)
    # and: only access, export and object may be extended
    assert [k for k in KINDS if extended_due_date(received, "152-fz", k) is not None] == [
        "access", "export", "object"]


def test_every_kind_has_a_term_with_its_legal_basis() -> None:
    # then
    for jurisdiction in ("gdpr", "152-fz"):
        for kind in KINDS:
            term = TERMS[(jurisdiction, kind)]
            assert term.basis.startswith(("GDPR", "152-FZ"))


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
