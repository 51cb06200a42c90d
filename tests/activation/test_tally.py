"""A dry run's counts (gateway/activation/tally.py: the sparse facts looked up together, and
on SQLite the members in no sparse set counted apart) equal a straightforward computation:
every customer's facts by per-customer probes, each decided by `gate.reason`, counted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select

from gateway.activation.campaigns import dry_run
from gateway.activation.gate import (
    ALL_PRESENT,
    Facts,
    capped,
    epoch,
    present,
    reachable,
    reason,
    suppressed,
)
from gateway.activation.service import CLI
from gateway.activation.suppression import SuppressionInput, add_suppression
from gateway.activation.tally import tally
from gateway.consent.ledger import append_preference
from gateway.consent.purposes import Purpose
from gateway.consent.state import flags_of, subject_flag_columns
from gateway.policy import SubjectFlags
from gateway.policy.codes import Code
from gateway.profile.identity import read_identity
from gateway.profile.tables import customers
from tests.activation.receiver import Receiver
from tests.activation.support import activation_for, campaign, customer, drain, plan, webhook
from tests.harness import Gateway

CHANNELS = ("email", "sms", "push", "ads_audience")


def _population(gw: Gateway, act: object) -> dict[str, int]:
    """Customers in every state the gate tells apart, alone and combined."""
    people = {name: customer(gw) for name in (
        "ok", "objected", "restricted", "opted_out", "opted_out_sms", "suppressed", "bounced",
        "held_sms", "lifted", "withdrawn", "capped", "cap_unused", "objected_and_opted_out",
        "suppressed_no_consent", "restricted_objected", "capped_opted_out")}
    people["no_consent"] = customer(gw, consent=None)
    people["no_email"] = customer(gw, email=None)
    people["no_email_no_consent"] = customer(gw, email=None, consent=None)
    people["sms_only"] = customer(gw, consent="marketing_sms", email=None)
    people["no_phone"] = customer(gw, phone=None)
    for who in ("objected", "objected_and_opted_out", "restricted_objected", "lifted"):
        gw.preference(people[who], "objection", "direct_marketing", "on")
    gw.preference(people["lifted"], "objection", "direct_marketing", "off")
    for who in ("restricted", "restricted_objected"):
        gw.preference(people[who], "restriction", "processing", "on")
    for who in ("opted_out", "objected_and_opted_out"):
        gw.preference(people[who], "channel", "email", "opt_out")
    gw.preference(people["opted_out_sms"], "channel", "sms", "opt_out")
    gw.consent(people["withdrawn"], "marketing_email", "withdraw")
    gw.consent(people["suppressed_no_consent"], "marketing_email", "withdraw")
    with gw.engine.begin() as conn:
        for who in ("capped", "cap_unused", "capped_opted_out"):
            append_preference(conn, customer_id=people[who], kind="channel", key="email",
                              value="opt_in", cap_count=1, cap_period_days=7, source_channel="api")
        address = read_identity(conn, gw.services.vault, people["bounced"])["email"]
        for who in ("suppressed", "suppressed_no_consent"):
            add_suppression(conn, act, CLI, SuppressionInput(  # type: ignore[arg-type]
                scope="customer", reason="complaint", customer_id=people[who]))
        add_suppression(conn, act, CLI, SuppressionInput(  # type: ignore[arg-type]
            scope="email", reason="hard_bounce", address=address))
        add_suppression(conn, act, CLI, SuppressionInput(  # type: ignore[arg-type]
            scope="customer", reason="legal_hold", customer_id=people["held_sms"], channel="sms"))
    # capped_opted_out opted out after its cap's message was sent (below): both facts hold
    return people


def _straightforward(conn: Connection, purpose: Purpose, channel: str, now: datetime,
                     ids: list[int]) -> Counter[tuple[bool, ...]]:
    """Every customer's facts by correlated per-customer probes, counted per combination."""
    cid = customers.c.id
    rows = conn.execute(select(
        cid, *subject_flag_columns(cid, purpose, now), suppressed(cid, channel, now).label("s"),
        reachable(channel).label("r"), capped(cid, channel).label("c"),
    ).where(cid.in_(ids)), {"now_epoch": epoch(now)}).all()
    assert len(rows) == len(ids)
    return Counter(tuple(flags_of(r)) + (bool(r.s), bool(r.r), bool(r.c)) for r in rows)


def _decide(purpose: Purpose, values: tuple[bool, ...]) -> Code | None:
    """`gate.reason` of one combination of facts (in the order of Facts)."""
    n = len(SubjectFlags._fields)
    return reason(purpose, Facts(SubjectFlags(*values[:n]), *values[n:]))


def test_tally_equals_the_per_customer_facts_for_every_purpose_and_channel(
        fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        people = _population(gw, act)
        # given: the capped customers' cap used by a message actually sent
        plan(gw, act, campaign(gw, act, "esp", [people["capped"], people["capped_opted_out"]]))
        drain(gw, act)
        gw.preference(people["capped_opted_out"], "channel", "email", "opt_out")
    ids = sorted(people.values())
    now = datetime.now(UTC) + timedelta(hours=1)
    with gw.engine.connect() as conn:
        for purpose in gw.services.purposes.by_name.values():
            for channel in CHANNELS:
                expected = _straightforward(conn, purpose, channel, now, ids)
                for there in (ALL_PRESENT, present(conn, channel, now)):
                    # when: the audience is tallied in bulk
                    got = tally(conn, customers, customers.c.id.in_(ids), purpose, channel, now,
                                there)
                    # then: the same combinations, each as many times
                    assert got == expected, (purpose.name, channel, there)
                    assert sum(got.values()) == len(ids)
        # control: the email facts really differ (every reason is represented)
        marketing = gw.services.purposes.by_name["marketing_email"]
        counted = tally(conn, customers, customers.c.id.in_(ids), marketing, "email", now,
                        ALL_PRESENT)
    reasons = {_decide(marketing, values) for values in counted}
    assert {code.value for code in reasons if code is not None} == {
        "SUPPRESSED", "RESTRICTED", "CONSENT_REQUIRED", "OBJECTED", "CHANNEL_OPTED_OUT",
        "NO_CONTACT", "FREQUENCY_CAPPED"}


def test_dry_run_reasons_equal_the_per_customer_reasons(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    with Receiver() as receiver:
        act = activation_for(gw, prefixes=receiver.prefix)
        webhook(gw, act, receiver.url, name="esp")
        people = _population(gw, act)
        plan(gw, act, campaign(gw, act, "esp", [people["capped"], people["capped_opted_out"]]))
        drain(gw, act)
        gw.preference(people["capped_opted_out"], "channel", "email", "opt_out")
        ids = sorted(people.values())
        ref = campaign(gw, act, "esp", ids)
        # when: a dry run of the whole population
        with gw.engine.begin() as conn:
            result = dry_run(conn, act, CLI, ref)
    # then: its counts are those of each customer decided one by one
    marketing = gw.services.purposes.by_name["marketing_email"]
    with gw.engine.connect() as conn:
        one_by_one = _straightforward(conn, marketing, "email", datetime.now(UTC), ids)
    expected: Counter[str] = Counter()
    eligible = 0
    for values, n in one_by_one.items():
        code = _decide(marketing, values)
        if code is None:
            eligible += n
        else:
            expected[code.value] += n
    assert (result.audience, result.eligible, result.missing) == (len(ids), eligible, 0)
    assert result.excluded == dict(expected)
    assert set(result.excluded) == {"SUPPRESSED", "RESTRICTED", "CONSENT_REQUIRED", "OBJECTED",
                                    "CHANNEL_OPTED_OUT", "NO_CONTACT", "FREQUENCY_CAPPED"}
