"""The subject's side of a decision: basis, consent, objection and restriction."""

from __future__ import annotations

from typing import NamedTuple

from gateway.consent.purposes import Purpose
from gateway.policy.codes import Code
from gateway.policy.decision import ALLOW, Decision

_RESTRICTED = Decision.deny(Code.RESTRICTED)
_CONSENT_REQUIRED = Decision.deny(Code.CONSENT_REQUIRED)
_OBJECTED = Decision.deny(Code.OBJECTED)


class SubjectFlags(NamedTuple):
    """What the preference center says of one customer for one purpose.

    Computed in SQL by :mod:`gateway.consent.state` so that filters and per-row decisions
    share one definition.
    """

    restricted: bool
    objected: bool
    consented: bool


def decide_subject(purpose: Purpose, flags: SubjectFlags) -> Decision:
    """May this customer's data be used for `purpose`?

    Restriction (Art. 18) stops every use but storage, except for exempt purposes; a
    consent-based purpose needs an active, current consent; a purpose within the scope of
    an objection (Art. 21: profiling, direct marketing) stops when the customer objected,
    whatever its basis.
    """
    if flags.restricted and not purpose.restriction_exempt:
        return _RESTRICTED
    if purpose.basis == "consent" and not flags.consented:
        return _CONSENT_REQUIRED
    if purpose.objection_scope is not None and flags.objected:
        return _OBJECTED
    return ALLOW
