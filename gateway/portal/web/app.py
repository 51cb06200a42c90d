"""The portal as an ASGI app: routes, templates, static files, security headers."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from gateway.portal.context import GatewayParts, Portal
from gateway.portal.sender import Sender, sender_for
from gateway.portal.settings import PortalSettings
from gateway.portal.web import actions, auth, codes, pages, rights
from gateway.portal.web.base import Web
from gateway.portal.web.headers import SecurityHeaders
from gateway.portal.web.values import show
from gateway.privacy.keys import load_or_create_master_key

HERE = Path(__file__).parent


def templates() -> jinja2.Environment:
    """The Jinja2 environment: autoescaped HTML, templates compiled once."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["show"] = show  # a value of any shape as HTML (values.py)
    return env


def build_portal(parts: GatewayParts, settings: PortalSettings | None = None,
                 sender: Sender | None = None) -> PortalApp:
    """The portal over a gateway's parts (`gateway.app` mounts it under /portal)."""
    settings = settings or PortalSettings.from_env()
    portal = Portal.of(parts, settings, sender or sender_for(settings))
    master = load_or_create_master_key(parts.settings.master_key, parts.settings.master_key_file)
    web = Web(portal, master, templates())
    app = Starlette(routes=[
        *auth.routes(web), *codes.routes(web), *pages.routes(web), *actions.routes(web), *rights.routes(web),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ])
    return PortalApp(app, web)


class PortalApp(SecurityHeaders):
    """The portal's ASGI app, keeping its shared parts reachable (tests, the bench)."""

    def __init__(self, app: Starlette, web: Web) -> None:
        super().__init__(app)
        self.web = web
