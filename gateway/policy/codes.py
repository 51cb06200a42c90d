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
    # data subject requests (gateway/rights): why a step of a case cannot be taken
    CASE_CLOSED = "CASE_CLOSED"  # completed or rejected: no further step
    ALREADY_ERASED = "ALREADY_ERASED"  # the customer of the case has been erased
    EXTENSION_NOT_ALLOWED = "EXTENSION_NOT_ALLOWED"  # no extension by law, or extended already
    # identity resolution (gateway/linkage): this person was merged into another; the error's
    # `extensions.survivor` is the survivor's id for the calling app
    MERGED = "MERGED"
    BAD_REQUEST = "BAD_REQUEST"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    INTERNAL = "INTERNAL"
