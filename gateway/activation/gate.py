"""The gate: may this message reach this customer on this channel for this purpose, now?

One decision, in one function (`reason`), over facts that SQL computes in bulk:

- the subject's flags for the purpose (`gateway.consent.state.subject_flag_columns`, decided
  by `gateway.policy.decide_subject`: restriction, consent, objection, channel opt-out);
- the global suppression list (by customer, or by the address's blind index), which wins
  over everything;
- a way to reach them on the channel (an email address, a phone number);
- the customer's frequency cap on the channel from the preference center, counted over the
  messages actually sent, by every campaign and trigger.

A dry run counts the audience per combination of these facts in SQL (each fact the set it
holds for, `fact_sets`; gateway/activation/tally.py) and maps each through `reason`;
the worker decides each message of a batch through `reason` when it leaves; a plan enqueues
the audience where the SQL twin of `reason` (`allowed_condition`) holds. The three cannot
drift apart: the SQL twin is derived from `reason` itself, as `subject_allows` is derived
from `decide_subject`.
"""

from __future__ import annotations

from datetime import datetime
from itertools import product
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    FromClause,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from gateway.activation.caps import CAPPED_CHANNELS
from gateway.activation.tables import activation_messages, activation_suppressions
from gateway.consent.purposes import Purpose
from gateway.consent.state import flag_sets
from gateway.consent.tables import preference_state
from gateway.policy import SubjectFlags, decide_subject
from gateway.policy.codes import Code
from gateway.profile.tables import customers

NOW_EPOCH = bindparam("now_epoch", type_=BigInteger())
# The exclusion reasons a dry run reports, in the order they are decided.
REASONS = (Code.SUPPRESSED, Code.RESTRICTED, Code.CONSENT_REQUIRED, Code.OBJECTED,
           Code.CHANNEL_OPTED_OUT, Code.NO_CONTACT, Code.FREQUENCY_CAPPED)


class Present(NamedTuple):
    """Which kinds of entries exist at all (asked once per run): a check on a kind nobody
    has is `false` in SQL instead of a lookup per customer. It changes no answer."""

    scopes: frozenset[str]  # suppression scopes with a live entry for the channel
    caps: bool  # some customer has a frequency cap on the channel


ALL_PRESENT = Present(frozenset({"customer", "email", "phone"}), True)


def present(conn: Connection, channel: str, now: datetime) -> Present:
    """What exists now for `channel` (see Present)."""
    s, ps = activation_suppressions.c, preference_state.c
    scopes = frozenset(conn.execute(select(s.scope).where(
        or_(s.channel.is_(None), s.channel == channel),
        or_(s.expires_at.is_(None), s.expires_at > now)).distinct()).scalars())
    caps = channel in CAPPED_CHANNELS and conn.execute(select(ps.customer_id).where(
        ps.kind == "channel", ps.key == channel, ps.cap_count.is_not(None)).limit(1)).first() is not None
    return Present(scopes, caps)


class Facts(NamedTuple):
    """What the gate decides on, for one customer and one destination, at one moment."""

    flags: SubjectFlags
    suppressed: bool
    reachable: bool
    capped: bool


def reason(purpose: Purpose, facts: Facts) -> Code | None:
    """Why the message must not leave, or None when it may.

    Suppression first (a hard bounce or a legal hold holds whatever the person chose), then
    the subject's own choices, then whether they can be reached at all, then the cap.
    """
    if facts.suppressed:
        return Code.SUPPRESSED
    subject = decide_subject(purpose, facts.flags)
    if not subject.allowed:
        return subject.code
    if not facts.reachable:
        return Code.NO_CONTACT
    if facts.capped:
        return Code.FREQUENCY_CAPPED
    return None


def epoch(moment: datetime) -> int:
    """Whole seconds since 1970 (the unit `sent_epoch` is kept in)."""
    return int(moment.timestamp())


# --- the facts, as SQL over `customers` ------------------------------------------------------


def _live_suppression(channel: str, now: datetime) -> ColumnElement[bool]:
    """A suppression that holds for `channel` at `now` (one for every channel, or not expired)."""
    s = activation_suppressions.c
    return and_(or_(s.channel.is_(None), s.channel == channel),
                or_(s.expires_at.is_(None), s.expires_at > now))


def suppressed(customer_id: ColumnElement[int], channel: str, now: datetime,
               there: Present = ALL_PRESENT) -> ColumnElement[bool]:
    """The customer or one of their addresses is on the suppression list for `channel`."""
    s = activation_suppressions.c
    live = _live_suppression(channel, now)
    checks: list[ColumnElement[bool]] = []
    if "customer" in there.scopes:
        checks.append(exists(select(s.id).where(
            s.scope == "customer", s.customer_id == customer_id, live)))
    for scope, column in (("email", customers.c.email_bidx), ("phone", customers.c.phone_bidx)):
        if scope in there.scopes:
            checks.append(and_(column.is_not(None), exists(select(s.id).where(
                s.scope == scope, s.digest == column, live))))
    return or_(*checks) if checks else false()


def reachable(channel: str) -> ColumnElement[bool]:
    """The customer has what `channel` reaches them through."""
    c = customers.c
    if channel == "email":
        return c.email.is_not(None)
    if channel == "sms":
        return c.phone.is_not(None)
    if channel == "ads_audience":
        return or_(c.email.is_not(None), c.phone.is_not(None))
    return true()  # push: the app reaches its installs through the destination's pseudonym


def capped(customer_id: ColumnElement[int], channel: str,
           there: Present = ALL_PRESENT) -> ColumnElement[bool]:
    """The customer's frequency cap on `channel` is reached by messages already sent.

    The SQL twin of `gateway.activation.caps.Caps.reached` (the same sent messages, window
    and comparison), for plans and dry runs that decide a whole audience in one statement.
    Bound parameter `now_epoch` (seconds): the window is the cap's period before it. The
    capped customers are one uncorrelated set (evaluated once per statement, then probed),
    not a count per customer: a correlated count inside a plan's INSERT ... SELECT into the
    outbox would scan the table the statement is filling, once per customer.
    """
    if channel not in CAPPED_CHANNELS or not there.caps:
        return false()
    return customer_id.in_(_reached(channel))


def _reached(channel: str) -> Select[Any]:
    """The customers whose cap on `channel` is reached (one row each: a customer has one
    preference per channel), at bound parameter `now_epoch`."""
    ps, m = preference_state.c, activation_messages.c
    return (
        select(ps.customer_id)
        .select_from(preference_state.join(activation_messages, and_(
            m.customer_id == ps.customer_id, m.channel == channel, m.kind == "message",
            m.status == "sent", m.sent_epoch > NOW_EPOCH - ps.cap_period_days * 86400)))
        .where(ps.kind == "channel", ps.key == channel, ps.cap_count.is_not(None))
        .group_by(ps.customer_id, ps.cap_count)
        .having(func.count() >= ps.cap_count)
    )


# --- the same facts for a whole audience ---------------------------------------------------
#
# A dry run or a plan decides every member of an audience at once. There each fact is the
# set of customers it holds for, asked once per statement, in the form each database runs
# best over a whole audience (`joined`):
#
# - PostgreSQL: an outer join of `customers` to the set (one row per customer at most), the
#   fact being "the join found a row": one hash or merge join, spilled to disk in batches
#   when the set outgrows its memory, and run in parallel workers. Not `id IN (set)` in the
#   select list: PostgreSQL hashes such a set only while it fits in hash_mem (8 MB by
#   default) and otherwise rescans it for every member (a 1M-customer audience against 800k
#   consents: hundreds of billions of comparisons, the statement never ends).
# - SQLite: `id IN (set)`, one ephemeral index built per set and statement and probed per
#   member (the joins there are a primary-key search per member and fact, 1.4x the time).
#
# The sets are those of gateway/consent/state.py (`flag_sets`) and of `suppressed`;
# tests/activation/test_bulk.py checks both forms agree with the per-customer form on
# customers in every state. Only for whole audiences: for a page of customers the correlated
# form reads a few index entries where a set is read whole.


class FactSet(NamedTuple):
    """One set a fact holds for: the fact holds for a customer in any of its sets."""

    fact: int  # its index in the order of Facts (the flags first)
    found: Select[Any]  # one column: customer ids, or address digests; at most one row each
    key: ColumnElement[Any]  # the column of `customers` the set is matched on


def fact_sets(purpose: Purpose, channel: str, now: datetime,
              there: Present = ALL_PRESENT) -> list[FactSet]:
    """Every set of every fact of `reason` (reachability is a column: `reachable`), each of
    at most one row per customer or digest. A fact with no set holds for nobody.

    Bound parameter `now_epoch` (see `capped`).
    """
    cid = customers.c.id
    sets = [FactSet(i, found, cid) for i, found in enumerate(flag_sets(purpose, now))
            if found is not None]  # one row per customer at most (their primary keys)
    s = activation_suppressions.c
    live = _live_suppression(channel, now)
    held = len(SubjectFlags._fields)
    if "customer" in there.scopes:
        sets.append(FactSet(held, select(s.customer_id).where(
            s.scope == "customer", live, s.customer_id.is_not(None)).distinct(), cid))
    for scope, column in (("email", customers.c.email_bidx), ("phone", customers.c.phone_bidx)):
        if scope in there.scopes:
            sets.append(FactSet(held, select(s.digest).where(
                s.scope == scope, live, s.digest.is_not(None)).distinct(), column))
    if channel in CAPPED_CHANNELS and there.caps:
        sets.append(FactSet(held + 2, _reached(channel), cid))
    return sets


REACHABLE = len(SubjectFlags._fields) + 1  # the index of the one fact that is a column
N_FACTS = len(SubjectFlags._fields) + 3  # the flags, suppressed, reachable, capped


class AudienceFacts(NamedTuple):
    """An audience's from-clause with the facts joined in, and the facts over it."""

    source: FromClause
    exprs: tuple[ColumnElement[bool], ...]  # in the order of Facts (the flags first)


def audience_facts(source: FromClause, purpose: Purpose, channel: str, now: datetime,
                   there: Present = ALL_PRESENT, *, joined: bool = True) -> AudienceFacts:
    """The facts of every customer of `source` (a from-clause holding `customers`), each as
    an outer join to its set (`joined`) or as `IN (set)` (see above).

    Bound parameter `now_epoch` (see `capped`).
    """
    held: list[list[ColumnElement[bool]]] = [[] for _ in range(N_FACTS)]
    for fs in fact_sets(purpose, channel, now, there):
        if joined:
            sub = fs.found.subquery()
            source = source.outerjoin(sub, sub.c[0] == fs.key)
            held[fs.fact].append(sub.c[0].is_not(None))
        else:
            # NULL never in the sets: `x IN (..., NULL)` is NULL, not false, for an x not in it.
            held[fs.fact].append(fs.key.in_(fs.found.where(fs.found.selected_columns[0].is_not(None))))
    exprs = [or_(*found) if found else false() for found in held]
    exprs[REACHABLE] = reachable(channel)
    return AudienceFacts(source, tuple(exprs))


def allowed_condition(purpose: Purpose, exprs: tuple[ColumnElement[bool], ...]) -> ColumnElement[bool]:
    """The SQL condition, over the facts `exprs` (see `audience_facts`), under which `reason`
    lets the message leave.

    Derived from `reason` (every combination of the facts it allows), like
    `gateway.consent.state.subject_allows` from `decide_subject`.
    """
    n_flags = len(SubjectFlags._fields)
    combos = [
        combo for combo in product((False, True), repeat=len(exprs))
        if reason(purpose, Facts(SubjectFlags(*combo[:n_flags]), *combo[n_flags:])) is None
    ]
    if not combos:
        return false()
    values = [frozenset(c[i] for c in combos) for i in range(len(exprs))]
    total = 1
    for v in values:
        total *= len(v)
    if total == len(combos):  # a cube: each fact either irrelevant or fixed
        fixed = [exprs[i] if True in v else not_(exprs[i])
                 for i, v in enumerate(values) if len(v) == 1]
        return and_(*fixed) if fixed else true()
    return or_(*(and_(*(e if on else not_(e) for e, on in zip(exprs, combo, strict=True)))
                 for combo in combos))


def facts_of(values: tuple[Any, ...]) -> Facts:
    """The Facts of one row of `audience_facts`' expressions (in their order)."""
    n_flags = len(SubjectFlags._fields)
    flags = SubjectFlags._make(bool(v) for v in values[:n_flags])
    return Facts(flags, *(bool(v) for v in values[n_flags:]))
