"""Versions of the master key that wrap data keys (key-encryption keys, KEKs).

The root master key (`GATEWAY_MASTER_KEY` or the key file) stays the root of pseudonyms,
signing and blind indexes: those are deterministic and held by apps, so they cannot change
when the wrapping key does. Data keys are wrapped by a *versioned* KEK instead:

- version 1 is derived from the root master key (so `make demo` needs no configuration);
- further versions come from `GATEWAY_MASTER_KEYS`, a comma-separated list of
  `VERSION=KEY` entries (KEY: urlsafe base64 of 32 bytes, e.g. from `consent-gateway keys
  new`), each version's KEK derived from its own key;
- new data keys are wrapped under the highest version, or `GATEWAY_MASTER_KEY_CURRENT`
  when set (for a rolling deployment: give every replica the new version first, then make
  it current, then run `consent-gateway keys rotate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.privacy.keys import MasterKeyError, _decode, derive_key


def _kek(master: bytes, version: int) -> bytes:
    return derive_key(master, f"data-key-wrap:v{version}")


def parse_master_keys(text: str | None) -> dict[int, bytes]:
    """`"2=KEY,3=KEY"` as {version: master key bytes}; `MasterKeyError` saying what is wrong."""
    out: dict[int, bytes] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        version_text, sep, key_text = item.partition("=")
        if not sep or not version_text.strip().isdigit() or int(version_text) < 1:
            raise MasterKeyError(
                "GATEWAY_MASTER_KEYS must be a comma-separated list of VERSION=KEY entries with "
                "VERSION a positive integer (e.g. 2=<key>); `consent-gateway keys new` prints one"
            )
        version = int(version_text)
        if version in out:
            raise MasterKeyError(f"GATEWAY_MASTER_KEYS names version {version} twice")
        out[version] = _decode(key_text, f"GATEWAY_MASTER_KEYS (version {version})")
    return out


@dataclass(frozen=True)
class Keyring:
    """The KEKs by version and the version that wraps new data keys."""

    keks: dict[int, AESGCM]
    current: int

    @classmethod
    def build(cls, root: bytes, extra: str | None = None, current: int | None = None) -> Keyring:
        """Version 1 from the root master key (unless given explicitly), the rest from `extra`."""
        masters = {1: root}
        masters.update(parse_master_keys(extra))
        keks = {v: AESGCM(_kek(m, v)) for v, m in masters.items()}
        chosen = max(keks) if current is None else current
        if chosen not in keks:
            raise MasterKeyError(
                f"GATEWAY_MASTER_KEY_CURRENT is {chosen} but the configured master key versions "
                f"are {sorted(keks)}; add VERSION=KEY for it to GATEWAY_MASTER_KEYS"
            )
        return cls(keks, chosen)

    @property
    def versions(self) -> list[int]:
        """The configured versions, oldest first."""
        return sorted(self.keks)

    def kek(self, version: int) -> AESGCM:
        """The KEK of `version`; `MasterKeyError` naming the fix when it is not configured."""
        try:
            return self.keks[version]
        except KeyError:
            raise MasterKeyError(
                f"a data key is wrapped under master key version {version}, which is not "
                f"configured (have {self.versions}); add it to GATEWAY_MASTER_KEYS"
            ) from None
