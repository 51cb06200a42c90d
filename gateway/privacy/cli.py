"""`consent-gateway keys`: master key versions and the rotation of data keys."""

from __future__ import annotations

import base64
import secrets
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gateway.privacy.vault import Vault

err = Console(stderr=True)


@click.group("keys")
def keys_cli() -> None:
    """Master key versions and the per-customer data keys they wrap.

    Version 1 derives from GATEWAY_MASTER_KEY (or the key file); further versions come from
    GATEWAY_MASTER_KEYS="2=KEY,3=KEY". New data keys use the highest version (or
    GATEWAY_MASTER_KEY_CURRENT). To rotate: `keys new`, add the line to GATEWAY_MASTER_KEYS of
    every gateway process, restart them, then `keys rotate`.
    """


def _engine_and_vault() -> tuple[Engine, Vault]:
    from gateway.config import Settings
    from gateway.privacy.keys import MasterKeyError
    from gateway.privacy.vault import vault_for
    from gateway.store.db import make_engine

    settings = Settings.from_env()
    try:
        vault = vault_for(settings)
    except MasterKeyError as exc:
        err.print(f"[red]INVALID_INPUT[/red]: {exc}")
        sys.exit(2)
    return make_engine(settings.database_url), vault


@keys_cli.command("new")
@click.option("--version", "version", type=click.IntRange(2), default=None,
              help="The version number to print (default: one above the configured ones).")
def keys_new(version: int | None) -> None:
    """Print a fresh master key as VERSION=KEY, to append to GATEWAY_MASTER_KEYS."""
    if version is None:
        _, vault = _engine_and_vault()
        version = max(vault.envelope.keyring.versions) + 1
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    err.print("append this to GATEWAY_MASTER_KEYS (comma-separated) of every gateway process; "
              "keep it secret, it is not stored anywhere:")
    click.echo(f"{version}={key}")


@keys_cli.command("status")
def keys_status() -> None:
    """Configured master key versions, the current one, and how many data keys each wraps."""
    from gateway.privacy.rotation import versions_in_use

    engine, vault = _engine_and_vault()
    with engine.connect() as conn:
        used = versions_in_use(conn)
    engine.dispose()
    keyring = vault.envelope.keyring
    click.echo(f"configured versions: {', '.join(map(str, keyring.versions))}; current: {keyring.current}")
    for version in sorted(set(used) | set(keyring.versions)):
        state = "configured" if version in keyring.keks else "MISSING: add it to GATEWAY_MASTER_KEYS"
        click.echo(f"version {version}\t{used.get(version, 0)} data keys\t{state}")


@keys_cli.command("rotate")
@click.option("--to", "target", type=click.IntRange(1), default=None,
              help="Master key version to re-wrap under (default: the current one).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="Data keys per transaction; small batches keep reads and writes flowing.")
def keys_rotate(target: int | None, batch_size: int) -> None:
    """Re-wrap every data key under the current (or --to) master key version, online.

    Batches commit one by one while the gateway serves; interrupt at any time and run again
    to continue. Sealed values are untouched: only the wrapped data keys change.
    """
    from gateway.privacy.keys import MasterKeyError
    from gateway.privacy.rotation import pending, rotate

    engine, vault = _engine_and_vault()
    goal = vault.envelope.current_version if target is None else target
    if goal not in vault.envelope.keyring.keks:
        err.print(f"[red]INVALID_INPUT[/red]: master key version {goal} is not configured "
                  f"(have {vault.envelope.keyring.versions}); add it to GATEWAY_MASTER_KEYS")
        sys.exit(2)
    with engine.connect() as conn:
        total = pending(conn, goal)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err)
    try:
        with progress:
            task = progress.add_task(f"re-wrapping data keys under v{goal}", total=total)
            report = rotate(engine, vault.envelope, to=goal, batch_size=batch_size,
                            progress=lambda n: progress.advance(task, n))
    except MasterKeyError as exc:
        err.print(f"[red]INVALID_INPUT[/red]: {exc}")
        sys.exit(2)
    finally:
        engine.dispose()
    err.print(f"[green]re-wrapped {report.rotated} data keys under version {report.target}; "
              f"{report.remaining} on other versions[/green]")
    if report.remaining:
        sys.exit(1)
