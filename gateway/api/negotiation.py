"""GraphQL over HTTP: media types in and out, and the request's parameters.

The rules are those of the GraphQL-over-HTTP specification (and its `graphql-http` audit):
a POST body must be `application/json` (UTF-8), the answer is
`application/graphql-response+json` when the client accepts it and `application/json`
otherwise (`*/*` and no Accept header included); a client that accepts neither gets 406.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


@dataclass(frozen=True)
class Params:
    """The GraphQL request parameters, checked for their JSON types."""

    query: str
    variables: dict[str, Any] | None
    operation: str | None


def response_media(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts no JSON answer (406)."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        quality = _quality(params)
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            choice = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            choice = JSON
        else:
            continue
        # Highest quality first; among equals, what the client listed first.
        key = (quality, -position, choice)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def is_json_body(content_type: str | None) -> bool:
    """`application/json`, with no charset or UTF-8 (the spec's only request body type)."""
    if not content_type:
        return False
    media, _, params = content_type.partition(";")
    if media.strip().lower() != JSON:
        return False
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def params_from_body(body: bytes) -> Params | str:
    """The parameters of a JSON body, or the reason it is not a GraphQL request."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the body must be JSON: {\"query\": ..., \"variables\": {...}}"
    if not isinstance(payload, dict):
        return "the body must be a JSON object with a `query` string"
    return _checked(payload)


def params_from_query_string(query_string: str) -> Params | str:
    """The parameters of a GET request (only when GET is enabled); JSON-encoded variables."""
    raw = {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
    payload: dict[str, Any] = {"query": raw.get("query"), "operationName": raw.get("operationName")}
    for name in ("variables", "extensions"):
        if raw.get(name):
            try:
                payload[name] = orjson.loads(raw[name])
            except orjson.JSONDecodeError:
                return f"`{name}` must be URL-encoded JSON"
    return _checked(payload)


def _checked(payload: dict[str, Any]) -> Params | str:
    query = payload.get("query")
    variables = payload.get("variables")
    operation = payload.get("operationName")
    extensions = payload.get("extensions")
    if not isinstance(query, str):
        return "the body must be a JSON object with a `query` string"
    if variables is not None and not isinstance(variables, dict):
        return "`variables` must be a JSON object"
    if operation is not None and not isinstance(operation, str):
        return "`operationName` must be a string"
    if extensions is not None and not isinstance(extensions, dict):
        return "`extensions` must be a JSON object"
    return Params(query, variables, operation)
