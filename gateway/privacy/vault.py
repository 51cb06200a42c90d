"""Everything that keeps personal data unreadable at rest, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.privacy.blind import BlindIndex
from gateway.privacy.envelope import Envelope
from gateway.privacy.keyring import Keyring
from gateway.privacy.keys import load_or_create_master_key

if TYPE_CHECKING:
    from gateway.config import Settings


@dataclass(frozen=True)
class Vault:
    """Envelope encryption (sealed columns) and blind indexes (exact lookups)."""

    envelope: Envelope
    blind: BlindIndex

    @classmethod
    def build(cls, root: bytes, extra_keys: str | None = None, current: int | None = None) -> Vault:
        """From the root master key and `GATEWAY_MASTER_KEYS` / `GATEWAY_MASTER_KEY_CURRENT`."""
        return cls(Envelope(Keyring.build(root, extra_keys, current)), BlindIndex(root))


def vault_for(settings: Settings, root: bytes | None = None) -> Vault:
    """The vault of a process configured by `settings` (root: the already loaded master key)."""
    if root is None:
        root = load_or_create_master_key(settings.master_key, settings.master_key_file)
    return Vault.build(root, settings.master_keys, settings.master_key_current)
