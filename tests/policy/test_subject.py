"""The subject's side: decide_subject, its SQL twin, consent_status and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from gateway.consent.ledger import append_consent, append_preference
from gateway.consent.purposes import Purpose, Purposes
from gateway.consent.state import consent_status, flags_of, subject_allows, subject_flag_columns
from gateway.consent.tables import (
    consent_events,
    consent_state,
    preference_events,
    preference_state,
)
from gateway.policy import Code, SubjectFlags, decide_subject
from gateway.profile.tables import customers
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.types import utcnow
from tests.databases import DatabaseFactory

NONE = SubjectFlags(restricted=False, objected=False, consented=False, channel_opted_out=False)
RESTRICTED = NONE._replace(restricted=True)
OBJECTED = NONE._replace(objected=True)
CONSENTED = NONE._replace(consented=True)
OPTED_OUT = NONE._replace(channel_opted_out=True)
EVERYTHING = SubjectFlags(restricted=True, objected=True, consented=True, channel_opted_out=True)

# (purpose, flags) -> code; purposes from purposes.yaml unless marked synthetic below.
SUBJECT_TABLE: list[tuple[str, SubjectFlags, Code]] = [
    # contract: only restriction stops it; an objection is out of its scope
    ("service", NONE, Code.ALLOWED),
    ("service", OBJECTED, Code.ALLOWED),
    ("service", RESTRICTED, Code.RESTRICTED),
    ("support", CONSENTED._replace(objected=True), Code.ALLOWED),
    # legitimate interest with an objection scope: objection stops it, consent is not needed
    ("analytics", NONE, Code.ALLOWED),
    ("analytics", OBJECTED, Code.OBJECTED),
    ("profiling", OBJECTED._replace(consented=True), Code.OBJECTED),
    ("profiling", RESTRICTED._replace(objected=True), Code.RESTRICTED),
    # legitimate interest with its own objection scope (Art. 21 against identity resolution)
    ("identity_resolution", OBJECTED, Code.OBJECTED),  # matched on exact keys only (gateway/linkage)
    ("identity_resolution", RESTRICTED, Code.RESTRICTED),
    # consent: an active consent is needed; objection and restriction still stop it
    ("marketing_email", NONE, Code.CONSENT_REQUIRED),
    ("marketing_email", CONSENTED, Code.ALLOWED),
    ("marketing_sms", OBJECTED, Code.CONSENT_REQUIRED),
    ("marketing_sms", CONSENTED._replace(objected=True), Code.OBJECTED),
    ("marketing_push", CONSENTED._replace(restricted=True), Code.RESTRICTED),
    ("ads_audience", EVERYTHING, Code.RESTRICTED),
    ("ads_audience", CONSENTED, Code.ALLOWED),
    # a purpose with a channel: an opt-out of that channel stops it, after the wider reasons
    ("marketing_email", CONSENTED._replace(channel_opted_out=True), Code.CHANNEL_OPTED_OUT),
    ("marketing_sms", CONSENTED._replace(channel_opted_out=True), Code.CHANNEL_OPTED_OUT),
    ("marketing_push", CONSENTED._replace(channel_opted_out=True), Code.CHANNEL_OPTED_OUT),
    ("marketing_email", OPTED_OUT, Code.CONSENT_REQUIRED),
    ("marketing_email", CONSENTED._replace(objected=True, channel_opted_out=True), Code.OBJECTED),
    ("marketing_push", EVERYTHING, Code.RESTRICTED),
    # without a channel the flag is irrelevant (ads_audience reaches people on partner platforms)
    ("ads_audience", CONSENTED._replace(channel_opted_out=True), Code.ALLOWED),
    ("service", OPTED_OUT, Code.ALLOWED),
    ("analytics", OPTED_OUT, Code.ALLOWED),
    # legal obligation and self service are exempt from restriction (Art. 18(2))
    ("compliance_audit", RESTRICTED, Code.ALLOWED),
    ("compliance_audit", EVERYTHING, Code.ALLOWED),
    ("self_service", RESTRICTED._replace(objected=True), Code.ALLOWED),
    # synthetic purposes: the rules hold whatever the combination
    ("synthetic_exempt_consent", RESTRICTED, Code.CONSENT_REQUIRED),
    ("synthetic_exempt_consent", RESTRICTED._replace(consented=True), Code.ALLOWED),
    ("synthetic_exempt_consent", EVERYTHING, Code.OBJECTED),
    ("synthetic_contract_objectable", OBJECTED, Code.OBJECTED),
    ("synthetic_contract_objectable", NONE, Code.ALLOWED),
]


def _letters(flags: SubjectFlags) -> str:
    """R(estricted) O(bjected) C(onsented) X (channel opted out), for test ids."""
    return "".join(c for c, on in zip("ROCX", flags, strict=True) if on) or "none"


def _purpose(purposes: Purposes, name: str) -> Purpose:
    if name == "synthetic_exempt_consent":
        return replace(purposes.by_name["marketing_email"], name=name, restriction_exempt=True)
    if name == "synthetic_contract_objectable":
        return replace(purposes.by_name["service"], name=name, objection_scope="profiling")
    return purposes.by_name[name]


@pytest.mark.parametrize(
    ("purpose_name", "flags", "code"), SUBJECT_TABLE,
    ids=[f"{p}-{_letters(f)}-{c}" for p, f, c in SUBJECT_TABLE],
)
def test_decide_subject(
    purposes: Purposes, purpose_name: str, flags: SubjectFlags, code: Code
) -> None:
    # given: a purpose and the subject's flags for it
    purpose = _purpose(purposes, purpose_name)
    # when: deciding
    decision = decide_subject(purpose, flags)
    # then: the code of the table, allowed exactly when ALLOWED
    assert decision.code is code
    assert decision.allowed is (code is Code.ALLOWED)


def test_subject_table_covers_every_purpose_and_basis(purposes: Purposes) -> None:
    # given: the purposes named by the table
    named = {p for p, _, _ in SUBJECT_TABLE}
    # then: every shipped purpose, hence every basis, is exercised
    assert set(purposes.by_name) <= named
    assert {p.basis for p in purposes.by_name.values()} == {
        "contract", "legal_obligation", "legitimate_interest", "consent"}


# --- the SQL twin, on a database --------------------------------------------------------------

CONSENT_PURPOSES = ("marketing_email", "marketing_sms", "marketing_push", "ads_audience")
ALL_PURPOSES = frozenset({
    "service", "support", "analytics", "profiling", "marketing_email", "marketing_sms",
    "marketing_push", "ads_audience", "identity_resolution", "compliance_audit", "self_service",
})
NON_CONSENT = ALL_PURPOSES - set(CONSENT_PURPOSES)
EXEMPT = frozenset({"compliance_audit", "self_service"})


@dataclass(frozen=True)
class Consent:
    """A consent event for `purposes` (None: the purpose's current notice)."""

    action: str
    purposes: tuple[str, ...] = CONSENT_PURPOSES
    version: int | None = None
    expires_in: timedelta | None = None


@dataclass(frozen=True)
class Pref:
    """A preference event (objection, restriction or channel)."""

    kind: str
    key: str
    value: str


GRANT_ALL = Consent("grant")

# customer state -> (events in the order they occurred, purposes its choices allow)
STATES: dict[str, tuple[list[Consent | Pref], frozenset[str]]] = {
    "no_consent": ([], NON_CONSENT),
    "granted": ([GRANT_ALL], ALL_PURPOSES),
    "denied": ([Consent("deny")], NON_CONSENT),
    "withdrawn": ([GRANT_ALL, Consent("withdraw")], NON_CONSENT),
    "regranted": ([GRANT_ALL, Consent("withdraw"), GRANT_ALL], ALL_PURPOSES),
    "expired": ([Consent("grant", expires_in=timedelta(days=-1))], NON_CONSENT),
    "expires_later": ([Consent("grant", expires_in=timedelta(days=30))], ALL_PURPOSES),
    "superseded_sms_v1": (
        [Consent("grant", ("marketing_email", "marketing_push", "ads_audience")),
         Consent("grant", ("marketing_sms",), version=1)],
        ALL_PURPOSES - {"marketing_sms"},
    ),
    # marketing_email v2 is not material: a grant to v1 still counts
    "email_v1_only": ([Consent("grant", ("marketing_email",), version=1)],
                      NON_CONSENT | {"marketing_email"}),
    "objected_profiling": ([GRANT_ALL, Pref("objection", "profiling", "on")],
                           ALL_PURPOSES - {"analytics", "profiling"}),
    "objected_marketing": ([GRANT_ALL, Pref("objection", "direct_marketing", "on")],
                           NON_CONSENT),
    "objection_lifted": ([GRANT_ALL, Pref("objection", "direct_marketing", "on"),
                          Pref("objection", "direct_marketing", "off")], ALL_PURPOSES),
    "restricted": ([GRANT_ALL, Pref("restriction", "processing", "on")], EXEMPT),
    "restricted_no_consent": ([Pref("restriction", "processing", "on")], EXEMPT),
    "restriction_lifted": ([GRANT_ALL, Pref("restriction", "processing", "on"),
                            Pref("restriction", "processing", "off")], ALL_PURPOSES),
    # a channel opt-out stops the purposes that contact the customer through that channel
    "email_channel_opt_out": ([GRANT_ALL, Pref("channel", "email", "opt_out")],
                              ALL_PURPOSES - {"marketing_email"}),
    "sms_push_opted_out": ([GRANT_ALL, Pref("channel", "sms", "opt_out"),
                            Pref("channel", "push", "opt_out")],
                           ALL_PURPOSES - {"marketing_sms", "marketing_push"}),
    "email_opted_back_in": ([GRANT_ALL, Pref("channel", "email", "opt_out"),
                             Pref("channel", "email", "opt_in")], ALL_PURPOSES),
    # an explicit opt-in is not needed: the consent is the opt-in
    "email_opted_in": ([GRANT_ALL, Pref("channel", "email", "opt_in")], ALL_PURPOSES),
    # channels no purpose uses change nothing
    "post_phone_opted_out": ([GRANT_ALL, Pref("channel", "post", "opt_out"),
                              Pref("channel", "phone", "opt_out")], ALL_PURPOSES),
    "email_opt_out_no_consent": ([Pref("channel", "email", "opt_out")], NON_CONSENT),
}


@dataclass
class Grid:
    """A migrated database holding one customer per state."""

    engine: Engine
    ids: dict[str, int]
    now: datetime


def _add_customer(conn: Connection, now: datetime) -> int:
    return int(conn.execute(
        insert(customers).values(created_at=now, updated_at=now, city="Grid")
        .returning(customers.c.id)
    ).scalar_one())


def _record(conn: Connection, purposes: Purposes, cid: int, events: list[Consent | Pref],
            start: datetime, now: datetime) -> None:
    for step, event in enumerate(events):
        when = start + timedelta(minutes=step)
        if isinstance(event, Pref):
            append_preference(conn, customer_id=cid, kind=event.kind, key=event.key,
                              value=event.value, source_channel="api", occurred_at=when)
            continue
        for name in event.purposes:
            current = purposes.by_name[name].current_notice
            assert current is not None
            append_consent(
                conn, customer_id=cid, purpose=name, action=event.action, source_channel="portal",
                notice_version=event.version or current.version, occurred_at=when,
                expires_at=now + event.expires_in if event.expires_in is not None else None,
            )


@pytest.fixture(scope="module")
def grid(databases: DatabaseFactory, purposes: Purposes) -> Iterator[Grid]:
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for state, (events, _) in STATES.items():
            ids[state] = _add_customer(conn, now)
            _record(conn, purposes, ids[state], events, now - timedelta(hours=1), now)
    yield Grid(engine, ids, now)
    engine.dispose()


@pytest.mark.parametrize("purpose_name", sorted(ALL_PURPOSES))
def test_sql_agrees_with_decide_subject(grid: Grid, purposes: Purposes, purpose_name: str) -> None:
    # given: one customer in every state, and one purpose
    purpose = purposes.by_name[purpose_name]
    cid = customers.c.id
    # when: the flags and the filter are computed in SQL
    with grid.engine.connect() as conn:
        rows = conn.execute(
            select(cid, *subject_flag_columns(cid, purpose, grid.now),
                   subject_allows(cid, purpose, grid.now).label("_allows"))
            .where(cid.in_(grid.ids.values()))
        ).all()
        states = {
            r.customer_id: r for r in conn.execute(
                select(consent_state).where(consent_state.c.purpose == purpose_name)
            )
        }
    by_id = {r.id: r for r in rows}
    for state, cid_value in grid.ids.items():
        row = by_id[cid_value]
        flags = flags_of(row)
        decision = decide_subject(purpose, flags)
        # then: the SQL filter agrees with the per-row decision, and both with intent
        assert bool(row._allows) is decision.allowed, state
        assert decision.allowed is (purpose_name in STATES[state][1]), (state, decision)
        # and: for a consent purpose, `granted` is shown exactly when the flag holds
        if purpose.basis == "consent":
            found = states.get(cid_value)
            status = (consent_status(found.action, found.notice_version, found.expires_at,
                                     purpose, grid.now) if found is not None else None)
            assert (status == "granted") is flags.consented, (state, status)


def test_consent_status_names_each_state(grid: Grid, purposes: Purposes) -> None:
    # given: the grid's customers
    sms = purposes.by_name["marketing_sms"]
    expected = {
        "granted": "granted", "denied": "denied", "withdrawn": "withdrawn",
        "regranted": "granted", "expired": "expired", "expires_later": "granted",
        "superseded_sms_v1": "superseded",
    }
    # when: reading marketing_sms's state rows
    with grid.engine.connect() as conn:
        rows = {r.customer_id: r for r in conn.execute(
            select(consent_state).where(consent_state.c.purpose == "marketing_sms"))}
    # then: each shows the status its history implies
    for state, status in expected.items():
        row = rows[grid.ids[state]]
        shown = consent_status(row.action, row.notice_version, row.expires_at, sms, grid.now)
        assert shown == status, state
    assert grid.ids["no_consent"] not in rows


# --- the ledger ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_later_consent_event_wins(ledger_engine: Engine) -> None:
    # given: a customer who granted, then withdrew
    t0 = utcnow() - timedelta(days=2)
    with ledger_engine.begin() as conn:
        cid = _add_customer(conn, t0)
        append_consent(conn, customer_id=cid, purpose="marketing_push", notice_version=1,
                       action="grant", source_channel="portal", occurred_at=t0)
        withdrawal = append_consent(conn, customer_id=cid, purpose="marketing_push",
                                    notice_version=1, action="withdraw", source_channel="portal",
                                    occurred_at=t0 + timedelta(hours=1))
    # when: reading the state
    with ledger_engine.connect() as conn:
        state = conn.execute(select(consent_state).where(consent_state.c.customer_id == cid)).one()
    # then: the withdrawal is the state
    assert (state.action, state.event_id) == ("withdraw", withdrawal)
    assert state.occurred_at == t0 + timedelta(hours=1)


def test_backdated_consent_event_stays_in_history_only(ledger_engine: Engine) -> None:
    # given: a customer who withdrew yesterday
    yesterday = utcnow() - timedelta(days=1)
    with ledger_engine.begin() as conn:
        cid = _add_customer(conn, yesterday)
        withdrawal = append_consent(conn, customer_id=cid, purpose="ads_audience",
                                    notice_version=1, action="withdraw",
                                    source_channel="portal", occurred_at=yesterday)
    # when: a grant from last month arrives late (an import)
    with ledger_engine.begin() as conn:
        late = append_consent(conn, customer_id=cid, purpose="ads_audience", notice_version=1,
                              action="grant", source_channel="import",
                              occurred_at=yesterday - timedelta(days=30))
    # then: the state still holds the withdrawal; the history holds both events
    with ledger_engine.connect() as conn:
        state = conn.execute(select(consent_state).where(consent_state.c.customer_id == cid)).one()
        history = conn.execute(
            select(consent_events.c.id, consent_events.c.action)
            .where(consent_events.c.customer_id == cid).order_by(consent_events.c.id)
        ).all()
    assert (state.action, state.event_id) == ("withdraw", withdrawal)
    assert [tuple(h) for h in history] == [(withdrawal, "withdraw"), (late, "grant")]


def test_backdated_preference_event_stays_in_history_only(ledger_engine: Engine) -> None:
    # given: a customer who lifted a restriction an hour ago
    hour_ago = utcnow() - timedelta(hours=1)
    with ledger_engine.begin() as conn:
        cid = _add_customer(conn, hour_ago)
        lifted = append_preference(conn, customer_id=cid, kind="restriction", key="processing",
                                   value="off", source_channel="portal", occurred_at=hour_ago)
    # when: the older restriction arrives afterwards
    with ledger_engine.begin() as conn:
        append_preference(conn, customer_id=cid, kind="restriction", key="processing",
                          value="on", source_channel="import",
                          occurred_at=hour_ago - timedelta(days=3))
    # then: the state is still "off", and both events are kept
    with ledger_engine.connect() as conn:
        state = conn.execute(
            select(preference_state).where(preference_state.c.customer_id == cid)).one()
        count = conn.execute(
            select(func.count()).select_from(preference_events)
            .where(preference_events.c.customer_id == cid)).scalar_one()
    assert (state.value, state.event_id) == ("off", lifted)
    assert count == 2
