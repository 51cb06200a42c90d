"""Structured JSON logs (structlog on top of logging): one line per event, no personal data.

Every library logger (uvicorn, SQLAlchemy, ours) goes through the same JSON renderer. The
request line carries the request id, the app, role, purpose, operation, status, codes and
timings: never the query text, variables, a value, a raw id or the client's address
(uvicorn's access log, which has the address and the URL, is off). casbin's own start-up dump
of the whole policy (INFO on `casbin.policy`) is silenced.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import structlog

# alembic announces each of its plugins at INFO whenever the readiness check loads it.
_QUIET = {"casbin": "WARNING", "uvicorn.access": "WARNING", "alembic.runtime.plugins": "WARNING"}


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
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "structured",
                                "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            **{name: {"level": quiet} for name, quiet in _QUIET.items()},
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

