"""Asking for a sign-in link (by email) or code (by SMS): find the person through the blind
index, issue the link or code, say it.

`prepare_link` and `prepare_code` do the database part in the caller's transaction (the row
and its audit entry); the message is sent only after that commits, so a link or code that
is sent always works.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, select

from gateway.errors import ServiceError
from gateway.portal.codes import issue_code
from gateway.portal.context import Portal
from gateway.portal.messages import code_message, language_of, link_message
from gateway.portal.sender import Message
from gateway.portal.tokens import issue_link
from gateway.profile.identity import find_customer_by
from gateway.profile.tables import customers

logger = logging.getLogger("gateway.portal")

SIGN_IN_PATH = "/portal/auth/"


def prepare_link(conn: Connection, portal: Portal, email: str, language: str | None = None,
                 base_url: str | None = None) -> Message | None:
    """A sign-in message for the customer with `email`, or None when there is none.

    The address is looked up through the blind index only; it is not written anywhere.
    """
    try:
        customer_id = find_customer_by(conn, portal.vault, "email", email)
    except ServiceError:
        return None
    if customer_id is None:
        return None
    link = issue_link(conn, portal.portal, customer_id)
    spoken = conn.execute(select(customers.c.language).where(customers.c.id == customer_id)).scalar()
    lang = language_of(language or spoken)
    url = f"{(base_url or portal.portal.base_url).rstrip('/')}{SIGN_IN_PATH}{link.token}"
    subject, body = link_message(lang, url, portal.portal.link_minutes)
    portal.record(conn, customer_id, "portal.link", "portal link",
                  extra={"channel": "email", "expires_at": link.expires_at.isoformat()})
    return Message(to=email, subject_ref=portal.audit.customer_id(customer_id), language=lang,
                   subject=subject, body=body, link=url, expires_at=link.expires_at)


def prepare_code(conn: Connection, portal: Portal, phone: str,
                 language: str | None = None) -> Message | None:
    """A sign-in code by SMS for the one customer with `phone`, or None when there is none
    (no one, or several people share the number: a code must name one person)."""
    try:
        customer_id = find_customer_by(conn, portal.vault, "phone", phone)
    except ServiceError:
        return None
    if customer_id is None:
        return None
    issued = issue_code(conn, portal.portal, portal.code_key, customer_id)
    spoken = conn.execute(select(customers.c.language).where(customers.c.id == customer_id)).scalar()
    lang = language_of(language or spoken)
    subject, body = code_message(lang, issued.code, portal.portal.code_minutes)
    portal.record(conn, customer_id, "portal.code", "portal code",
                  extra={"channel": "sms", "expires_at": issued.expires_at.isoformat()})
    return Message(to=phone, subject_ref=portal.audit.customer_id(customer_id), language=lang,
                   subject=subject, body=body, link=None, expires_at=issued.expires_at,
                   channel="sms", code=issued.code)


@dataclass(frozen=True)
class _Job:
    channel: str  # email | sms
    address: str  # the email address or the phone number
    language: str | None


class LinkDispatcher:
    """Looks addresses and numbers up and sends links and codes on a worker thread, after
    the answer has gone.

    The page that asked answers before the lookup starts, with the same words, so neither
    its content nor its timing can tell a known address from an unknown one.
    """

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, email: str, language: str | None, channel: str = "email") -> None:
        """Queue a link (email) or code (sms, `email` is then the number) request; returns at once."""
        self._jobs.put(_Job(channel, email, language))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="portal-links", daemon=True)
                self._thread.start()

    def drain(self) -> None:
        """Wait until every queued request has been handled (tests, shutdown)."""
        self._jobs.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                self._handle(job)
            except Exception:
                logger.exception("a sign-in %s could not be prepared or sent",  # no address
                                 "code" if job.channel == "sms" else "link")
            finally:
                self._jobs.task_done()

    def _handle(self, job: _Job) -> None:
        with self.portal.engine.begin() as conn:
            if job.channel == "sms":
                message = prepare_code(conn, self.portal, job.address, job.language)
            else:
                message = prepare_link(conn, self.portal, job.address, job.language)
        if message is not None:
            self.portal.sender.send(message)
