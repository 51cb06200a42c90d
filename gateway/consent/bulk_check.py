"""The bulk import's per-row checks, fast for the rows that pass them.

An import file repeats a handful of (purpose, notice version, action, channel) combinations
over many rows: each combination is checked once, by the reference checks
(`gateway.consent.bulk.validate_row`), and remembered. A row is then checked with plain
comparisons; whatever is not the plain valid case (a new combination, a value of an unusual
type, a bad date, a long text) goes through the reference checks, which raise the error a
row gets (the same code, field and message, in the same order of fields) or accept it. So
the fast path only ever accepts what the reference accepts, with the same values.

The second pass (the customer's facts) keeps per-import caches too: the notice text's hash
per notice and language, the 152-FZ content per notice, the evidence's associated data per
customer.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.consent.notices import Notice
from gateway.consent.purposes import Purposes
from gateway.consent.validation import CLOCK_SKEW, MAX_EVIDENCE, notice_of, notice_text, text_sha256

_MAX_KEY = 128
_COMBO_LIMIT = 10_000  # distinct combinations remembered; a hostile file cannot grow it more


class RowChecker:
    """`check(row)`: the event values of one row, as `validate_row` gives them (or its error)."""

    def __init__(self, purposes: Purposes, now: datetime,
                 reference: Callable[[dict[str, Any], Purposes, datetime], dict[str, Any]]) -> None:
        self._purposes = purposes
        self._now = now
        self._latest = now + CLOCK_SKEW
        self._reference = reference
        # `_combo(row)` -> checked (purpose, version, action, channel)
        self._combos: dict[tuple[Any, ...], tuple[str, int, str, str]] = {}

    def check(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row's event values; ServiceError (from the reference checks) on bad input."""
        values = self._fast(row)
        return values if values is not None else self._slow(row)

    def _slow(self, row: dict[str, Any]) -> dict[str, Any]:
        values = self._reference(row, self._purposes, self._now)
        if len(self._combos) < _COMBO_LIMIT:
            with contextlib.suppress(TypeError):  # an unhashable value (a JSON list) is not kept
                self._combos[_combo(row)] = (values["purpose"], values["notice_version"],
                                             values["action"], values["source_channel"])
        return values

    def _fast(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The values when the row is plainly valid; None to let the reference decide."""
        try:
            combo = self._combos.get(_combo(row))
        except TypeError:  # an unhashable value (a JSON list or object): the reference decides
            return None
        raw_id, raw_when = row.get("customer_id"), row.get("occurred_at")
        if combo is None or type(raw_id) is not str or type(raw_when) is not str or not raw_when:
            return None
        raw_expiry, raw_evidence = row.get("expires_at"), row.get("evidence")
        if raw_expiry is not None or (raw_evidence is not None and type(raw_evidence) is not str):
            return None
        try:
            customer_id = int(raw_id)  # int() strips surrounding whitespace as the reference does
            occurred = datetime.fromisoformat(raw_when.strip())
        except ValueError:
            return None
        if occurred.utcoffset() is None or occurred > self._latest:
            return None
        if raw_evidence is not None and len(raw_evidence) > MAX_EVIDENCE:
            return None
        purpose, version, action, channel = combo
        explicit = row.get("idempotency_key")
        if explicit:
            key = str(explicit)
            if len(key) > _MAX_KEY:
                return None
        else:  # the reference's content: str() of each keyed value, unit-separated
            content = f"{customer_id}\x1f{purpose}\x1f{version}\x1f{action}\x1f{occurred}\x1f{channel}\x1fNone"
            key = "import:" + hashlib.sha256(content.encode()).hexdigest()
        return {
            "customer_id": customer_id, "purpose": purpose, "notice_version": version,
            "action": action, "occurred_at": occurred, "source_channel": channel,
            "evidence": raw_evidence or None, "expires_at": None, "idempotency_key": key,
        }


def _combo(row: dict[str, Any]) -> tuple[Any, ...]:
    """The row's raw (purpose, notice_version, action, source_channel) and the version's
    type: 2.0 and True equal 2 and 1 as keys, but the reference refuses them as versions."""
    version = row.get("notice_version")
    return (row.get("purpose"), version, row.get("action"), row.get("source_channel"), type(version))


class NoticeFacts:
    """Per import: each notice once, its text's hash once per language."""

    def __init__(self, purposes: Purposes) -> None:
        self._purposes = purposes
        self._notices: dict[tuple[str, int], Notice] = {}
        self._hashes: dict[tuple[str, int, str | None], str] = {}

    def notice(self, purpose: str, version: int) -> Notice:
        """The notice `version` of `purpose` (both already checked)."""
        found = self._notices.get((purpose, version))
        if found is None:
            found = self._notices[(purpose, version)] = notice_of(self._purposes.by_name[purpose], version)
        return found

    def text_sha256(self, purpose: str, version: int, language: str | None) -> str:
        """The hash of the text shown in `language`, as `text_sha256(notice_text(...))`."""
        found = self._hashes.get((purpose, version, language))
        if found is None:
            found = text_sha256(notice_text(self.notice(purpose, version), language))
            self._hashes[(purpose, version, language)] = found
        return found
