"""Imports every domain's tables so that `metadata` is complete (for Alembic and tests)."""

from __future__ import annotations

from gateway.activation import tables as _activation  # noqa: F401
from gateway.audit import tables as _audit  # noqa: F401
from gateway.auth import tables as _auth  # noqa: F401
from gateway.consent import tables as _consent  # noqa: F401
from gateway.linkage import tables as _linkage  # noqa: F401
from gateway.portal import tables as _portal  # noqa: F401
from gateway.privacy import tables as _privacy  # noqa: F401
from gateway.profile import tables as _profile  # noqa: F401
from gateway.rights import tables as _rights  # noqa: F401
from gateway.scoring import tables as _scoring  # noqa: F401
from gateway.segmentation import tables as _segmentation  # noqa: F401
from gateway.store.metadata import metadata

__all__ = ["metadata"]
