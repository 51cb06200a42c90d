"""Helpers of the segmentation tests."""

from __future__ import annotations

from sqlalchemy import Connection

from gateway.consent.purposes import Purpose
from gateway.policy import FieldPlan
from gateway.profile.fields import CUSTOMER_FIELDS
from gateway.segmentation.store import SegmentInfo, create_segment
from gateway.store.types import utcnow
from tests.harness import Gateway


def purpose(gw: Gateway, name: str) -> Purpose:
    found = gw.services.purposes.get(name)
    assert found is not None
    return found


def plan(gw: Gateway, role: str, purpose_name: str) -> FieldPlan:
    return gw.services.policy.plan(role, purpose(gw, purpose_name), CUSTOMER_FIELDS)


def save(gw: Gateway, conn: Connection, name: str, rule: str, *, role: str = "marketing",
         purpose_name: str = "profiling") -> SegmentInfo:
    return create_segment(conn, plan(gw, role, purpose_name), name=name, definition=rule,
                          description=None, actor="test", now=utcnow())
