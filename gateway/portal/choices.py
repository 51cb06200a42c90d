"""The person's own choices, made through the consent service (source channel `portal`).

The portal is the data subject's own channel: it may grant, withdraw, opt in and out, raise
and lift objections and restriction (design rule 8: only the subject relaxes their own
protection). Each change is one ledger event with a signed receipt, kept so the person can
download it again, and one audit entry, all in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from gateway.consent import service
from gateway.consent.access import CONSENT_PERMISSIONS, PREFERENCE_PERMISSIONS
from gateway.consent.notices import Notice
from gateway.consent.purposes import Purpose
from gateway.consent.receipts import Receipt
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.portal.context import Portal
from gateway.portal.tables import portal_receipts
from gateway.store.types import utcnow

CONSENT_ACTIONS = ("grant", "withdraw")


def recorder(portal: Portal) -> service.Recorder:
    """Records as no app (app_id None); the receipt names the person by their audit pseudonym,
    the reference the operator's audit log and proofs use, and keeps the full proof (the
    exact notice text's hash, the 152-FZ content): it goes to the person themself."""
    return service.Recorder(portal.purposes, portal.signer, None, portal.audit, portal.vault,
                            full_proof=True)


def consent_purposes(portal: Portal) -> list[Purpose]:
    """The purposes that ask for consent, in the order of purposes.yaml."""
    return [p for p in portal.purposes.by_name.values() if p.basis == "consent"]


def grantable_notice(purpose: Purpose, jurisdiction: str) -> Notice | None:
    """The newest notice version shown in `jurisdiction` (what a grant accepts)."""
    shown = [n for n in purpose.notices if jurisdiction in n.jurisdictions]
    return max(shown, key=lambda n: n.version) if shown else None


def _consent_purpose(portal: Portal, name: str) -> Purpose:
    purpose = portal.purposes.get(name)
    if purpose is None or purpose.basis != "consent":
        raise ServiceError(Code.INVALID_INPUT, "not a purpose that asks for consent", "purpose")
    return purpose


def keep(conn: Connection, customer_id: int, receipt: Receipt, kind: str, subject: str,
         action: str, source_channel: str) -> None:
    """Store a receipt the person can download again."""
    conn.execute(insert(portal_receipts).values(
        receipt_id=receipt.id, customer_id=customer_id, kind=kind, subject=subject,
        action=action, source_channel=source_channel, jws=receipt.jws, issued_at=utcnow(),
    ))


def change_consent(conn: Connection, portal: Portal, customer_id: int, purpose_name: str,
                   action: str, *, language: str | None, evidence: str | None,
                   source_channel: str = "portal") -> Receipt:
    """Grant (to the newest notice shown in the person's jurisdiction) or withdraw a consent."""
    if action not in CONSENT_ACTIONS and not (source_channel == "gpc" and action == "deny"):
        raise ServiceError(Code.INVALID_INPUT, "grant or withdraw", "action")
    portal.require("consent", CONSENT_PERMISSIONS[action])  # grant relaxes, the rest refuses
    purpose = _consent_purpose(portal, purpose_name)
    subject = service.find_subject(conn, customer_id)
    notice = grantable_notice(purpose, subject.jurisdiction)
    if notice is None:
        raise ServiceError(Code.INVALID_INPUT, "no notice of this purpose is shown to you", "purpose")
    receipt = service.record_consent(conn, recorder(portal), service.ConsentInput(
        customer_id=customer_id, purpose=purpose.name, notice_version=notice.version,
        action=action, source_channel=source_channel, evidence=evidence, language=language,
    ))
    keep(conn, customer_id, receipt, "consent", purpose.name, action, source_channel)
    portal.record(conn, customer_id, "consent.record", f"portal consent {action}", extra={
        "purpose_changed": purpose.name, "choice": action, "receipt": receipt.id,
        "source_channel": source_channel, "notice_version": notice.version,
    })
    return receipt


def _preference(portal: Portal, customer_id: int, evidence: str | None, kind: str,
                value: str) -> service.PreferenceInput:
    permission = PREFERENCE_PERMISSIONS.get((kind, value))
    if permission is None:
        raise ServiceError(Code.INVALID_INPUT, "not a choice of this kind", "value")
    portal.require("preference", permission)  # relax (loosen) or restrict (tighten)
    return service.PreferenceInput(customer_id=customer_id, source_channel="portal",
                                   evidence=evidence)


def _done(conn: Connection, portal: Portal, customer_id: int, receipt: Receipt, kind: str,
          subject: str, action: str) -> Receipt:
    keep(conn, customer_id, receipt, kind, subject, action, "portal")
    portal.record(conn, customer_id, f"preference.{kind}", f"portal {kind}", extra={
        "key": subject, "choice": action, "receipt": receipt.id, "source_channel": "portal",
    })
    return receipt


def set_channel(conn: Connection, portal: Portal, customer_id: int, channel: str, opted_in: bool,
                cap: tuple[int, int] | None, *, evidence: str | None) -> Receipt:
    """Opt in to (with an optional frequency cap) or out of a contact channel."""
    value = "opt_in" if opted_in else "opt_out"
    given = _preference(portal, customer_id, evidence, "channel", value)
    receipt = service.set_channel_preference(
        conn, recorder(portal), given, channel, value, cap[0] if cap else None, cap[1] if cap else None)
    return _done(conn, portal, customer_id, receipt, "channel", channel, value)


def set_objection(conn: Connection, portal: Portal, customer_id: int, scope: str, on: bool,
                  *, evidence: str | None) -> Receipt:
    """Object (Art. 21) to profiling or direct marketing, or lift the objection."""
    given = _preference(portal, customer_id, evidence, "objection", "on" if on else "off")
    receipt = service.record_objection(conn, recorder(portal), given, scope, on)
    return _done(conn, portal, customer_id, receipt, "objection", scope, "on" if on else "off")


def set_restriction(conn: Connection, portal: Portal, customer_id: int, on: bool,
                    *, evidence: str | None) -> Receipt:
    """Restrict (Art. 18) the processing of one's data, or release it."""
    given = _preference(portal, customer_id, evidence, "restriction", "on" if on else "off")
    receipt = service.restrict_processing(conn, recorder(portal), given, on)
    return _done(conn, portal, customer_id, receipt, "restriction", "processing", "on" if on else "off")


def receipts_of(conn: Connection, customer_id: int, limit: int = 50) -> list[dict[str, object]]:
    """The person's portal receipts, newest first (without the JWS itself)."""
    r = portal_receipts.c
    rows = conn.execute(
        select(r.receipt_id, r.kind, r.subject, r.action, r.source_channel, r.issued_at)
        .where(r.customer_id == customer_id).order_by(r.issued_at.desc(), r.receipt_id).limit(limit))
    return [dict(row._mapping) for row in rows]


def receipt_jws(conn: Connection, customer_id: int, receipt_id: str) -> str | None:
    """The JWS of receipt `receipt_id` if it is this customer's; None otherwise."""
    r = portal_receipts.c
    found = conn.execute(select(r.jws).where(r.receipt_id == receipt_id, r.customer_id == customer_id)).scalar()
    return None if found is None else str(found)
