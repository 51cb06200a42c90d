"""The subject's side of a decision: basis, consent, objection, restriction and channel."""

from __future__ import annotations

from typing import NamedTuple

from gateway.consent.purposes import Purpose
from gateway.policy.codes import Code
from gateway.policy.decision import ALLOW, Decision

_RESTRICTED = Decision.deny(Code.RESTRICTED)
_CONSENT_REQUIRED = Decision.deny(Code.CONSENT_REQUIRED)
_OBJECTED = Decision.deny(Code.OBJECTED)
_CHANNEL_OPTED_OUT = Decision.deny(Code.CHANNEL_OPTED_OUT)


class SubjectFlags(NamedTuple):
    """What the preference center says of one customer for one purpose.

    Computed in SQL by :mod:`gateway.consent.state` so that filters and per-row decisions
    share one definition. `channel_opted_out`: the latest choice for the purpose's channel
    (`Purpose.channel`) is an opt-out; false when the purpose has no channel or the customer
    never stated a preference for it.
    """

    restricted: bool
    objected: bool
    consented: bool
    channel_opted_out: bool


def decide_subject(purpose: Purpose, flags: SubjectFlags) -> Decision:
    """May this customer's data be used for `purpose`?

    Restriction (Art. 18) stops every use but storage, except for exempt purposes; a
    consent-based purpose needs an active, current consent; a purpose within the scope of
    an objection (Art. 21: profiling, direct marketing) stops when the customer objected,
    whatever its basis; a purpose that contacts the customer through a channel stops when
    the customer opted out of that channel (ePrivacy Art. 13: an opt-out of a channel is a
    refusal of marketing through it, even under an older consent).

    No recorded channel preference does not stop the purpose: for a consent-based purpose
    the consent itself is the opt-in. The reasons are checked from the widest to the
    narrowest, so a customer without consent is told CONSENT_REQUIRED, not the channel.
    """
    if flags.restricted and not purpose.restriction_exempt:
        return _RESTRICTED
    if purpose.basis == "consent" and not flags.consented:
        return _CONSENT_REQUIRED
    if purpose.objection_scope is not None and flags.objected:
        return _OBJECTED
    if purpose.channel is not None and flags.channel_opted_out:
        return _CHANNEL_OPTED_OUT
    return ALLOW
