"""One-time sign-in links and sessions: random tokens, stored hashed, bound to one customer.

A link is single use and short-lived; redeeming it marks it used in the same statement that
checks it (a conditional UPDATE), so two concurrent redemptions cannot both succeed. A
session ends at its absolute expiry, after an idle period, or when the person signs out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from gateway.portal.settings import PortalSettings
from gateway.portal.tables import portal_links, portal_sessions
from gateway.store.types import utcnow

TOKEN_BYTES = 32
# Touch a session's last_seen_at at most this often: a page view is not a write each time.
TOUCH_EVERY = timedelta(seconds=60)


def new_token() -> str:
    """A fresh 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The stored form of a token (256-bit random: a plain SHA-256 suffices, as for app keys)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """A link just issued: the token (shown once, never stored) and its expiry."""

    token: str
    expires_at: datetime


def issue_link(conn: Connection, settings: PortalSettings, customer_id: int,
               channel: str = "email") -> Link:
    """Store a new one-time link for `customer_id`; return its token (only here in the clear)."""
    token = new_token()
    now = utcnow()
    expires = now + timedelta(minutes=settings.link_minutes)
    conn.execute(insert(portal_links).values(
        token_hash=token_hash(token), customer_id=customer_id, channel=channel, created_at=now,
        expires_at=expires,
    ))
    return Link(token, expires)


def redeem_link(conn: Connection, token: str) -> int | None:
    """The customer of an unused, unexpired link, which is used up now; None otherwise."""
    if not token or len(token) > 128:
        return None
    digest = token_hash(token)
    now = utcnow()
    pl = portal_links.c
    row = conn.execute(
        update(portal_links)
        .where(pl.token_hash == digest, pl.used_at.is_(None), pl.expires_at > now)
        .values(used_at=now)
        .returning(pl.customer_id)
    ).first()
    return int(row.customer_id) if row is not None else None


@dataclass(frozen=True)
class Session:
    """A signed-in person: the session row's id, its customer and the hash of its cookie."""

    id: int
    customer_id: int
    token_hash: str
    expires_at: datetime


def start_session(conn: Connection, settings: PortalSettings, customer_id: int) -> tuple[str, Session]:
    """A new session for `customer_id`: the cookie value (never stored) and the session."""
    token = new_token()
    now = utcnow()
    expires = now + timedelta(minutes=settings.session_minutes)
    digest = token_hash(token)
    session_id = int(conn.execute(insert(portal_sessions).values(
        token_hash=digest, customer_id=customer_id, created_at=now, expires_at=expires,
        last_seen_at=now,
    ).returning(portal_sessions.c.id)).scalar_one())
    return token, Session(session_id, customer_id, digest, expires)


def find_session(conn: Connection, settings: PortalSettings, token: str | None) -> Session | None:
    """The live session of cookie value `token` (touched now), or None."""
    if not token or len(token) > 128:
        return None
    ps = portal_sessions.c
    now = utcnow()
    row = conn.execute(
        select(ps.id, ps.customer_id, ps.token_hash, ps.expires_at, ps.last_seen_at)
        .where(ps.token_hash == token_hash(token), ps.ended_at.is_(None), ps.expires_at > now)
    ).first()
    if row is None or row.last_seen_at + timedelta(minutes=settings.idle_minutes) <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        conn.execute(update(portal_sessions).where(ps.id == row.id).values(last_seen_at=now))
    return Session(int(row.id), int(row.customer_id), str(row.token_hash), row.expires_at)


def end_session(conn: Connection, session: Session) -> None:
    """Sign out: the session's cookie stops working at once."""
    ps = portal_sessions.c
    conn.execute(update(portal_sessions).where(ps.id == session.id).values(ended_at=utcnow()))
