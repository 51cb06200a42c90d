"""The ASGI application: `create_app()` wires settings, storage, policy and the API."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gateway.activation.service import Activation
from gateway.api.context import Services
from gateway.api.http import GraphQLEndpoint
from gateway.api.schema import build_schema
from gateway.audit.startup import record_startup
from gateway.auth.apps import Authenticator
from gateway.config import Settings, require_policy_dir
from gateway.consent.purposes import load_purposes
from gateway.ops import metrics
from gateway.ops.health import Readiness, ready
from gateway.ops.logs import redact_access_log, silence_casbin
from gateway.ops.ratelimit import limiter_for
from gateway.policy import PolicyEngine
from gateway.portal.settings import PortalSettings
from gateway.portal.web import build_portal
from gateway.privacy.keys import load_or_create_master_key
from gateway.privacy.pseudonyms import PseudonymService
from gateway.privacy.signing import Signer
from gateway.privacy.vault import vault_for
from gateway.store.db import make_engine


def build_services(settings: Settings) -> Services:
    """The long-lived parts of a gateway process, from its settings."""
    require_policy_dir(settings.policy_dir)
    silence_casbin()  # casbin logs the whole model and policy at INFO while loading them
    engine = make_engine(settings.database_url)
    purposes = load_purposes(settings.policy_dir / "purposes.yaml")
    master = load_or_create_master_key(settings.master_key, settings.master_key_file)
    policy = PolicyEngine(settings.policy_dir, purposes)
    pseudonyms = PseudonymService(master)
    signer = Signer(master)
    vault = vault_for(settings, master)
    return Services(
        settings=settings,
        engine=engine,
        purposes=purposes,
        policy=policy,
        pseudonyms=pseudonyms,
        authenticator=Authenticator(engine, settings.app_cache_seconds),
        signer=signer,
        vault=vault,
        activation=Activation.build(settings, purposes, policy, pseudonyms, vault, signer),
        limiter=limiter_for(settings.rate_limits, settings.rate_limit_storage,
                            settings.policy_dir / "limits.yaml", settings.rate_limit_namespace),
    )


_frozen = False


def _freeze_startup_objects() -> None:
    """Move what start-up built out of the cyclic collector's view, once per process.

    The schema, policy tables and SQLAlchemy metadata live as long as the process: frozen,
    a full collection under load walks only what requests allocate (tens of ms less each).
    Once only, so that processes which create many apps (the tests) do not pin them all.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, services: Services | None = None,
               portal: PortalSettings | None = None) -> Starlette:
    """The gateway as an ASGI app (uvicorn: `gateway.app:create_app --factory`); the
    self-service portal under /portal (its settings from GATEWAY_PORTAL_* unless given)."""
    # uvicorn's access log, if on, would hold client addresses and sign-in tokens.
    redact_access_log()
    services = services or build_services(settings or Settings.from_env())
    endpoint = GraphQLEndpoint(services, build_schema(services.settings))

    def _ping() -> None:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def healthz(_request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(_ping)
        except Exception:  # noqa: BLE001 - any failure to reach the database is "down"
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok"})

    readiness = Readiness(services.engine, services.vault, services.policy,
                          services.settings.database_url)

    async def livez(_request: Request) -> JSONResponse:
        # The event loop answered: alive. Nothing else is checked (a database outage must
        # not make an orchestrator restart every replica).
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> JSONResponse:
        checks = await run_in_threadpool(readiness.check)
        limiter = services.limiter
        report: dict[str, object] = {"status": "ready" if ready(checks) else "unavailable",
                                     "checks": checks}
        if limiter is not None:  # reported, not required: the limiter fails open
            report["rate_limit_storage"] = "ok" if await run_in_threadpool(limiter.ping) else "down"
        return JSONResponse(report, status_code=200 if ready(checks) else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        body, media = await run_in_threadpool(metrics.render)
        return Response(body, media_type=media)

    async def jwks(_request: Request) -> JSONResponse:
        return JSONResponse(services.signer.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Policy or signing-key changes since the last start go into the audit log first.
        await run_in_threadpool(record_startup, services.engine, services.settings,
                                services.signer, services.pseudonyms.for_audit())
        _freeze_startup_objects()
        running = None
        if services.settings.activation_worker and services.activation is not None:
            from gateway.activation.worker import start_in_thread

            running = start_in_thread(services.engine, services.activation)
        yield
        # uvicorn stops accepting, lets in-flight requests finish (their audit entries are
        # written before their answers leave), then runs this.
        await run_in_threadpool(endpoint.close)  # the audit entries still pending
        if running is not None:
            running[0].stop()
            running[1].join(timeout=30)  # let it finish the batch in hand
            running[0].close()
        services.engine.dispose()
        metrics.worker_exited(os.getpid())

    app = Starlette(
        routes=[
            Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/livez", livez, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/.well-known/jwks.json", jwks, methods=["GET"]),
            Mount("/portal", app=build_portal(services, portal)),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
