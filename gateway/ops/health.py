"""Liveness and readiness: is the process up, and can it serve right now?

`/livez` answers without touching anything (a stuck event loop is the only way to fail it):
an orchestrator restarts the process when it fails. `/readyz` checks what a request needs,
and an orchestrator stops sending traffic while it fails: the database answers, its schema
is at the migrations' head, every master key version that wraps a data key is configured,
and the policy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, select, text

from gateway.policy import PolicyEngine
from gateway.privacy.tables import data_keys
from gateway.privacy.vault import Vault
from gateway.store.migrate import alembic_config


@dataclass
class Readiness:
    """The readiness checks of one process (the migration heads are read once)."""

    engine: Engine
    vault: Vault
    policy: PolicyEngine
    database_url: str

    @cached_property
    def heads(self) -> frozenset[str]:
        """The head revisions of the packaged migrations."""
        return frozenset(ScriptDirectory.from_config(alembic_config(self.database_url)).get_heads())

    def check(self) -> dict[str, str]:
        """Each check's result: `ok` or what is wrong (never a value from the data)."""
        results: dict[str, str] = {"policy": self._policy()}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                results["database"] = "ok"
                results["migrations"] = self._migrations(conn)
                results["keys"] = self._keys(conn)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database is "down"
            results["database"] = f"unreachable ({type(exc).__name__})"
            results.setdefault("migrations", "unknown")
            results.setdefault("keys", "unknown")
        return results

    def _migrations(self, conn: Connection) -> str:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
        if current == self.heads:
            return "ok"
        return (f"not at head: database at {sorted(current) or 'nothing'}, code at "
                f"{sorted(self.heads)}; run `consent-gateway db upgrade`")

    def _keys(self, conn: Connection) -> str:
        keyring = self.vault.envelope.keyring
        used = set(conn.execute(select(data_keys.c.version).distinct()).scalars())
        missing = sorted(used - set(keyring.versions))
        if missing:
            return f"master key versions {missing} wrap data keys but are not configured"
        return "ok"

    def _policy(self) -> str:
        return "ok" if self.policy.roles() else "no roles loaded"


def ready(checks: dict[str, str]) -> bool:
    """Every check passed."""
    return all(result == "ok" for result in checks.values())

