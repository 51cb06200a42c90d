"""The regression check for the withheld-field leak fixed in the gateway (see README).

The gateway once re-raised shared `FieldDenied` objects, whose `__traceback__` grew with every
withheld field served. Withheld fields are no longer raised; these two functions show it
stays so (frames accumulated: 0) and release anything found, as measurement hygiene.
"""

from __future__ import annotations


def shared_traceback_entries() -> int:
    """Frames accumulated on the shared `WITHHELD` error objects (0 when nothing leaks)."""
    from gateway.api.errors import WITHHELD

    total = 0
    for error in WITHHELD.values():
        tb = error.__traceback__
        while tb is not None:
            total += 1
            tb = tb.tb_next
    return total


def drop_shared_tracebacks() -> None:
    """Release what the shared `WITHHELD` objects accumulated (measurement hygiene only)."""
    from gateway.api.errors import WITHHELD

    for error in WITHHELD.values():
        error.__traceback__ = None
        error.__context__ = None
