"""GraphQL errors with stable codes, and the masking of everything unexpected."""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError

from gateway.api.scalars import ScalarInputError
from gateway.errors import ServiceError
from gateway.policy.codes import Code

logger = logging.getLogger("gateway.api")

_WITHHELD = {
    Code.POLICY_DENIED: "Withheld: the policy does not allow this field for this purpose.",
    Code.NO_CATEGORY: "Withheld: this field has no data category.",
    Code.CONSENT_REQUIRED: "Withheld: the customer has not consented to this purpose.",
    Code.OBJECTED: "Withheld: the customer objected to this processing.",
    Code.RESTRICTED: "Withheld: the customer restricted the processing of their data.",
    Code.CHANNEL_OPTED_OUT: "Withheld: the customer opted out of the channel this purpose uses.",
    Code.WITHHELD: "Withheld: the customer's choices do not allow this use.",
}


class FieldDenied(GraphQLError):
    """A withheld field's value. One shared instance per code: the gateway's execution
    context (gateway/api/withhold.py) turns it into null plus an error without raising it."""

    MESSAGES = _WITHHELD

    def __init__(self, code: Code) -> None:
        super().__init__(_WITHHELD[code], extensions={"code": code.value})
        self.code = code


WITHHELD: dict[Code, FieldDenied] = {code: FieldDenied(code) for code in _WITHHELD}

MASKED = {"message": "Unexpected error.", "extensions": {"code": Code.INTERNAL.value}}

_VARIABLE = re.compile(r"^Variable '\$[_A-Za-z][_0-9A-Za-z]*'")
_AT = re.compile(r" at '([_A-Za-z][_0-9A-Za-z.\[\]]*)';")
_TOKENS = "Document contains more than"


def _scalar_error(error: GraphQLError) -> ScalarInputError | None:
    """The scalar parse error under `error` (graphql-core wraps it once or twice)."""
    cause: BaseException | None = error.original_error
    while cause is not None:
        if isinstance(cause, ScalarInputError):
            return cause
        cause = getattr(cause, "original_error", None)
    return None


def is_variable_error(error: GraphQLError) -> bool:
    """A variable value that does not fit its declared type (or a missing required one).

    graphql-core reports these before execution (so without a path) and wraps the scalar's
    own GraphQLError as `original_error`; without this check they were masked as INTERNAL
    (and logged with the offending value). They are the caller's bad input: BAD_REQUEST.
    """
    return isinstance(error.original_error, GraphQLError) and error.path is None


def is_expected(error: GraphQLError) -> bool:
    """Parse and validation errors, withheld fields and service errors are shown as they are."""
    original = error.original_error
    return original is None or isinstance(original, (FieldDenied, ServiceError))


def _variable_error(error: GraphQLError) -> dict[str, Any]:
    # graphql-core's message quotes the value the caller sent (it may be an email or a
    # name); only the variable's name is kept, and the location points at its definition.
    named = _VARIABLE.match(error.message)
    at = _AT.search(error.message)
    scalar = _scalar_error(error)
    where = f" at '{at.group(1)}'" if at else ""
    why = f": {scalar}." if scalar else "."
    out: dict[str, Any] = {
        "message": f"{named.group(0)} has an invalid value{where}{why}" if named
        else f"A variable has an invalid value{why}"
    }
    if error.locations:
        out["locations"] = error.formatted.get("locations")
    out["extensions"] = {"code": Code.BAD_REQUEST.value}
    return out


def error_code(error: GraphQLError) -> str:
    """The stable code of an error; request errors (parse, validation) are BAD_REQUEST."""
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    return Code.BAD_REQUEST.value if error.original_error is None else Code.INTERNAL.value


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _literal_error(error: GraphQLError, scalar: ScalarInputError) -> dict[str, Any]:
    # graphql-core's message quotes the literal; the scalar's own message says what to send.
    out: dict[str, Any] = {"message": f"An argument has an invalid value: {scalar}."}
    if error.locations:
        out["locations"] = error.formatted.get("locations")
    out["extensions"] = {"code": Code.BAD_REQUEST.value}
    return out


def _request_error(code: Code, message: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code.value}}


def format_error(error: GraphQLError, max_tokens: int | None = None) -> dict[str, Any]:
    """The error as the client sees it: unexpected ones masked (and logged, without data)."""
    if is_variable_error(error):
        return _variable_error(error)
    scalar = _scalar_error(error)
    if scalar is not None and error.path is None:
        return _literal_error(error, scalar)
    if error.original_error is None and _TOKENS in error.message:
        limit = f"at most {max_tokens}" if max_tokens else "a limited number of"
        return _request_error(Code.TOO_MANY_TOKENS, f"The query is too long: {limit} tokens are allowed.")
    if not is_expected(error):
        logger.error("unexpected error at %s", error.path, exc_info=error.original_error)
        masked: dict[str, Any] = dict(MASKED)
        if error.path is not None:
            masked["path"] = error.path
        return masked
    formatted = error.formatted
    if error.original_error is None and "Did you mean" in formatted["message"]:
        # Suggestions reconstruct the schema (and hidden names) for a probing client.
        formatted = {**formatted, "message": _SUGGESTION.sub("", formatted["message"])}
    if "extensions" not in formatted or "code" not in formatted["extensions"]:
        formatted = {**formatted, "extensions": {**formatted.get("extensions", {}), "code": error_code(error)}}
    return dict(formatted)
