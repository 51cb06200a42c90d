"""One-time sign-in codes by SMS: six digits, short-lived, single use, bound to one customer.

A code has a million values, so it is protected by what surrounds it rather than by its size:

- stored as an HMAC under a key derived from the master key (`portal:sms-code`) over the
  customer's id and the code: a copy of the database alone cannot try the million values,
  and the same digits for another customer do not match;
- a few attempts per code (`PortalSettings.code_attempts`), counted in the same UPDATE that
  fetches it, so concurrent guesses cannot share one attempt;
- a new code supersedes the customer's unused ones (one live code at a time);
- a handful of codes per number per window (the rate limits of `ratelimit.py`).

Checking a code runs the same statements whether or not the number is known (an UPDATE on
a customer id that matches nothing for an unknown one): the answer and its timing say
nothing about the number.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, update

from gateway.portal.settings import PortalSettings
from gateway.portal.tables import portal_codes
from gateway.privacy.keys import derive_key
from gateway.store.types import utcnow

DIGITS = 6
NOBODY = -1  # the customer id an unknown number is checked against (no row has it)


def code_key(master: bytes) -> bytes:
    """The HMAC key of stored codes."""
    return derive_key(master, "portal:sms-code")


def new_code() -> str:
    """Six random digits (leading zeros kept)."""
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


def normal_code(given: str) -> str:
    """What the person typed, without spaces or dashes (`123 456`, `123-456`)."""
    return "".join(ch for ch in given if ch not in " -\u00a0")


def code_hash(key: bytes, customer_id: int, code: str) -> str:
    """The stored form of `code` for `customer_id`."""
    return hmac.new(key, f"{customer_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    """A code just issued: the digits (shown once, never stored) and its expiry."""

    code: str
    expires_at: datetime


def issue_code(conn: Connection, settings: PortalSettings, key: bytes, customer_id: int) -> IssuedCode:
    """Store a new code for `customer_id` (its earlier unused codes stop working)."""
    now = utcnow()
    pc = portal_codes.c
    conn.execute(update(portal_codes)
                 .where(pc.customer_id == customer_id, pc.used_at.is_(None))
                 .values(used_at=now))
    code = new_code()
    expires = now + timedelta(minutes=settings.code_minutes)
    conn.execute(insert(portal_codes).values(
        customer_id=customer_id, code_hash=code_hash(key, customer_id, code), attempts=0,
        created_at=now, expires_at=expires))
    return IssuedCode(code, expires)


def redeem_code(conn: Connection, settings: PortalSettings, key: bytes, customer_id: int | None,
                given: str) -> bool:
    """True when `given` is the live code of `customer_id`, which is used up now.

    Every call spends one attempt of the customer's live code; a code that has had
    `code_attempts` tries no longer works, even with the right digits.
    """
    who = NOBODY if customer_id is None else customer_id
    code = normal_code(given)
    pc = portal_codes.c
    now = utcnow()
    rows = conn.execute(
        update(portal_codes)
        .where(pc.customer_id == who, pc.used_at.is_(None), pc.expires_at > now,
               pc.attempts < settings.code_attempts)
        .values(attempts=pc.attempts + 1)
        .returning(pc.id, pc.code_hash)
    ).all()
    if not code.isdigit() or len(code) != DIGITS:
        return False
    wanted = code_hash(key, who, code)
    for row in rows:
        if hmac.compare_digest(str(row.code_hash), wanted):
            done = conn.execute(update(portal_codes)
                                .where(pc.id == row.id, pc.used_at.is_(None))
                                .values(used_at=now))
            return bool(done.rowcount == 1)
    return False
