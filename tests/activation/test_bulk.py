"""The audience-wide form of the gate's facts (set membership) agrees with the per-customer
form (correlated probes, gateway/consent/state.py and gate.suppressed) on customers in every
state, for every purpose and channel: the dry run and the plan cannot drift from the gate."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from gateway.activation.gate import bulk_flag_columns, bulk_suppressed, suppressed
from gateway.activation.service import CLI
from gateway.activation.suppression import SuppressionInput, add_suppression
from gateway.consent.state import subject_flag_columns
from gateway.profile.identity import read_identity
from gateway.profile.tables import customers
from tests.activation.support import activation_for, customer
from tests.harness import Gateway


def test_bulk_facts_agree_with_the_per_customer_facts(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    act = activation_for(gw, prefixes="http://127.0.0.1:9/")
    # given: customers in each state the facts tell apart
    people = {name: customer(gw) for name in (
        "ok", "objected_dm", "objected_profiling", "restricted", "opted_out_email",
        "opted_out_sms", "withdrawn", "suppressed", "bounced", "held_sms", "lifted")}
    people["none"] = customer(gw, consent=None)
    people["sms"] = customer(gw, consent="marketing_sms")
    gw.preference(people["objected_dm"], "objection", "direct_marketing", "on")
    gw.preference(people["objected_profiling"], "objection", "profiling", "on")
    gw.preference(people["restricted"], "restriction", "processing", "on")
    gw.preference(people["opted_out_email"], "channel", "email", "opt_out")
    gw.preference(people["opted_out_sms"], "channel", "sms", "opt_out")
    gw.preference(people["lifted"], "objection", "direct_marketing", "on")
    gw.preference(people["lifted"], "objection", "direct_marketing", "off")
    gw.consent(people["withdrawn"], "marketing_email", "withdraw")
    with gw.engine.begin() as conn:
        address = read_identity(conn, gw.services.vault, people["bounced"])["email"]
        add_suppression(conn, act, CLI, SuppressionInput(
            scope="customer", reason="complaint", customer_id=people["suppressed"]))
        add_suppression(conn, act, CLI, SuppressionInput(
            scope="email", reason="hard_bounce", address=address))
        add_suppression(conn, act, CLI, SuppressionInput(
            scope="customer", reason="legal_hold", customer_id=people["held_sms"], channel="sms"))
    ids = sorted(people.values())
    cid = customers.c.id
    now = datetime.now(UTC)
    with gw.engine.connect() as conn:
        for purpose in gw.services.purposes.by_name.values():
            # when: the flags are computed both ways
            one = conn.execute(select(cid, *subject_flag_columns(cid, purpose, now))
                               .where(cid.in_(ids)).order_by(cid)).all()
            bulk = conn.execute(select(cid, *bulk_flag_columns(cid, purpose, now))
                                .where(cid.in_(ids)).order_by(cid)).all()
            # then: the same on every customer
            assert [tuple(map(bool, r)) for r in one] == [tuple(map(bool, r)) for r in bulk], purpose.name
        for channel in ("email", "sms", "push", "ads_audience"):
            one = conn.execute(select(cid, suppressed(cid, channel, now).label("s"))
                               .where(cid.in_(ids)).order_by(cid)).all()
            bulk = conn.execute(select(cid, bulk_suppressed(cid, channel, now).label("s"))
                                .where(cid.in_(ids)).order_by(cid)).all()
            assert [bool(r.s) for r in one] == [bool(r.s) for r in bulk], channel
    # control: the states are really told apart (not all false both ways)
    marketing = gw.services.purposes.by_name["marketing_email"]
    with gw.engine.connect() as conn:
        flags = {r.id: r for r in conn.execute(select(cid, *bulk_flag_columns(cid, marketing, now))
                                               .where(cid.in_(ids)))}
        held = {r.id: bool(r.s) for r in conn.execute(
            select(cid, bulk_suppressed(cid, "email", now).label("s")).where(cid.in_(ids)))}
    assert flags[people["restricted"]]._restricted and flags[people["objected_dm"]]._objected
    assert not flags[people["lifted"]]._objected and not flags[people["withdrawn"]]._consented
    assert flags[people["opted_out_email"]]._channel_opted_out and flags[people["ok"]]._consented
    assert held[people["suppressed"]] and held[people["bounced"]] and not held[people["held_sms"]]
