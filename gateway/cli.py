"""`consent-gateway`: the operator's command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select, update

from gateway.activation.cli import activation_cli
from gateway.audit.cli import audit_cli
from gateway.config import Settings, require_policy_dir
from gateway.consent import cli as consent_cli
from gateway.linkage.cli import ingest_command, linkage_cli
from gateway.portal.cli import portal_cli
from gateway.privacy.cli import keys_cli
from gateway.profile.cli import customers_cli
from gateway.retention.cli import retention_cli
from gateway.rights.cli import rights_cli
from gateway.scoring.cli import scores_cli
from gateway.segmentation.cli import segments_cli

err = Console(stderr=True)

DEMO_APPS = {
    "marketing": ("demo-marketing", "marketing_email"),
    "analytics": ("demo-analytics", "analytics"),
    "support": ("demo-support", "support"),
    "call_center": ("demo-call-center", "support"),
    "compliance_officer": ("demo-compliance", "compliance_audit"),
    "linkage": ("demo-linkage", "identity_resolution"),
    "data_steward": ("demo-data-steward", "identity_resolution"),
}


def _settings() -> Settings:
    settings = Settings.from_env()
    require_policy_dir(settings.policy_dir)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="consent-gateway")
def main() -> None:
    """consent-gateway: the privacy-first consent and profile gateway.

    Configuration comes from GATEWAY_* environment variables (GATEWAY_DATABASE_URL,
    GATEWAY_MASTER_KEY, GATEWAY_POLICY_DIR, ...); with none set, an SQLite database and a
    master key file are created under ./var/.
    """


# --- db -------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema management (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (or --revision)."""
    from gateway.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    err.print(f"[green]database at revision {revision}[/green]")


# --- apps -----------------------------------------------------------------------------------


@main.group()
def apps() -> None:
    """Calling apps and their API keys."""


def _issue_key(name: str, role: str, *, rotate: bool) -> str:
    from gateway.app import build_services
    from gateway.auth.apps import KEY_PREFIX, create_app, hash_key
    from gateway.auth.tables import apps as apps_table
    from gateway.profile.order import ensure as ensure_order

    services = build_services(_settings())
    with services.engine.begin() as conn:
        existing = conn.execute(select(apps_table.c.id).where(apps_table.c.name == name)).first()
        if existing is not None and rotate:
            import secrets

            key = KEY_PREFIX + secrets.token_urlsafe(32)
            conn.execute(
                update(apps_table).where(apps_table.c.id == existing.id).values(
                    key_hash=hash_key(key), key_prefix=key[:10], role=role, revoked_at=None
                )
            )
            return key
        caller, key = create_app(conn, name, role, services.policy.roles())
        # The app's own order of customers, stored now rather than on its first listing.
        pseudonyms = services.pseudonyms.for_app(caller.app_id)
        ensure_order(conn, pseudonyms.audience, pseudonyms.order)
    services.engine.dispose()
    return key


@apps.command("create")
@click.argument("name")
@click.option("--role", required=True, help="marketing, analytics, support, call_center, compliance_officer, linkage")
def apps_create(name: str, role: str) -> None:
    """Register app NAME with ROLE and print its key (shown once, as the last line)."""
    from gateway.errors import ServiceError

    try:
        key = _issue_key(name, role, rotate=False)
    except ServiceError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.message}")
        sys.exit(2)
    err.print(f"app {name} created with role {role}; store this key now, it is not shown again:")
    click.echo(key)


@apps.command("list")
def apps_list() -> None:
    """List the registered apps (never their keys)."""
    from gateway.auth.tables import apps as apps_table
    from gateway.store.db import make_engine

    engine = make_engine(_settings().database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(apps_table).order_by(apps_table.c.name)).all()
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.name}\t{row.role}\t{row.key_prefix}…\t{state}")


@apps.command("register-query")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def apps_register_query(name: str, file: Path) -> None:
    """Register the GraphQL document in FILE for app NAME (a persisted / trusted document);
    print its sha256, the `extensions.persistedQuery.sha256Hash` the app sends instead."""
    from graphql import GraphQLError, parse

    from gateway.auth.documents import DocumentRegistry
    from gateway.auth.tables import apps as apps_table
    from gateway.store.db import make_engine

    document = file.read_text(encoding="utf-8")
    try:
        parse(document, no_location=True)
    except GraphQLError as exc:
        err.print(f"[red]BAD_REQUEST[/red]: the document does not parse: {exc.message}")
        sys.exit(2)
    engine = make_engine(_settings().database_url)
    try:
        with engine.begin() as conn:
            app = conn.execute(select(apps_table.c.id).where(
                apps_table.c.name == name, apps_table.c.revoked_at.is_(None))).first()
            if app is None:
                err.print(f"[red]NOT_FOUND[/red]: no active app named {name}")
                sys.exit(2)
            sha256 = DocumentRegistry().register(conn, app.id, document)
    finally:
        engine.dispose()
    click.echo(sha256)


# --- demo -----------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Demo data and demo apps."""


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err,
    )


@demo.command("seed")
@click.option("--customers", default=500, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", "seed_value", default=7, show_default=True, type=int, help="Random seed.")
def demo_seed(customers: int, seed_value: int) -> None:
    """Generate deterministic demo customers, sources, orders, interactions and consents."""
    from gateway.consent.purposes import load_purposes
    from gateway.demo.seed import seed_demo
    from gateway.privacy.vault import vault_for
    from gateway.store.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    purposes = load_purposes(settings.policy_dir / "purposes.yaml")
    vault = vault_for(settings)
    with _progress() as bar:
        task = bar.add_task("seeding customers", total=customers)
        report = seed_demo(
            engine, purposes, vault=vault, customers=customers, seed=seed_value,
            progress=lambda n: bar.advance(task, n),
        )
    err.print(
        f"[green]seeded[/green] {report.customers} customers, {report.source_records} source "
        f"records, {report.orders} orders, {report.interactions} interactions, "
        f"{report.consent_events} consent events, {report.preference_events} preference events"
    )
    # The derived columns (lifecycle stage, RFM) come from the compute job, within each
    # customer's choices: the seeder leaves them empty.
    from gateway.segmentation.cli import compute_command

    click.get_current_context().invoke(compute_command, full=False)


@demo.command("setup")
@click.option("--customers", default=500, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", "seed_value", default=7, show_default=True, type=int)
@click.option("--port", default=8000, show_default=True, type=int, help="Port shown in the curl examples.")
@click.pass_context
def demo_setup(ctx: click.Context, customers: int, seed_value: int, port: int) -> None:
    """Migrate, seed once (if empty), issue fresh keys for one demo app per role, print curls."""
    _require_free_port(port)  # before anything changes: re-issuing keys revokes the old ones
    from gateway.profile.tables import customers as customers_table
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(customers_table)).scalar_one()
    engine.dispose()
    if present == 0:
        ctx.invoke(demo_seed, customers=customers, seed_value=seed_value)
    else:
        err.print(f"database already holds {present} customers; not seeding again")
    query = '{"query":"{ customers(first: 5) { nodes { id firstName email city orders { total } } } }"}'
    for role, (name, purpose) in DEMO_APPS.items():
        key = _issue_key(name, role, rotate=True)
        click.echo(f"\n# {name} (role {role}), purpose {purpose}")
        click.echo(f"export KEY_{role.upper()}={key}")
        click.echo(
            f"curl -s http://127.0.0.1:{port}/graphql -H 'Authorization: Bearer {key}' "
            f"-H 'X-Purpose: {purpose}' -H 'Content-Type: application/json' -d '{query}'"
        )


def _require_free_port(port: int, host: str = "127.0.0.1") -> None:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            err.print(
                f"[red]port {port} is taken[/red] (a gateway from an earlier `make demo` still "
                f"running?): stop it, or use another port: make demo PORT={port + 1}. "
                "Nothing was changed; the demo keys printed before stay valid."
            )
            raise SystemExit(1) from None


# --- serve, schema --------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--migrate", is_flag=True, help="Run `db upgrade` before serving.")
def serve(host: str, port: int, workers: int, migrate: bool) -> None:
    """Serve the gateway over HTTP (uvicorn)."""
    import uvicorn

    from gateway.ops.logs import configure_logging, logging_config

    settings = _settings()
    configure_logging(settings.log_level, json=settings.log_format == "json")
    if migrate:
        from gateway.store.migrate import upgrade

        upgrade(settings.database_url)
    _metrics_dir()
    uvicorn.run(
        "gateway.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_level=settings.log_level, proxy_headers=False, server_header=False,
        # JSON lines from every worker; no access log (it holds the client's address).
        log_config=logging_config(settings.log_level, json=settings.log_format == "json"),
        access_log=False, timeout_graceful_shutdown=settings.shutdown_seconds,
        # uvicorn restarts a worker that does not answer its ping within this many seconds;
        # its default (5) kills workers still starting on a loaded machine, again and again.
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
    )


def _metrics_dir() -> None:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this server's workers (kept if set: containers)."""
    import os
    import tempfile

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink()  # counters of an earlier server would add up with ours
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")


@main.group()
def schema() -> None:
    """The GraphQL schema."""


@schema.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
def schema_export(output: Path | None) -> None:
    """Print the SDL (what schema/schema.graphql holds)."""
    from gateway.api.schema import export_sdl

    sdl = export_sdl()
    if output is None:
        click.echo(sdl, nl=False)
    else:
        output.write_text(sdl)
        err.print(f"wrote {output}")


# Each domain's command group, one line each.
main.add_command(audit_cli)
main.add_command(consent_cli.purposes)
main.add_command(consent_cli.receipts)
main.add_command(consent_cli.consents)
main.add_command(keys_cli)
main.add_command(customers_cli)
main.add_command(rights_cli)
main.add_command(portal_cli)
main.add_command(segments_cli)
main.add_command(scores_cli)
main.add_command(activation_cli)
main.add_command(retention_cli)
main.add_command(linkage_cli)
main.add_command(ingest_command)


if __name__ == "__main__":  # pragma: no cover
    main()
