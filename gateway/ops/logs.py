"""Structured JSON logs (structlog on top of logging): one line per event, no personal data.

Every library logger (uvicorn, SQLAlchemy, ours) goes through the same JSON renderer. The
request line carries the request id, the app, role, purpose, operation, status, codes and
timings: never the query text, variables, a value, a raw id or the client's address
(uvicorn's access log, which has the address and the URL, is off). casbin's own start-up dump
of the whole policy (INFO on `casbin.policy`) is silenced.

Should uvicorn's access log be on anyway (`uvicorn gateway.app:create_app --factory` with
uvicorn's own defaults, or a log level that lets it through), `RedactAccessLog` rewrites each
of its lines before any handler sees it: the client's address becomes `-`, a query string
`?-`, and the secret tail of a sign-in link (`/portal/auth/<token>`) `-`. `create_app`
installs it on the `uvicorn.access` logger itself, so it holds whatever logging config runs.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import structlog

# alembic announces each of its plugins at INFO whenever the readiness check loads it.
_QUIET = {"casbin": "WARNING", "uvicorn.access": "WARNING", "alembic.runtime.plugins": "WARNING"}
# Paths whose last segment is a secret (a one-time sign-in token): logged without it.
SECRET_PATHS = ("/portal/auth/",)
ACCESS_LOGGER = "uvicorn.access"


def redact_path(path: str) -> str:
    """`path` as a log may show it: no query string, no secret path segment."""
    bare, query, _ = path.partition("?")
    for prefix in SECRET_PATHS:
        if bare.startswith(prefix) and len(bare) > len(prefix):
            bare = prefix + "-"
    return bare + ("?-" if query else "")


class RedactAccessLog(logging.Filter):
    """Rewrites uvicorn's access records: no client address, no query, no sign-in token.

    uvicorn logs `'%s - "%s %s HTTP/%s" %d'` with args (client, method, path, version,
    status); the record is changed in place, so every handler and formatter sees the
    redacted form (the filter sits on the logger, before any handler).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            record.args = ("-", method, redact_path(str(path)), version, status)
        else:  # an access record of another shape: say nothing rather than leak
            record.msg, record.args = "access (unrecognised record, not logged)", ()
        return True


def redact_access_log() -> None:
    """Install `RedactAccessLog` on the `uvicorn.access` logger (once per process)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactAccessLog) for f in access.filters):
        access.addFilter(RedactAccessLog())


def _plain(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event


_SHARED: list[Any] = [
    _plain,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),  # a stdlib call's `extra={...}` becomes JSON keys
]


def formatter(json: bool = True) -> logging.Formatter:
    """The log formatter of every handler (also configures structlog in this process).

    Named by `logging_config` (`"()"`), so uvicorn builds it in each worker process.
    """
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def logging_config(level: str = "info", json: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's `log_config`: JSON lines on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": f"{__name__}.formatter", "json": json}},
        "filters": {"redact_access": {"()": f"{__name__}.RedactAccessLog"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "structured",
                                "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            **{name: {"level": quiet} for name, quiet in _QUIET.items() if name != ACCESS_LOGGER},
            ACCESS_LOGGER: {"level": _QUIET[ACCESS_LOGGER], "filters": ["redact_access"]},
        },
    }


def configure_logging(level: str = "info", json: bool = True) -> None:
    """Apply `logging_config` to this process (commands other than `serve`)."""
    logging.config.dictConfig(logging_config(level, json))


def silence_casbin() -> None:
    """casbin logs its whole model and policy at INFO when it loads: keep that out of logs."""
    logger = logging.getLogger("casbin")
    if logger.level < logging.WARNING:
        logger.setLevel(logging.WARNING)

