"""Destinations: where messages go, for which channel and purpose, with which fields.

A destination is configured by the operator. Its fields are decided by the same field plan
as a GraphQL read (`PolicyEngine.plan(role, purpose, CUSTOMER_FIELDS)`): a field the plan
denies cannot be configured, and is dropped at send time if the policy changed since. Ids
leave as pseudonyms of the destination's own audience; webhook secrets are sealed.
"""

from __future__ import annotations

import re
import secrets as _random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from gateway.activation.secrets import open_secret, seal_secret
from gateway.activation.service import Activation, Actor
from gateway.activation.tables import activation_destinations
from gateway.consent.purposes import Purpose
from gateway.errors import ServiceError
from gateway.policy import FieldPlan
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import Pseudonymizer
from gateway.profile.fields import COLUMNS, CUSTOMER_FIELDS

KINDS = frozenset({"webhook", "file"})
CHANNELS = frozenset({"email", "sms", "push", "ads_audience"})
FILE_FORMATS = frozenset({"jsonl", "csv"})
# The field a channel reaches the customer through, and how it must leave for that.
CONTACT_FIELD = {"email": "email", "sms": "phone"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DIR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_BATCH = 5000


@dataclass(frozen=True)
class DestinationInput:
    """A destination as the operator states it."""

    name: str
    kind: str
    channel: str
    purpose: str
    fields: tuple[str, ...]
    role: str = "marketing"
    url: str | None = None
    path: str | None = None
    file_format: str = "jsonl"
    secret: str | None = None
    batch_size: int | None = None
    max_attempts: int | None = None


@dataclass(frozen=True)
class Destination:
    """A configured destination (the secret stays sealed: `signing_secret` opens it)."""

    id: int
    name: str
    kind: str
    channel: str
    purpose: str
    role: str
    fields: tuple[str, ...]
    url: str | None
    path: str | None
    file_format: str | None
    audience: str
    batch_size: int
    max_attempts: int
    disabled: bool
    sealed_secret: bytes | None
    secret_version: int | None

    def pseudonyms(self, activation: Activation) -> Pseudonymizer:
        """The destination's own pseudonym audience."""
        return activation.pseudonyms.for_destination(self.audience)

    def plan(self, activation: Activation) -> FieldPlan:
        """The field plan of the destination's role and purpose (compiled once, cached)."""
        return activation.policy.plan(self.role, _purpose(activation, self.purpose), CUSTOMER_FIELDS)

    def allowed_fields(self, activation: Activation) -> tuple[str, ...]:
        """The configured fields the plan lets through now (policy may have changed)."""
        allowed = self.plan(activation).allowed_names()
        return tuple(f for f in self.fields if f in allowed)

    def signing_secret(self, activation: Activation) -> str | None:
        """The webhook's signing secret, opened."""
        if self.sealed_secret is None or self.secret_version is None:
            return None
        return open_secret(activation.vault, self.name, self.sealed_secret, self.secret_version)


def _invalid(message: str, field: str) -> ServiceError:
    return ServiceError(Code.INVALID_INPUT, message, field)


def _purpose(activation: Activation, name: str) -> Purpose:
    found = activation.purposes.get(name)
    if found is None:
        raise ServiceError(Code.PURPOSE_UNKNOWN, "unknown purpose", "purpose")
    return found


def check_channel(purpose: Purpose, channel: str) -> None:
    """A destination's channel must be the one its purpose contacts customers through
    (ads audiences reach them on partner platforms: a purpose without a channel)."""
    expected = purpose.channel or ("ads_audience" if purpose.name == "ads_audience" else None)
    if channel != expected:
        raise _invalid(f"the purpose {purpose.name} does not contact customers through {channel}",
                       "channel")


def _check_fields(activation: Activation, given: DestinationInput, purpose: Purpose) -> tuple[str, ...]:
    if not given.fields:
        raise _invalid("a destination receives at least one field", "fields")
    fields = tuple(dict.fromkeys(given.fields))
    plan = activation.policy.plan(given.role, purpose, CUSTOMER_FIELDS)
    for name in fields:
        if name not in COLUMNS:
            raise _invalid(f"{name} is not a field a destination can receive", "fields")
        access = plan.access(name)
        if not access.allowed:
            raise ServiceError(Code.POLICY_DENIED,
                               f"the policy does not let {given.role} send {name} for {purpose.name}",
                               "fields")
    contact = CONTACT_FIELD.get(given.channel)
    if contact is not None and (contact not in fields or plan.access(contact).mode != "raw"):
        raise _invalid(f"a {given.channel} destination needs {contact} in the clear, which the "
                       f"policy must reveal for {purpose.name}", "fields")
    return fields


def _check_target(activation: Activation, given: DestinationInput) -> None:
    if given.kind == "webhook":
        if not given.url or given.path:
            raise _invalid("a webhook needs a url (and no path)", "url")
        activation.guard.check(given.url)
    else:
        if not given.path or given.url:
            raise _invalid("a file drop needs a path (and no url)", "path")
        if not _DIR.match(given.path) or ".." in given.path:
            raise _invalid("a file drop's path is one directory name under "
                           "GATEWAY_ACTIVATION_DROP_DIR", "path")
        if given.file_format not in FILE_FORMATS:
            raise _invalid("file_format must be jsonl or csv", "fileFormat")


def _number(value: int | None, default: int, low: int, high: int, field: str) -> int:
    chosen = default if value is None else value
    if not low <= chosen <= high:
        raise _invalid(f"must be between {low} and {high}", field)
    return chosen


def create_destination(conn: Connection, activation: Activation, actor: Actor,
                       given: DestinationInput) -> tuple[Destination, str | None]:
    """Validate and store a destination; its secret (generated when not given) for a webhook.

    Everything is checked before anything is written; the audit entry names the destination.
    """
    if not _NAME.match(given.name):
        raise _invalid("a name is lower-case letters, digits, - and _", "name")
    if given.kind not in KINDS:
        raise _invalid("kind must be webhook or file", "kind")
    if given.channel not in CHANNELS:
        raise _invalid(f"channel must be one of {', '.join(sorted(CHANNELS))}", "channel")
    if given.role not in activation.policy.roles():
        raise _invalid("unknown role", "role")
    purpose = _purpose(activation, given.purpose)
    check_channel(purpose, given.channel)
    fields = _check_fields(activation, given, purpose)
    _check_target(activation, given)
    settings = activation.settings
    batch = _number(given.batch_size, settings.activation_batch_size, 1, MAX_BATCH, "batchSize")
    attempts = _number(given.max_attempts, settings.activation_max_attempts, 1, 100, "maxAttempts")
    if conn.execute(select(activation_destinations.c.id)
                    .where(activation_destinations.c.name == given.name)).first():
        raise _invalid("a destination with this name exists", "name")
    secret = None
    sealed: tuple[bytes, int] | None = None
    if given.kind == "webhook":
        secret = given.secret or _random.token_urlsafe(32)
        sealed = seal_secret(activation.vault, given.name, secret)
    new_id = int(conn.execute(insert(activation_destinations).values(
        name=given.name, kind=given.kind, channel=given.channel, purpose=purpose.name,
        role=given.role, fields=list(fields), url=given.url, path=given.path,
        file_format=given.file_format if given.kind == "file" else None,
        secret=sealed[0] if sealed else None, secret_version=sealed[1] if sealed else None,
        audience=uuid.uuid4().hex, batch_size=batch, max_attempts=attempts,
        created_at=activation.clock.now(), created_by=actor.name,
    ).returning(activation_destinations.c.id)).scalar_one())
    activation.audit(conn, "destination", actor, detail={
        "destination": given.name, "kind": given.kind, "channel": given.channel,
        "fields": list(fields)})
    found = get_destination(conn, destination_id=new_id)
    return found, (secret if given.secret is None else None)


def _shape(row: Any) -> Destination:
    return Destination(
        id=int(row.id), name=row.name, kind=row.kind, channel=row.channel, purpose=row.purpose,
        role=row.role, fields=tuple(row.fields), url=row.url, path=row.path,
        file_format=row.file_format, audience=row.audience, batch_size=int(row.batch_size),
        max_attempts=int(row.max_attempts), disabled=row.disabled_at is not None,
        sealed_secret=row.secret, secret_version=row.secret_version,
    )


def get_destination(conn: Connection, *, name: str | None = None,
                    destination_id: int | None = None) -> Destination:
    """A destination by name or id; NOT_FOUND when there is none."""
    d = activation_destinations
    stmt = select(d).where(d.c.name == name) if name is not None else select(d).where(
        d.c.id == destination_id)
    row = conn.execute(stmt).first()
    if row is None:
        raise ServiceError(Code.NOT_FOUND, "no destination with this name", "destination")
    return _shape(row)


def list_destinations(conn: Connection) -> list[Destination]:
    """Every destination, by name."""
    d = activation_destinations
    return [_shape(r) for r in conn.execute(select(d).order_by(d.c.name))]


def disable_destination(conn: Connection, activation: Activation, actor: Actor, name: str) -> None:
    """Stop sending to `name`: its pending messages wait (and notices too) until re-enabled."""
    found = get_destination(conn, name=name)
    conn.execute(update(activation_destinations).where(activation_destinations.c.id == found.id)
                 .values(disabled_at=activation.clock.now()))
    activation.audit(conn, "destination", actor, detail={"destination": name, "disabled": True})


def drop_directory(activation: Activation, destination: Destination) -> Path:
    """The directory a file drop writes into (under the configured drop root)."""
    assert destination.path is not None
    return activation.settings.activation_drop_dir / destination.path
