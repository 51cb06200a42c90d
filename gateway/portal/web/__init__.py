"""The portal's web pages: Starlette routes and Jinja2 templates, server-rendered, no script.

`build_portal` returns the ASGI app that `gateway.app` mounts under `/portal`.
"""

from gateway.portal.web.app import build_portal

__all__ = ["build_portal"]
