"""Checks shared by the consent service and the bulk import: each raises a ServiceError."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from gateway.consent.notices import Notice
from gateway.consent.purposes import Purpose, Purposes
from gateway.errors import ServiceError
from gateway.policy.codes import Code

CLOCK_SKEW = timedelta(minutes=5)
CHANNEL_VALUES = frozenset({"opt_in", "opt_out"})
OBJECTIONS = frozenset({"profiling", "direct_marketing", "identity_resolution"})
ON_OFF = frozenset({"on", "off"})
MAX_EVIDENCE = 200


def invalid(message: str, field: str) -> ServiceError:
    """An INVALID_INPUT error about `field`."""
    return ServiceError(Code.INVALID_INPUT, message, field)


def parse_instant(value: datetime | str | None, field: str) -> datetime | None:
    """An aware datetime from an ISO 8601 string (or datetime); INVALID_INPUT otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise invalid("must be an ISO 8601 date-time with a UTC offset", field) from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid("must carry a UTC offset (e.g. 2026-01-31T12:00:00+00:00)", field)
    return value


def check_times(
    occurred: datetime | None, expires: datetime | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """Occurrence not in the future (beyond a small skew), expiry after occurrence."""
    when = occurred or now
    if when > now + CLOCK_SKEW:
        raise invalid("must not be in the future", "occurredAt")
    if expires is not None and expires <= when:
        raise invalid("must be after the time the consent was given", "expiresAt")
    return when, expires


def check_choice(value: str, allowed: frozenset[str], field: str) -> str:
    """`value` is one of `allowed`."""
    if value not in allowed:
        raise invalid(f"must be one of {', '.join(sorted(allowed))}", field)
    return value


def check_evidence(evidence: str | None) -> str | None:
    """An optional evidence reference of bounded length."""
    if evidence is not None and len(evidence) > MAX_EVIDENCE:
        raise invalid(f"must be at most {MAX_EVIDENCE} characters", "evidence")
    return evidence or None


def consent_purpose(purposes: Purposes, name: str) -> Purpose:
    """A known purpose whose legal basis is consent."""
    purpose = purposes.get(name)
    if purpose is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose", "purpose")
    if purpose.basis != "consent":
        raise invalid(f"purpose {purpose.name} is based on {purpose.basis}, not on consent", "purpose")
    return purpose


def notice_of(purpose: Purpose, version: int) -> Notice:
    """The notice version `version` of `purpose`; NOT_FOUND if there is none."""
    for notice in purpose.notices:
        if notice.version == version:
            return notice
    raise ServiceError(Code.NOT_FOUND, "no notice with this version for this purpose", "noticeVersion")


def notice_text(notice: Notice, language: str | None) -> str:
    """The text shown in `language` (English, then any, when it has none)."""
    texts = notice.texts
    return texts.get(language or "") or texts.get("en") or next(iter(texts.values()))


def text_sha256(text: str) -> str:
    """Hex SHA-256 of a notice text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def notice_digest(purpose: Purpose, notice: Notice) -> str:
    """Hex SHA-256 of a notice *version*: its texts in every language, one digest for all.

    What receipts and histories shown to apps carry. The hash of the one text a customer saw
    identifies its language, i.e. the customer's language (and a 152-FZ text their
    jurisdiction), which the app may not be allowed to read; this digest is the same for
    every customer given that version, so it proves the version and reveals nothing else.
    The customer's own receipt keeps the hash of the exact text (and the 152-FZ content).
    """
    canonical = json.dumps(
        {"purpose": purpose.name, "version": notice.version, "texts": dict(sorted(notice.texts.items()))},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
