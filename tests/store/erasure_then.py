"""Erasing on a database at an old revision: the sections whose tables came later are left
out, as the erasure of that time had no such sections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.rights import sections as _registry

# Registered sections whose tables a later migration creates: name -> revision.
LATER_SECTIONS = {"sessions": "0013_portal"}


@contextmanager
def sections_before_portal() -> Iterator[None]:
    """Run the erasure without the sections added after 0008 (their tables are missing)."""
    later = {n: _registry._SECTIONS.pop(n) for n in LATER_SECTIONS if n in _registry._SECTIONS}
    try:
        yield
    finally:
        _registry._SECTIONS.update(later)
