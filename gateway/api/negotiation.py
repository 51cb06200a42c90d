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

from gateway.auth.documents import normalise_hash

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


@dataclass(frozen=True)
class Params:
    """The GraphQL request parameters, checked for their JSON types."""

    query: str
    variables: dict[str, Any] | None
    operation: str | None
    # The sha256 (lowercase hex) a persisted / trusted document request names, if any:
    # `extensions.persistedQuery.sha256Hash` or `documentId` (gateway/auth/documents.py).
    # With no `query`, `query` is "" and the registry supplies the text.
    persisted: str | None = None


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


def _persisted(payload: dict[str, Any], extensions: Any) -> str | None | bool:
    """The hash a request names (None: none; False: a name that is not a sha256)."""
    named: Any = payload.get("documentId")
    if named is None and isinstance(extensions, dict):
        persisted = extensions.get("persistedQuery")
        named = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if named is None:
        return None
    found = normalise_hash(named) if isinstance(named, str) else None
    return False if found is None else found


def _checked(payload: dict[str, Any]) -> Params | str:
    query = payload.get("query")
    variables = payload.get("variables")
    operation = payload.get("operationName")
    extensions = payload.get("extensions")
    persisted = _persisted(payload, extensions)
    if persisted is False:
        return "a persisted document is named by its sha256 in lowercase hex"
    if query is None and persisted:
        query = ""
    if not isinstance(query, str):
        return "the body must be a JSON object with a `query` string"
    if variables is not None and not isinstance(variables, dict):
        return "`variables` must be a JSON object"
    if operation is not None and not isinstance(operation, str):
        return "`operationName` must be a string"
    if extensions is not None and not isinstance(extensions, dict):
        return "`extensions` must be a JSON object"
    return Params(query, variables, operation, persisted if isinstance(persisted, str) else None)
