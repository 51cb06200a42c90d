"""Handing a batch to a destination: a signed webhook POST, or a file written atomically.

A batch is delivered whole or not at all. Each message carries its own id (stable across
retries and across workers), so a destination that got a batch twice keeps each message
once; the batch id is the `Idempotency-Key` of the request and the name of the file, so a
re-delivered file replaces the earlier one instead of adding to it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.activation.destinations import Destination, drop_directory
from gateway.activation.secrets import signature
from gateway.activation.service import Activation
from gateway.errors import ServiceError

RETRYABLE_STATUS = frozenset({408, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Delivered:
    """The outcome of one try: ok, or an error label (a status or an error class)."""

    ok: bool
    error: str | None = None
    permanent: bool = False


def body_of(destination: Destination, batch: str, messages: list[dict[str, Any]],
            sent_at: str) -> bytes:
    """The JSON a webhook receives."""
    return orjson.dumps({"destination": destination.name, "batch": batch, "sent_at": sent_at,
                         "messages": messages})


class Deliverer:
    """Delivers batches for one worker (one HTTP client, reused across batches)."""

    def __init__(self, activation: Activation, client: httpx.Client | None = None) -> None:
        self.activation = activation
        self.client = client or httpx.Client(
            timeout=activation.settings.activation_http_timeout, follow_redirects=False,
            headers={"User-Agent": "consent-gateway-activation"}, trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def deliver(self, destination: Destination, batch: str, messages: list[dict[str, Any]],
                sent_at: str) -> Delivered:
        """Deliver one batch; never raises for the destination's own failures."""
        if destination.kind == "file":
            return self._file(destination, batch, messages)
        return self._webhook(destination, batch, messages, sent_at)

    def _webhook(self, destination: Destination, batch: str, messages: list[dict[str, Any]],
                 sent_at: str) -> Delivered:
        assert destination.url is not None
        try:
            # Again at every delivery: a name may resolve somewhere else since it was configured.
            self.activation.guard.check(destination.url)
        except ServiceError as exc:
            return Delivered(False, exc.code.value)
        body = body_of(destination, batch, messages, sent_at)
        secret = destination.signing_secret(self.activation) or ""
        now = int(self.activation.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json", "Idempotency-Key": batch,
            "X-Gateway-Signature": signature(secret, now, body),
        }
        try:
            response = self.client.post(destination.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Delivered(False, type(exc).__name__)
        if 200 <= response.status_code < 300:
            return Delivered(True)
        code = response.status_code
        return Delivered(False, f"http {code}", permanent=code not in RETRYABLE_STATUS)

    def _file(self, destination: Destination, batch: str, messages: list[dict[str, Any]]) -> Delivered:
        directory = drop_directory(self.activation, destination)
        suffix = destination.file_format or "jsonl"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            data = (_jsonl(messages) if suffix == "jsonl"
                    else _csv(messages, destination.fields))
            _write_atomically(directory / f"{batch}.{suffix}", data)
        except OSError as exc:
            return Delivered(False, type(exc).__name__)
        return Delivered(True)


def _jsonl(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(msg) + b"\n" for msg in messages)


_CSV_HEAD = ("id", "type", "recipient", "template", "arm", "reason")


def _csv(messages: list[dict[str, Any]], fields: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*_CSV_HEAD, *fields])
    for msg in messages:
        data = msg.get("data") or {}
        writer.writerow([msg.get(k, "") if msg.get(k) is not None else "" for k in _CSV_HEAD]
                        + [_cell(data.get(f)) for f in fields])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
