"""The audience-wide forms of the gate's facts (outer joins to each fact's set, and set
membership) agree with the per-customer form (correlated probes, gateway/consent/state.py
and gate.suppressed) on customers in every state, for every purpose and channel: the dry
run and the plan cannot drift from the gate."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from gateway.activation.gate import ALL_PRESENT, Facts, audience_facts, facts_of, suppressed
from gateway.activation.service import CLI
from gateway.activation.suppression import SuppressionInput, add_suppression
from gateway.consent.purposes import Purpose
from gateway.consent.state import flags_of, subject_flag_columns
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
            for channel in ("email", "sms", "push", "ads_audience"):
                # when: the facts are computed per customer and in both audience-wide forms
                one = conn.execute(select(cid, *subject_flag_columns(cid, purpose, now),
                                          suppressed(cid, channel, now).label("s"))
                                   .where(cid.in_(ids)).order_by(cid)).all()
                expected = [(flags_of(r), bool(r.s)) for r in one]
                for joined in (True, False):
                    got = [(f.flags, f.suppressed) for f in _bulk(conn, purpose, channel, now, ids, joined)]
                    # then: the same on every customer (and nobody repeated by a join)
                    assert got == expected, (purpose.name, channel, joined)
    # control: the states are really told apart (not all false both ways)
    marketing = gw.services.purposes.by_name["marketing_email"]
    with gw.engine.connect() as conn:
        facts = dict(zip(ids, _bulk(conn, marketing, "email", now, ids, True), strict=True))
    assert facts[people["restricted"]].flags.restricted and facts[people["objected_dm"]].flags.objected
    assert not facts[people["lifted"]].flags.objected and not facts[people["withdrawn"]].flags.consented
    assert facts[people["opted_out_email"]].flags.channel_opted_out and facts[people["ok"]].flags.consented
    assert facts[people["suppressed"]].suppressed and facts[people["bounced"]].suppressed
    assert not facts[people["held_sms"]].suppressed


def _bulk(conn: Connection, purpose: Purpose, channel: str, now: datetime, ids: list[int],
          joined: bool) -> list[Facts]:
    """The facts of `ids` (in id order) through `audience_facts`."""
    found = audience_facts(customers, purpose, channel, now, ALL_PRESENT, joined=joined)
    rows = conn.execute(select(customers.c.id, *found.exprs).select_from(found.source)
                        .where(customers.c.id.in_(ids)).order_by(customers.c.id),
                        {"now_epoch": int(now.timestamp())}).all()
    assert [r[0] for r in rows] == ids
    return [facts_of(tuple(r)[1:]) for r in rows]
