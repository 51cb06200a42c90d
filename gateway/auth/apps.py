"""Calling apps: creation (the key is shown once, stored as a hash) and authentication."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select

from gateway.auth.tables import apps
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.store.types import utcnow

KEY_PREFIX = "cgw_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,99}$")
# Roles of the policy no app may hold: `subject` is the data subject acting on their own
# data through the portal (gateway/portal); an app in it would read everyone in the clear.
RESERVED_ROLES = frozenset({"subject"})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated app: who is asking, in which role."""

    app_id: int
    name: str
    role: str


def hash_key(key: str) -> str:
    """The stored form of an API key (keys are 256-bit random: a plain SHA-256 suffices)."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_app(conn: Connection, name: str, role: str, known_roles: frozenset[str]) -> tuple[Caller, str]:
    """Register app `name` in `role`; return it with its key, which is never stored."""
    if not _NAME.match(name):
        raise ServiceError(
            Code.INVALID_INPUT,
            "app name must be 2-100 characters: lower-case letters, digits, '_', '.', '-'",
            "name",
        )
    app_roles = known_roles - RESERVED_ROLES
    if role not in app_roles:
        raise ServiceError(
            Code.INVALID_INPUT, f"unknown role; known roles: {', '.join(sorted(app_roles))}", "role"
        )
    if conn.execute(select(apps.c.id).where(apps.c.name == name)).first() is not None:
        raise ServiceError(Code.INVALID_INPUT, "an app with this name already exists", "name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    app_id = conn.execute(
        insert(apps).values(
            name=name, role=role, key_hash=hash_key(key), key_prefix=key[:10], created_at=utcnow()
        ).returning(apps.c.id)
    ).scalar_one()
    return Caller(int(app_id), name, role), key


class Authenticator:
    """Finds the app behind a bearer key, with a short cache so a request costs no query.

    The cache holds key hashes only, for `ttl` seconds: a revoked key stops working within
    that time.
    """

    def __init__(self, engine: Engine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller for an `Authorization: Bearer <key>` header, or None."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 100:
            return None
        digest = hash_key(key.strip())
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        caller = self._lookup(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, caller)
        return caller

    def _lookup(self, digest: str) -> Caller | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(apps.c.id, apps.c.name, apps.c.role).where(
                    apps.c.key_hash == digest, apps.c.revoked_at.is_(None)
                )
            ).first()
        return Caller(int(row.id), row.name, row.role) if row else None
