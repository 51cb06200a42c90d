"""CSRF tokens: an HMAC, under a key derived from the master key, of what the form belongs to.

Signed in, a form's token is bound to the session (the hash of its cookie); signed out (the
sign-in and language forms), to a random pre-session cookie. Every worker derives the same
key, so a form rendered by one is accepted by another; SameSite=Strict cookies are the
second line of defence.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from gateway.privacy.keys import derive_key

PRE_SESSION_BYTES = 24


class Csrf:
    """Makes and checks CSRF tokens."""

    def __init__(self, master: bytes) -> None:
        self._key = derive_key(master, "portal:csrf")

    def token(self, anchor: str) -> str:
        """The token of forms anchored to `anchor` (`s:<session hash>` or `p:<pre-session>`)."""
        return hmac.new(self._key, anchor.encode(), hashlib.sha256).hexdigest()

    def valid(self, anchor: str | None, given: str | None) -> bool:
        """`given` is the token of `anchor` (constant-time comparison)."""
        if not anchor or not given or len(given) != 64:
            return False
        return hmac.compare_digest(self.token(anchor), given)


def new_pre_session() -> str:
    """A fresh pre-session cookie value."""
    return secrets.token_urlsafe(PRE_SESSION_BYTES)
