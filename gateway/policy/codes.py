"""Stable reason and error codes: clients and auditors match on these, never on messages."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Every reason a request, field or decision can carry."""

    ALLOWED = "ALLOWED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    PURPOSE_UNKNOWN = "PURPOSE_UNKNOWN"
    POLICY_DENIED = "POLICY_DENIED"
    NO_CATEGORY = "NO_CATEGORY"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    OBJECTED = "OBJECTED"
    RESTRICTED = "RESTRICTED"
    CHANNEL_OPTED_OUT = "CHANNEL_OPTED_OUT"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    BAD_REQUEST = "BAD_REQUEST"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    INTERNAL = "INTERNAL"
