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
    # withheld for the customer's own choices, told to a caller that may not know them
    WITHHELD = "WITHHELD"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    # data subject requests (gateway/rights): why a step of a case cannot be taken
    CASE_CLOSED = "CASE_CLOSED"  # completed or rejected: no further step
    ALREADY_ERASED = "ALREADY_ERASED"  # the customer of the case has been erased
    EXTENSION_NOT_ALLOWED = "EXTENSION_NOT_ALLOWED"  # no extension by law, or extended already
    # activation (gateway/activation): why a message did not leave, or a destination is refused
    FREQUENCY_CAPPED = "FREQUENCY_CAPPED"  # the customer's cap on the channel (or a rule's) is reached
    SUPPRESSED = "SUPPRESSED"  # on the global suppression list (bounce, complaint, legal hold)
    NO_CONTACT = "NO_CONTACT"  # nothing to reach the customer on the channel with
    SCRIPT_STOPPED = "SCRIPT_STOPPED"  # a trigger step's `unless` event happened meanwhile
    DESTINATION_NOT_ALLOWED = "DESTINATION_NOT_ALLOWED"  # outside the allow-list, private, or the gateway
    # identity resolution (gateway/linkage): this person was merged into another; the error's
    # `extensions.survivor` is the survivor's id for the calling app
    MERGED = "MERGED"
    BAD_REQUEST = "BAD_REQUEST"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"  # a hash this app never registered
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    INTERNAL = "INTERNAL"
    # operations (issue 14): request limits, media types, rate limits, availability
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
    TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"  # 415: the body is not application/json
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"  # 406: the client accepts no JSON answer
    RATE_LIMITED = "RATE_LIMITED"  # 429: too many requests per second for this app
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"  # 429: too many personal-data rows per minute
    UNAVAILABLE = "UNAVAILABLE"  # 503: the database cannot be reached; retry later
