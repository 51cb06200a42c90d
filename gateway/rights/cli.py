"""`consent-gateway rights export | erase`: data subject requests from the command line.

Both find the customer by email through the blind index, open a case, carry it out and
complete it in one transaction with its audit entries (actor `cli`). Messages never repeat
the address or any other personal value.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from rich.console import Console

from gateway.config import Settings

err = Console(stderr=True)
NOT_FOUND_EXIT = 3
REFUSED_EXIT = 4
_NOT_FOUND = (
    "no customer has this email address: either it was never known, or its customer was "
    "erased (an erasure keeps no trace of the address, by design). Nothing was done."
)


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[red]error[/red]: {message}")
    sys.exit(code)


@click.group("rights")
def rights_cli() -> None:
    """Data subject requests: export a person's data, erase a person."""


def _run(email: str, kind: str, note: str | None) -> tuple[str, dict[str, object]]:
    """Open and carry out a case of `kind` for the customer with `email`."""
    from gateway.app import build_services
    from gateway.errors import ServiceError
    from gateway.rights.cases import open_case
    from gateway.rights.export import dumps
    from gateway.rights.service import Execution, Rights, execute_case
    from gateway.rights.subjects import find_by_email
    from gateway.rights.trail import Actor

    services = build_services(Settings.from_env())
    rights = Rights(services.purposes, services.signer, services.pseudonyms, services.settings,
                    services.vault)
    actor = Actor("system", "cli", operation=f"rights {kind}")
    try:
        with services.engine.begin() as conn:
            person = find_by_email(conn, services.vault, email)
            if person is None:
                _fail(NOT_FOUND_EXIT, _NOT_FOUND)
            case = open_case(conn, rights.trail(actor), person, kind, note=note)
            done = execute_case(conn, rights, actor, case.ref, Execution())
    except ServiceError as exc:
        _fail(REFUSED_EXIT, f"{exc.code.value}: {exc.message}")
    finally:
        services.engine.dispose()
    if done.document is not None:
        return done.case.ref, {"document": dumps(done.document, indent=True).decode()}
    return done.case.ref, dict(done.case.outcome or {})


@rights_cli.command("export")
@click.option("--email", required=True, help="The person's email address (found through the blind index).")
def export_cmd(email: str) -> None:
    """Print everything held about the person with EMAIL as one JSON document (stdout).

    Opens an `export` case, builds the document and completes the case; the case and the
    read are audited. Exit code 3 when no customer has this address (never known or erased).
    """
    ref, out = _run(email, "export", "requested through the operator's command line")
    click.echo(str(out["document"]))
    err.print(f"[green]exported[/green]: case {ref}")


@rights_cli.command("erase")
@click.option("--email", required=True, help="The person's email address (found through the blind index).")
@click.option("--reason", required=True, help="Why (e.g. the ticket of the request); no personal data.")
def erase_cmd(email: str, reason: str) -> None:
    """Erase the person with EMAIL: data key destroyed, rows deleted, consent proof kept.

    Opens an `erase` case with REASON and carries it out at once. Audit entries stay (they
    hold pseudonyms only). Prints the case, the tombstone id and the rows deleted as JSON.
    Exit code 3 when no customer has this address (never known, or erased already).
    """
    import json

    if not reason.strip():
        _fail(2, "give a reason (--reason), e.g. the ticket number of the request")
    ref, outcome = _run(email, "erase", reason)
    click.echo(json.dumps({"case": ref, **outcome}, sort_keys=True))
    err.print(f"[green]erased[/green]: case {ref}, tombstone {outcome.get('tombstone')}")
