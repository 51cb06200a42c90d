"""Outbound messages of the portal (sign-in links by email, codes by SMS), through a
pluggable sender.

The demo's sender appends to a local outbox file (JSON lines, mode 0600): the link and the
person's audit reference, never the address (it is personal data, and the outbox is a file
an erasure could not reach). A real deployment plugs in its mail or SMS gateway with
`GATEWAY_PORTAL_SENDER=module:factory` (a callable taking the PortalSettings and returning
a Sender).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from gateway.portal.settings import PortalSettings


@dataclass(frozen=True)
class Message:
    """One sign-in message. `to` is the address or phone number, held in memory only while
    sending. `channel` says how it goes: `email` (with `link`) or `sms` (with `code`)."""

    to: str
    subject_ref: str  # the person's audit pseudonym (what the outbox records instead of `to`)
    language: str
    subject: str
    body: str
    link: str | None
    expires_at: datetime
    channel: str = "email"
    code: str | None = None


class Sender(Protocol):
    """Delivers a message (email, SMS)."""

    def send(self, message: Message) -> None:
        """Deliver `message` or raise."""


class OutboxSender:
    """Appends each message to a JSON-lines file (the demo's mail spool)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        """Append the message, without its address, to the outbox file."""
        line = json.dumps({
            "to_ref": message.subject_ref, "channel": message.channel,
            "language": message.language, "subject": message.subject, "body": message.body,
            "link": message.link, "code": message.code,
            "expires_at": message.expires_at.isoformat(),
        }, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def last_link(self) -> str | None:
        """The link of the newest message (for the demo and the tests)."""
        if not self.path.exists():
            return None
        for line in reversed(self.path.read_text(encoding="utf-8").strip().splitlines()):
            link = json.loads(line).get("link")
            if link:
                return str(link)
        return None


def sender_for(settings: PortalSettings) -> Sender:
    """The sender `settings.sender` names: `outbox`, or `module:factory`."""
    if settings.sender == "outbox":
        return OutboxSender(settings.outbox)
    module_name, _, attr = settings.sender.partition(":")
    if not module_name or not attr:
        raise SystemExit("GATEWAY_PORTAL_SENDER must be `outbox` or `module:factory`")
    factory = getattr(importlib.import_module(module_name), attr)
    sender: Sender = factory(settings)
    return sender
