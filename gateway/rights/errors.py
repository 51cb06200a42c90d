"""Expected failures of the rights with codes of their own, on top of the common ones."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from gateway.errors import ServiceError
from gateway.policy.codes import Code


class CaseCode(StrEnum):
    """Why a step of a case cannot be taken (besides INVALID_INPUT, NOT_FOUND, POLICY_DENIED)."""

    CASE_CLOSED = "CASE_CLOSED"  # completed or rejected: no further step
    ALREADY_ERASED = "ALREADY_ERASED"  # the customer of the case has been erased
    EXTENSION_NOT_ALLOWED = "EXTENSION_NOT_ALLOWED"  # no extension by law, or extended already


class CaseError(ServiceError):
    """A ServiceError whose `extensions.code` is a `CaseCode` (clients match on it)."""

    def __init__(self, case_code: CaseCode, message: str, field: str | None = None,
                 base: Code = Code.INVALID_INPUT) -> None:
        super().__init__(base, message, field)
        self.case_code = case_code

    @property
    def extensions(self) -> dict[str, Any]:
        ext = super().extensions
        ext["code"] = self.case_code.value
        return ext


def code_of(exc: ServiceError) -> str:
    """The stable code to show for `exc`."""
    return exc.case_code.value if isinstance(exc, CaseError) else exc.code.value
