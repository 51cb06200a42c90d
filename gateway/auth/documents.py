"""Persisted (trusted) documents: the GraphQL documents an app registered, by sha256.

The convention of Apollo's automatic persisted queries and of GraphQL trusted documents: a
request names its document by `extensions.persistedQuery.sha256Hash` (or `documentId`,
`sha256:<hex>`) instead of sending the text. An app registers its documents through an
authenticated path: the CLI (`consent-gateway apps register-query APP FILE`), or by sending
the text together with its hash once (automatic registration). A document is the app's own:
another app cannot run it by its hash.
"""

from __future__ import annotations

import hashlib
import re
import threading

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.auth.tables import persisted_documents
from gateway.store.types import utcnow

_HEX = re.compile(r"^[0-9a-f]{64}$")
_MAX_CACHED = 4096


def document_hash(document: str) -> str:
    """The sha256 of a document's UTF-8 text, in lowercase hex (the registry's key)."""
    return hashlib.sha256(document.encode()).hexdigest()


def normalise_hash(value: str) -> str | None:
    """A sha256 in lowercase hex from a `sha256Hash` or a `documentId` (`sha256:<hex>`), or
    None when it is not one."""
    text = value.removeprefix("sha256:").lower()
    return text if _HEX.match(text) else None


class DocumentRegistry:
    """Registered documents per app, read through a small in-process cache (a hash names
    one text forever, so a cached entry never goes stale; a revoked app is refused earlier)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], str] = {}
        self._lock = threading.Lock()

    def find(self, conn: Connection, app_id: int, sha256: str) -> str | None:
        """The text `app_id` registered under `sha256`, or None."""
        key = (app_id, sha256)
        found = self._cache.get(key)
        if found is None:
            pd = persisted_documents.c
            found = conn.execute(select(pd.document).where(pd.app_id == app_id, pd.sha256 == sha256)
                                 ).scalar_one_or_none()
            if found is not None:
                self._remember(key, found)
        return found

    def register(self, conn: Connection, app_id: int, document: str) -> str:
        """Register `document` for `app_id` (in the caller's transaction); its hash. Idempotent."""
        sha256 = document_hash(document)
        if self.find(conn, app_id, sha256) is None:
            # Two workers may register the same document at once: the same text under the
            # same key, so the second insert is nothing to refuse.
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(dialect_insert(persisted_documents).values(
                app_id=app_id, sha256=sha256, document=document, created_at=utcnow(),
            ).on_conflict_do_nothing())
        return sha256

    def _remember(self, key: tuple[int, str], document: str) -> None:
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()  # a bound, not an LRU: registrations are few
            self._cache[key] = document
