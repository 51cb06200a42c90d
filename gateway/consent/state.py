"""The current state of a customer's choices, derived from the ledger, as SQL.

One definition serves two uses: per-row flags on a page of customers (decided by
`gateway.policy.decide_subject`), and the condition that keeps a filtered or sorted search
inside the customers whose choices allow the purpose (derived from that same function).
Each flag is defined once, as the set of customers for whom it holds (`_flag_sets`), and
used either as a correlated EXISTS (one indexed probe per row: flags of a few rows) or as
`id IN (set)` (one hashed set per statement: the filter of a listing over every customer).
"""

from __future__ import annotations

from datetime import datetime
from itertools import product
from math import prod
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, exists, false, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement as _CE

from gateway.consent.purposes import Purpose
from gateway.consent.tables import consent_state, preference_state
from gateway.policy.subject import SubjectFlags, decide_subject

# The moment consent expiry is judged at: a value, or a bound parameter supplied when the
# statement runs (so that a statement can be built once and reused).
Instant = datetime | ColumnElement[datetime]


def _preference_set(kind: str, key: str, value: str) -> Select[Any]:
    """The customers whose current `kind`/`key` choice (preference_state) is `value`."""
    ps = preference_state
    return select(ps.c.customer_id).where(ps.c.kind == kind, ps.c.key == key, ps.c.value == value)


def _consent_set(purpose: Purpose, now: Instant) -> Select[Any]:
    """The customers with an active consent: latest event a grant, not expired, to a notice
    still in force."""
    cs = consent_state
    return select(cs.c.customer_id).where(
        cs.c.purpose == purpose.name,
        cs.c.action == "grant",
        cs.c.notice_version >= purpose.min_valid_notice_version,
        or_(cs.c.expires_at.is_(None), cs.c.expires_at > now),
    )


def _preference_flags(purpose: Purpose) -> tuple[tuple[str, str, str] | None, ...]:
    """The (kind, key, value) of each flag of `gateway.policy.SubjectFlags` read from
    preference_state, in its order (None: the consent flag, or a flag that holds for nobody
    under this purpose)."""
    return (
        ("restriction", "processing", "on"),
        None if purpose.objection_scope is None else ("objection", purpose.objection_scope, "on"),
        None,
        None if purpose.channel is None else ("channel", purpose.channel, "opt_out"),
    )


def _flag_sets(purpose: Purpose, now: Instant) -> tuple[Select[Any] | None, ...]:
    """The flags of `gateway.policy.SubjectFlags`, in its order, each as the set of customers
    for whom it holds (None: it holds for nobody under this purpose)."""
    restriction, objection, _, channel = _preference_flags(purpose)
    return (
        None if restriction is None else _preference_set(*restriction),
        None if objection is None else _preference_set(*objection),
        _consent_set(purpose, now),
        None if channel is None else _preference_set(*channel),
    )


def flag_sets(purpose: Purpose, now: Instant) -> tuple[Select[Any] | None, ...]:
    """The flags of `gateway.policy.SubjectFlags`, in its order, each as the select of the
    customers for whom it holds (None: nobody under this purpose). Each select reads one
    state table whose primary key holds at most one row per customer for it (consent_state:
    customer and purpose; preference_state: customer, kind and key), so it can be outer-joined
    to `customers` without repeating anyone (gateway/activation/gate.py `audience_facts`)."""
    return _flag_sets(purpose, now)


def _holds(customer_id: ColumnElement[int], found: Select[Any] | None) -> ColumnElement[bool]:
    """The customer is in `found`, as a correlated EXISTS (one indexed probe per row)."""
    if found is None:
        return false()
    table = found.get_final_froms()[0]
    return exists(found.where(table.c.customer_id == customer_id))


def _member(customer_id: ColumnElement[int], found: Select[Any] | None) -> ColumnElement[bool]:
    """The customer is in `found`, as `id IN (uncorrelated subquery)`: one set per statement."""
    return false() if found is None else customer_id.in_(found)


def restricted(customer_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The customer restricted processing (Art. 18)."""
    return _holds(customer_id, _preference_set("restriction", "processing", "on"))


def objected(customer_id: ColumnElement[int], purpose: Purpose) -> ColumnElement[bool]:
    """The customer objected (Art. 21) to the kind of processing `purpose` belongs to."""
    if purpose.objection_scope is None:
        return false()
    return _holds(customer_id, _preference_set("objection", purpose.objection_scope, "on"))


def channel_opted_out(customer_id: ColumnElement[int], purpose: Purpose) -> ColumnElement[bool]:
    """The customer's latest choice for the channel `purpose` contacts them through is an
    opt-out. No choice recorded is not an opt-out (the consent is the opt-in)."""
    if purpose.channel is None:
        return false()
    return _holds(customer_id, _preference_set("channel", purpose.channel, "opt_out"))


def consented(customer_id: ColumnElement[int], purpose: Purpose, now: Instant) -> ColumnElement[bool]:
    """An active consent: latest event a grant, not expired, to a notice still in force."""
    return _holds(customer_id, _consent_set(purpose, now))


# The select labels of the flags (see `subject_flag_columns` and `flags_of`).
_LABELS = tuple(f"_{name}" for name in SubjectFlags._fields)


def _flag_expressions(
    customer_id: ColumnElement[int], purpose: Purpose, now: Instant
) -> tuple[ColumnElement[bool], ...]:
    """The flags of `gateway.policy.SubjectFlags`, each as an SQL condition, in its order."""
    return tuple(_holds(customer_id, found) for found in _flag_sets(purpose, now))


def subject_flag_columns(
    customer_id: ColumnElement[int], purpose: Purpose, now: Instant
) -> list[_CE[bool]]:
    """The flags of `gateway.policy.SubjectFlags`, as labelled select columns (see `flags_of`)."""
    exprs = _flag_expressions(customer_id, purpose, now)
    return [expr.label(label) for label, expr in zip(_LABELS, exprs, strict=True)]


def page_flag_columns(
    customer_id: ColumnElement[int], purpose: Purpose, now: Instant, ids: BindParameter[Any]
) -> list[_CE[bool]]:
    """`subject_flag_columns` for a statement over the customers `ids` (an expanding bound
    parameter) only: each flag's set narrowed to those ids, so that it is read by primary-key
    probes of the state tables (one lookup per page) whatever the planner estimates of the
    whole set (PostgreSQL hashed whole sets, 0.7-1.3 ms a page: issue 15, target 5)."""
    exprs = [
        _member(customer_id, None if found is None else
                found.where(found.get_final_froms()[0].c.customer_id.in_(ids)))
        for found in _flag_sets(purpose, now)
    ]
    return [expr.label(label) for label, expr in zip(_LABELS, exprs, strict=True)]


def flags_of(row: Any) -> SubjectFlags:
    """The flags of a row selected with `subject_flag_columns` (the read path's one reader
    of them, so a new flag cannot be left out of the per-row decision)."""
    return SubjectFlags._make([bool(getattr(row, label)) for label in _LABELS])


def _allows(purpose: Purpose, exprs: tuple[ColumnElement[bool], ...]) -> ColumnElement[bool]:
    """The combinations of flags `decide_subject` allows, as one condition over `exprs`."""
    allowed = [
        combo for combo in product((False, True), repeat=len(exprs))
        if decide_subject(purpose, SubjectFlags(*combo)).allowed
    ]
    if not allowed:
        return false()
    # The usual shape is a cube (each flag either irrelevant or required to be one value):
    # then the condition is one conjunction over the flags that matter.
    values = [frozenset(combo[i] for combo in allowed) for i in range(len(exprs))]
    if len(allowed) == prod(len(v) for v in values):
        fixed = [exprs[i] if True in v else not_(exprs[i]) for i, v in enumerate(values) if len(v) == 1]
        return and_(*fixed) if fixed else ~false()
    return or_(*(
        and_(*(e if on else not_(e) for e, on in zip(exprs, combo, strict=True))) for combo in allowed
    ))


def subject_allows(customer_id: ColumnElement[int], purpose: Purpose, now: Instant) -> ColumnElement[bool]:
    """The SQL condition under which `gateway.policy.decide_subject` allows `purpose`.

    Not a second statement of the rule: `decide_subject` is asked for every combination of
    flags, and the combinations it allows become the condition. So the per-row decision and
    the filter of a search (or count) cannot drift apart.
    """
    return _allows(purpose, _flag_expressions(customer_id, purpose, now))


def _probed(customer_id: ColumnElement[int], found: Select[Any]) -> ColumnElement[bool]:
    """The customer is in `found`, as a correlated EXISTS evaluated per row: `OFFSET 0` keeps
    PostgreSQL from turning it into a semi or anti join, whose plan depends on estimates of
    the whole set (a nested loop over every flagged row per customer at worst); a per-row
    probe of the state table's primary key costs the same whatever the set's size."""
    table = found.get_final_froms()[0]
    return exists(found.where(table.c.customer_id == customer_id).offset(0))


def _unindexed(kind: str, key: str, value: str) -> ColumnElement[bool]:
    """`_preference_set`'s condition with `kind` compared as `kind || ''` (the same value),
    for a probe by the primary key's leading `customer_id`: `kind = 'restriction' AND key =
    'processing'` alone lets PostgreSQL probe `ix_preference_state_kind_key` instead and
    filter every customer's row of that kind on each probe (59 rows a probe on the demo
    data: 0.6 ms a page); no index on `kind` can serve `kind || ''`."""
    ps = preference_state
    return and_(ps.c.kind.concat("") == kind, ps.c.key == key, ps.c.value == value)


def subject_allows_rows(customer_id: ColumnElement[int], purpose: Purpose,
                        now: Instant) -> ColumnElement[bool]:
    """`subject_allows` for a statement that visits a few rows in an index's order (a page in
    the reader's stored order): the state tables probed per row by their primary keys. The
    preference flags the purpose needs absent are one probe of the customer's preference rows
    (their conditions OR-ed) rather than one per flag. Shapes that are not one conjunction of
    flags fall back to `subject_allows`."""
    sets = _flag_sets(purpose, now)
    allowed = [combo for combo in product((False, True), repeat=len(sets))
               if decide_subject(purpose, SubjectFlags(*combo)).allowed]
    values = [frozenset(combo[i] for combo in allowed) for i in range(len(sets))]
    if not allowed or len(allowed) != prod(len(v) for v in values):
        return subject_allows(customer_id, purpose, now)
    conditions: list[ColumnElement[bool]] = []
    absent: list[ColumnElement[bool]] = []
    for found, value, preference in zip(sets, values, _preference_flags(purpose), strict=True):
        if len(value) != 1 or found is None:
            # Irrelevant to this purpose, or holds for nobody (then it must not be required).
            if found is None and True in value and len(value) == 1:
                return false()
            continue
        if True in value:
            conditions.append(_probed(customer_id, found))
        elif preference is not None:
            absent.append(_unindexed(*preference))
        else:
            conditions.append(not_(_probed(customer_id, found)))
    if absent:
        conditions.append(not_(_probed(customer_id, select(preference_state.c.customer_id)
                                       .where(or_(*absent)))))
    return and_(*conditions) if conditions else ~false()


def subject_allows_listing(customer_id: ColumnElement[int], purpose: Purpose,
                           now: Instant) -> ColumnElement[bool]:
    """`subject_allows` with each flag as `id [NOT] IN (uncorrelated set)`: the filter of a
    listing that visits every customer (the app's own order ranks them all).

    PostgreSQL plans the correlated form of a negated flag as a nested-loop anti join over
    the flagged rows (customers x flagged comparisons per page); the uncorrelated form is
    one hashed set per flag, built once per statement (issue 15, target 5).
    """
    return _allows(purpose, tuple(_member(customer_id, found) for found in _flag_sets(purpose, now)))


def consent_status(
    action: str, notice_version: int, expires_at: datetime | None, purpose: Purpose, now: datetime
) -> str:
    """The status shown for one `consent_state` row; `granted` exactly when `consented` holds."""
    if action != "grant":
        return {"deny": "denied", "withdraw": "withdrawn"}.get(action, action)
    if notice_version < purpose.min_valid_notice_version:
        return "superseded"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "granted"
