"""Errors that services raise on purpose: a stable code, a safe message, maybe a field.

Messages are written by us and never interpolate personal data; the GraphQL layer copies
`code` into `extensions.code` and masks every other exception.
"""

from __future__ import annotations

from typing import Any

from gateway.policy.codes import Code


class ServiceError(Exception):
    """An expected failure with a stable code (`INVALID_INPUT`, `NOT_FOUND`, ...)."""

    def __init__(self, code: Code, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, Any]:
        """What GraphQL puts in `extensions` (graphql-core copies it from the original error)."""
        ext: dict[str, Any] = {"code": self.code.value}
        if self.field is not None:
            ext["field"] = self.field
        return ext


class MergedError(ServiceError):
    """The id names a person merged into another: `survivor` is the survivor's id for the
    caller (its own pseudonym), in `extensions.survivor`."""

    def __init__(self, survivor: str, field: str | None = None) -> None:
        super().__init__(Code.MERGED, "this person was merged into another; use extensions.survivor", field)
        self.survivor = survivor

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "survivor": self.survivor}
