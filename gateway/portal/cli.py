"""`consent-gateway portal link|code`: a sign-in link or SMS code for a customer, from the
operator's shell.

The demo has no mail server: the link is printed and written to the outbox file (the
configured sender). Messages never repeat the address.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from gateway.config import Settings

err = Console(stderr=True)
NOT_FOUND_EXIT = 3


@click.group("portal")
def portal_cli() -> None:
    """The self-service portal (served under /portal/ by `serve`)."""


@portal_cli.command("link")
@click.option("--email", required=True, help="The customer's email address (found through the blind index).")
@click.option("--base-url", default=None,
              help="Where the portal is served (default: GATEWAY_PORTAL_BASE_URL or http://127.0.0.1:8000).")
@click.option("--language", type=click.Choice(["en", "ru"]), default=None,
              help="Language of the message (default: the customer's).")
def link_cmd(email: str, base_url: str | None, language: str | None) -> None:
    """Print a one-time sign-in link for the customer with EMAIL and send it to the outbox.

    The link works once, for GATEWAY_PORTAL_LINK_MINUTES (15) minutes. Exit code 3 when no
    customer has this address.
    """
    from gateway.app import build_services
    from gateway.portal.context import Portal
    from gateway.portal.links import prepare_link
    from gateway.portal.sender import sender_for
    from gateway.portal.settings import PortalSettings

    settings = PortalSettings.from_env()
    services = build_services(Settings.from_env())
    portal = Portal.of(services, settings, sender_for(settings))
    try:
        with services.engine.begin() as conn:
            message = prepare_link(conn, portal, email, language, base_url)
    finally:
        services.engine.dispose()
    if message is None:
        err.print("[red]error[/red]: no customer has this email address; no link was made.")
        sys.exit(NOT_FOUND_EXIT)
    portal.sender.send(message)
    err.print(f"sign-in link (works once, until {message.expires_at:%Y-%m-%d %H:%M} UTC); "
              f"also sent through the `{settings.sender}` sender:")
    click.echo(message.link)


@portal_cli.command("code")
@click.option("--phone", required=True, help="The customer's phone number (found through the blind index).")
@click.option("--language", type=click.Choice(["en", "ru"]), default=None,
              help="Language of the message (default: the customer's).")
def code_cmd(phone: str, language: str | None) -> None:
    """Print a one-time sign-in code for the customer with PHONE and send it to the outbox.

    The person types it at /portal/code with their number; it works once, for
    GATEWAY_PORTAL_CODE_MINUTES (10) minutes and GATEWAY_PORTAL_CODE_ATTEMPTS (5) tries, and
    replaces their earlier codes. Exit code 3 when no one (or more than one) has this number.
    """
    from gateway.app import build_services
    from gateway.portal.context import Portal
    from gateway.portal.links import prepare_code
    from gateway.portal.sender import sender_for
    from gateway.portal.settings import PortalSettings

    settings = PortalSettings.from_env()
    services = build_services(Settings.from_env())
    portal = Portal.of(services, settings, sender_for(settings))
    try:
        with services.engine.begin() as conn:
            message = prepare_code(conn, portal, phone, language)
    finally:
        services.engine.dispose()
    if message is None:
        err.print("[red]error[/red]: no single customer has this phone number; no code was made.")
        sys.exit(NOT_FOUND_EXIT)
    portal.sender.send(message)
    err.print(f"sign-in code (works once, until {message.expires_at:%Y-%m-%d %H:%M} UTC, at "
              f"/portal/code); also sent through the `{settings.sender}` sender:")
    click.echo(message.code)
