"""The best hour found in the interactions' pass (PostgreSQL) equals the ranking's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from gateway.profile.tables import interactions
from gateway.segmentation import aggregate
from tests.api.support import add_person
from tests.harness import Gateway

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CHANNEL = {"email_open": "email", "email_click": "email", "web_visit": "web", "call": "phone"}


def _touch(gw: Gateway, cid: int, kind: str, hour: int, days: int) -> None:
    at = (NOW - timedelta(days=days)).replace(hour=hour)
    with gw.engine.begin() as conn:
        conn.execute(insert(interactions).values(customer_id=cid, kind=kind, channel=CHANNEL[kind],
                                                 device="mobile", occurred_at=at))


def test_the_best_hour_of_the_pass_is_the_ranked_one(gw: Gateway) -> None:
    # given: a tie of two engagements at 15h and at 9h (calls at 3h do not count); a
    # customer with calls only; one with a clear winner at 21h
    tie, calls, clear = (add_person(gw)[0] for _ in range(3))
    for days in (1, 2):
        _touch(gw, tie, "web_visit", 15, days)
        _touch(gw, tie, "email_open", 9, days + 5)
    for days in (1, 2, 3):
        _touch(gw, tie, "call", 3, days)
        _touch(gw, calls, "call", 4, days)
        _touch(gw, clear, "email_click", 21, days)
    _touch(gw, clear, "web_visit", 6, 9)
    ids = [tie, calls, clear]
    with gw.engine.connect() as conn:
        # when
        ranked = aggregate.best_hours(conn, ids, min(ids), max(ids))
        found = aggregate.interaction_matrix(conn, ids, min(ids), max(ids))
        in_pass = aggregate.hour_in_pass(conn)
    # then: the earliest of equals, none for calls only
    assert ranked == {tie: 9, clear: 21}
    if in_pass:
        hours = {int(r[0]): int(r[13]) for r in found if r[13] == r[13]}
        assert hours == ranked
    else:
        assert found.shape[1] == 13
