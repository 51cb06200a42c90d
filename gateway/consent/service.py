"""The preference center's service: validate a choice, append it to the ledger, sign a receipt.

Every function validates all of its input before it writes, so a ServiceError (INVALID_INPUT,
NOT_FOUND, PURPOSE_UNKNOWN, with the offending `field`) leaves the database untouched. Writes
go to the caller's connection and commit with the caller's transaction (and audit entry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gateway.consent.ledger import (
    CONSENT_ACTIONS,
    SOURCE_CHANNELS,
    append_consent,
    append_preference,
)
from gateway.consent.notices import Notice
from gateway.consent.purposes import CHANNELS, Purposes
from gateway.consent.receipts import Receipt, issue_receipt, new_receipt_id
from gateway.consent.sealing import seal_evidence
from gateway.consent.validation import (
    CHANNEL_VALUES,
    OBJECTIONS,
    ON_OFF,
    check_choice,
    check_evidence,
    check_times,
    consent_purpose,
    invalid,
    notice_digest,
    notice_of,
    notice_text,
    parse_instant,
    text_sha256,
)
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.privacy.datakeys import DataKeys
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.privacy.signing import Signer
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.profile.tables import customers
from gateway.store.types import utcnow

MAX_CAP_COUNT = 1000
MAX_CAP_DAYS = 366


@dataclass(frozen=True)
class Recorder:
    """Who records a choice: the calling app (None for the CLI), how receipts name people,
    and the vault that seals evidence under the customer's data key.

    `full_proof`: the receipt goes to the customer themself (the portal), so it carries the
    hash of the exact notice text they saw and the 152-FZ content of the grant. A receipt
    handed to an app carries only what that app may know: the notice version and its
    language-neutral digest (the text's hash names the customer's language, the 152-FZ
    block their jurisdiction). Neither carries a ledger counter: the receipt id is the
    event's idempotency key, which finds the event without telling how many exist.
    """

    purposes: Purposes
    signer: Signer
    app_id: int | None
    pseudonyms: Pseudonymizer
    vault: Vault
    full_proof: bool = False


@dataclass(frozen=True)
class ConsentInput:
    """One consent event as a caller states it (dates may be ISO 8601 strings)."""

    customer_id: int
    purpose: str
    notice_version: int
    action: str
    source_channel: str
    occurred_at: datetime | str | None = None
    expires_at: datetime | str | None = None
    evidence: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class PreferenceInput:
    """A channel preference, objection or restriction as a caller states it."""

    customer_id: int
    source_channel: str
    occurred_at: datetime | str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class Subject:
    """The few facts about a customer the preference center needs."""

    id: int
    jurisdiction: str
    language: str | None


_SUBJECT = select(customers.c.id, customers.c.jurisdiction, customers.c.language).where(
    customers.c.id == bindparam("customer_id"))
# The subject and their data key in one round trip (a write seals its evidence under it).
_SUBJECT_KEY = select(customers.c.id, customers.c.jurisdiction, customers.c.language,
                      data_keys.c.version, data_keys.c.wrapped).select_from(
    customers.outerjoin(data_keys, data_keys.c.customer_id == customers.c.id)).where(
    customers.c.id == bindparam("customer_id"))


def find_subject(conn: Connection, customer_id: int) -> Subject:
    """The customer `customer_id`; NOT_FOUND when there is none."""
    row = conn.execute(_SUBJECT, {"customer_id": customer_id}).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    return Subject(int(row.id), str(row.jurisdiction), row.language)


def find_subject_keys(conn: Connection, vault: Vault, customer_id: int) -> tuple[Subject, DataKeys]:
    """The customer `customer_id` and a key cache holding their data key (one statement);
    NOT_FOUND when there is none."""
    row = conn.execute(_SUBJECT_KEY, {"customer_id": customer_id}).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no customer with this id", "customerId")
    keys = DataKeys(conn, vault)
    keys.add_wrapped(int(row.id), row.version, row.wrapped)
    return Subject(int(row.id), str(row.jurisdiction), row.language), keys


def fz_details(purposes: Purposes, purpose_name: str, notice: Notice) -> dict[str, Any]:
    """What 152-FZ Art. 9(4) requires a consent to state, as granted to `notice`.

    Stored with the event (and signed into the receipt), so the proof stands on its own
    even after `purposes.yaml` changes. The subject is the event's customer.
    """
    purpose = purposes.by_name[purpose_name]
    content = notice.fz152
    if content is None:  # purposes check refuses a 152-fz notice without its content
        raise ServiceError(Code.INTERNAL, "this notice lacks its 152-FZ content", "noticeVersion")
    return {
        "operator": dict(purposes.operator),
        "purpose": {"name": purpose.name, "description": purpose.description},
        "personal_data": list(content.personal_data),
        "actions": list(content.actions),
        "methods": content.methods,
        "term_days": content.term_days,
        "withdrawal": content.withdrawal,
    }


def fz_expiry(details: dict[str, Any] | None, occurred: datetime,
              expires: datetime | None) -> datetime | None:
    """A 152-FZ grant lasts its notice's `term_days` (Art. 9(4)): the expiry is the earlier
    of the one given and the end of the term."""
    if details is None:
        return expires
    term_end = occurred + timedelta(days=int(details["term_days"]))
    return term_end if expires is None else min(expires, term_end)


def check_jurisdiction(notice: Notice, action: str, jurisdiction: str) -> None:
    """A grant must be to a notice shown in the customer's jurisdiction; a withdrawal or a
    denial is taken whatever text it names (nothing may stand in the way of saying no)."""
    if action == "grant" and jurisdiction not in notice.jurisdictions:
        raise invalid(
            f"notice version {notice.version} is not shown under {jurisdiction}, the customer's "
            "jurisdiction", "noticeVersion",
        )


def _check_channel(source_channel: str) -> str:
    return check_choice(source_channel, SOURCE_CHANNELS, "sourceChannel")


def record_consent(conn: Connection, recorder: Recorder, given: ConsentInput) -> Receipt:
    """Validate and append one consent event; return its signed receipt."""
    action = check_choice(given.action, CONSENT_ACTIONS, "action")
    channel = _check_channel(given.source_channel)
    purpose = consent_purpose(recorder.purposes, given.purpose)
    notice = notice_of(purpose, given.notice_version)
    now = utcnow()
    occurred, expires = check_times(
        parse_instant(given.occurred_at, "occurredAt"), parse_instant(given.expires_at, "expiresAt"), now
    )
    if expires is not None and action != "grant":
        raise invalid("only a grant can expire", "expiresAt")
    evidence = check_evidence(given.evidence)
    subject, keys = find_subject_keys(conn, recorder.vault, given.customer_id)
    check_jurisdiction(notice, action, subject.jurisdiction)
    digest = text_sha256(notice_text(notice, given.language or subject.language))
    details = fz_details(recorder.purposes, purpose.name, notice) if (
        subject.jurisdiction == "152-fz" and action == "grant"
    ) else None
    # The term's end is enforced (stored as the expiry) but the app's receipt shows only the
    # expiry it gave: a term present for some customers only would reveal their jurisdiction.
    # The term itself is in the 152-FZ details of the customer's own receipt.
    stored_expiry = fz_expiry(details, occurred, expires)
    sealed = seal_evidence(keys, "consent_events", subject.id, evidence)
    receipt_id = new_receipt_id()
    append_consent(
        conn, customer_id=subject.id, purpose=purpose.name, notice_version=notice.version,
        action=action, source_channel=channel, occurred_at=occurred, app_id=recorder.app_id,
        evidence=sealed, expires_at=stored_expiry, notice_text_sha256=digest, details=details,
        idempotency_key=receipt_id,
    )
    claims: dict[str, Any] = {
        "customer": recorder.pseudonyms.customer_id(subject.id), "kind": "consent",
        "purpose": purpose.name, "action": action, "notice_version": notice.version,
        "notice_digest": notice_digest(purpose, notice), "occurred_at": occurred.isoformat(),
        "expires_at": expires.isoformat() if expires else None, "source_channel": channel,
    }
    if recorder.full_proof:
        claims["notice_sha256"] = digest
        if details is not None:
            claims["details"] = details
    return issue_receipt(recorder.signer, claims, now, receipt_id)


def _record_preference(
    conn: Connection, recorder: Recorder, given: PreferenceInput, kind: str, key: str, value: str,
    cap: tuple[int, int] | None = None,
) -> Receipt:
    channel = _check_channel(given.source_channel)
    now = utcnow()
    occurred, _ = check_times(parse_instant(given.occurred_at, "occurredAt"), None, now)
    evidence = check_evidence(given.evidence)
    subject, keys = find_subject_keys(conn, recorder.vault, given.customer_id)
    sealed = seal_evidence(keys, "preference_events", subject.id, evidence)
    receipt_id = new_receipt_id()
    append_preference(
        conn, customer_id=subject.id, kind=kind, key=key, value=value, source_channel=channel,
        occurred_at=occurred, cap_count=cap[0] if cap else None,
        cap_period_days=cap[1] if cap else None, app_id=recorder.app_id, evidence=sealed,
        idempotency_key=receipt_id,
    )
    claims: dict[str, Any] = {
        "customer": recorder.pseudonyms.customer_id(subject.id), "kind": kind, "key": key,
        "action": value, "occurred_at": occurred.isoformat(), "source_channel": channel,
    }
    if cap:
        claims["frequency_cap"] = {"count": cap[0], "period_days": cap[1]}
    return issue_receipt(recorder.signer, claims, now, receipt_id)


def set_channel_preference(
    conn: Connection, recorder: Recorder, given: PreferenceInput, channel: str, value: str,
    cap_count: int | None = None, cap_period_days: int | None = None,
) -> Receipt:
    """Opt a customer in to or out of one channel, with an optional frequency cap."""
    check_choice(channel, CHANNELS, "channel")
    check_choice(value, CHANNEL_VALUES, "value")
    cap: tuple[int, int] | None = None
    if (cap_count is None) != (cap_period_days is None):
        raise invalid("a frequency cap needs both a count and a period", "frequencyCap")
    if cap_count is not None and cap_period_days is not None:
        if not 1 <= cap_count <= MAX_CAP_COUNT:
            raise invalid(f"must be between 1 and {MAX_CAP_COUNT}", "frequencyCap.count")
        if not 1 <= cap_period_days <= MAX_CAP_DAYS:
            raise invalid(f"must be between 1 and {MAX_CAP_DAYS} days", "frequencyCap.periodDays")
        if value != "opt_in":
            raise invalid("a frequency cap applies to an opted-in channel only", "frequencyCap")
        cap = (cap_count, cap_period_days)
    return _record_preference(conn, recorder, given, "channel", channel, value, cap)


def record_objection(conn: Connection, recorder: Recorder, given: PreferenceInput, scope: str, on: bool) -> Receipt:
    """Raise (on) or lift (off) an Art. 21 objection to profiling or direct marketing."""
    check_choice(scope, OBJECTIONS, "scope")
    return _record_preference(conn, recorder, given, "objection", scope, "on" if on else "off")


def restrict_processing(conn: Connection, recorder: Recorder, given: PreferenceInput, on: bool) -> Receipt:
    """Restrict (on) or release (off) the processing of a customer's data (Art. 18)."""
    value = check_choice("on" if on else "off", ON_OFF, "restricted")
    return _record_preference(conn, recorder, given, "restriction", "processing", value)
