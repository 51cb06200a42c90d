"""Saved segments: versions, look-ups, counts and members within each customer's choices."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.segmentation.members import get_segment, segment_members
from gateway.segmentation.store import count, usable, version_segment, versions_of
from gateway.store.types import utcnow
from tests.api.support import add_person, unique
from tests.harness import Gateway
from tests.segmentation.support import plan, purpose, save


def test_save_version_and_look_up(gw: Gateway) -> None:
    # given: a saved segment
    name = unique("seg")
    with gw.engine.begin() as conn:
        first = save(gw, conn, name, 'city = "A"')
        # when: saving a changed rule, then the same rule again
        second = version_segment(conn, plan(gw, "marketing", "profiling"), first.id,
                                 definition='city = "B"', description="now B", note="moved",
                                 actor="test", now=utcnow())
        same = version_segment(conn, plan(gw, "marketing", "profiling"), first.id,
                               definition='city = "B"', description=None, note=None,
                               actor="test", now=utcnow())
        # then: version 2 is current, the unchanged save made no version 3
        assert (first.version, second.version, same.version) == (1, 2, 2)
        assert get_segment(conn, first.id).definition == 'city = "B"'
        assert get_segment(conn, first.id, 1).definition == 'city = "A"'
        assert [v.version for v in versions_of(conn, first.id)] == [2, 1]
        assert second.fields == ("city",) and second.categories == ("location",)
        assert second.purpose == "profiling" and second.description == "now B"


def test_a_taken_name_and_an_unknown_segment_are_refused(gw: Gateway) -> None:
    name = unique("seg")
    with gw.engine.begin() as conn:
        save(gw, conn, name, 'city = "A"')
        # when / then: the same name again
        with pytest.raises(ServiceError) as taken:
            save(gw, conn, name, 'city = "B"')
        assert (taken.value.code, taken.value.field) == (Code.INVALID_INPUT, "name")
        # and: an unknown id or version, before any member is asked for
        for call in (lambda: get_segment(conn, 10**9),
                     lambda: segment_members(conn, 10**9, purpose=purpose(gw, "profiling"), now=utcnow()),
                     lambda: get_segment(conn, get_segment_id(conn, name), 99)):
            with pytest.raises(ServiceError) as missing:
                call()
            assert missing.value.code is Code.NOT_FOUND


def get_segment_id(conn: Any, name: str) -> int:
    from sqlalchemy import select

    from gateway.segmentation.tables import segments

    return int(conn.execute(select(segments.c.id).where(segments.c.name == name)).scalar_one())


def test_a_rule_on_a_field_the_purpose_may_not_read_is_refused(gw: Gateway) -> None:
    with gw.engine.begin() as conn:
        # when: marketing saves a rule on the amount spent for text messages
        with pytest.raises(ServiceError) as denied:
            save(gw, conn, unique("seg"), "orders.total_spent > 100", purpose_name="marketing_sms")
        # then: POLICY_DENIED at the rule, nothing saved
        assert (denied.value.code, denied.value.field) == (Code.POLICY_DENIED, "definition")
        assert "1:1" in denied.value.message
        # and: a segment saved for email marketing cannot be counted for text messages
        info = save(gw, conn, unique("seg"), "orders.total_spent > 100", purpose_name="marketing_email")
        with pytest.raises(ServiceError) as reuse:
            usable(info, plan(gw, "marketing", "marketing_sms"))
        assert reuse.value.code is Code.POLICY_DENIED
        usable(info, plan(gw, "marketing", "marketing_email"))  # the control


def test_counts_ignore_customers_who_objected(gw: Gateway) -> None:
    # given: three customers of one city, a segment on that city and one on a derived band
    city = unique("City")
    ids = [add_person(gw, city=city, lifecycle_stage="active")[0] for _ in range(3)]
    for cid in ids:
        gw.consent(cid, "marketing_email")
    with gw.engine.begin() as conn:
        plain = save(gw, conn, unique("seg"), f'city = "{city}"').rule()
        banded = save(gw, conn, unique("seg"), f'city = "{city}" and lifecycle = "active"').rule()
    profiling, email = purpose(gw, "profiling"), purpose(gw, "marketing_email")

    def counts() -> tuple[int, int, int, int]:
        now = utcnow()
        with gw.engine.connect() as conn:
            return (count(conn, plain, profiling, now, profiling),
                    count(conn, banded, profiling, now, profiling),
                    count(conn, plain, email, now, profiling),
                    count(conn, banded, email, now, profiling))

    assert counts() == (3, 3, 3, 3)  # the control: everyone counts
    # when: the second objects to profiling
    gw.preference(ids[1], "objection", "profiling", "on")
    # then: profiling counts two; email marketing still counts them on their city, not on
    # their (derived) stage, which must not be used for them any more
    assert counts() == (2, 2, 3, 2)
    # when: the third objects to direct marketing
    gw.preference(ids[2], "objection", "direct_marketing", "on")
    # then: email marketing does not count them at all
    assert counts() == (2, 2, 2, 1)


def test_members_stream_in_batches_within_the_purpose(gw: Gateway) -> None:
    # given: five customers of one city, one of whom restricted processing
    city = unique("City")
    ids = [add_person(gw, city=city)[0] for _ in range(5)]
    gw.preference(ids[3], "restriction", "processing", "on")
    with gw.engine.begin() as conn:
        info = save(gw, conn, unique("seg"), f'city = "{city}"')
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(args[2])

    with gw.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", note)
        # when: streaming the members two at a time
        members = segment_members(conn, info.id, purpose=purpose(gw, "profiling"), now=utcnow(),
                                  batch=2)
        first = next(members)
        queries_after_first = sum("customers.id >" in s for s in statements)
        rest = list(members)
    # then: every member but the restricted one, ascending, fetched in batches of two
    assert [first, *rest] == [i for i in ids if i != ids[3]]
    assert queries_after_first == 1
    assert sum("customers.id >" in s for s in statements) == 3  # 2 + 2 + 0
