"""`consent-gateway customers`: operator commands on the profile (support staff, scripts)."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime

import click
from rich.console import Console

err = Console(stderr=True)


@click.group("customers")
def customers_cli() -> None:
    """Customers, one at a time, through the same write service as every other write."""


@customers_cli.command("add")
@click.option("--email", required=True, help="Email address (stored encrypted, found by blind index).")
@click.option("--phone", required=True, help="International phone number, e.g. +447700900123.")
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--street", default=None, help="Street address (optional).")
@click.option("--birth-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="YYYY-MM-DD (optional).")
@click.option("--country", default=None, help="ISO 3166 alpha-2, e.g. GB (optional).")
@click.option("--jurisdiction", type=click.Choice(["gdpr", "152-fz"]), default="gdpr",
              show_default=True, help="Whose data protection law applies.")
def customers_add(email: str, phone: str, first_name: str, last_name: str, street: str | None,
                  birth_date: datetime | None, country: str | None, jurisdiction: str) -> None:
    """Add one customer and print their reference (the audit log's pseudonym, `c_...`).

    The identifiers are sealed under a new data key and indexed by keyed hash; the write and
    its audit entry commit together. The reference is what officers see in the audit log and
    export views; it reveals nothing (not even how many customers there are, which a raw
    sequential id would).
    """
    from gateway.app import build_services
    from gateway.audit.service import AuditEntry, write_entry
    from gateway.config import Settings
    from gateway.errors import ServiceError
    from gateway.profile.write import create_customer

    values: dict[str, object] = {
        "email": email, "phone": phone, "first_name": first_name, "last_name": last_name,
        "street": street, "birth_date": birth_date.date() if birth_date else None,
        "country": country.upper() if country else None, "jurisdiction": jurisdiction,
    }
    services = build_services(Settings.from_env())
    audit = services.pseudonyms.for_audit()
    try:
        with services.engine.begin() as conn:
            cid = create_customer(conn, services.vault, values)
            entry = AuditEntry(actor_type="operator", actor=getpass.getuser(), action="write",
                               operation="customers.add", subjects=[(cid, "ALLOWED")],
                               extra={"columns": sorted(k for k, v in values.items() if v is not None)})
            write_entry(conn, entry, audit, services.signer, services.settings)
    except ServiceError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}" + (f" (--{exc.field.replace('_', '-')})" if exc.field else ""))
        sys.exit(2)
    finally:
        services.engine.dispose()
    err.print("[green]customer added[/green]; reference (as in the audit log):")
    click.echo(audit.customer_id(cid))
