"""Frequency caps: one rule, counted over what actually left the outbox.

A customer's cap on a channel (preference center: at most `count` messages every `days`
days) is reached when that many messages of kind "message" with status "sent" on that
channel left the outbox within the last `days` days, whatever campaign or trigger sent
them. The outbox is the record of sends: an open or a click says a message arrived, not
that it was the only one, so interactions are never counted.

Who asks: the worker at the moment a batch leaves (`gateway.activation.decide`, with the
messages this batch sends before them) and the next best action (`gateway.scoring.nba`),
both through `load_caps` and `Caps.reached`. The SQL twin that plans and dry runs group by
is `gateway.activation.gate.capped`: the same window, the same rows, the same comparison.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from gateway.activation.tables import activation_messages
from gateway.consent.tables import preference_state

DAY = 86_400
# The preference center's channels a destination channel is capped under (ads: none).
CAPPED_CHANNELS = frozenset({"email", "sms", "push"})


@dataclass(frozen=True)
class Caps:
    """The caps of some customers on one channel at one moment, and the sends that count.

    `limits`: customer -> (count, days); `sent`: customer -> the `sent_epoch` of each message
    sent on the channel within the longest window among them.
    """

    channel: str
    now_epoch: int
    limits: dict[int, tuple[int, int]] = field(default_factory=dict)
    sent: dict[int, list[int]] = field(default_factory=dict)

    def limit(self, customer_id: int) -> tuple[int, int] | None:
        """The customer's (count, days) on the channel, or None without a cap."""
        return self.limits.get(customer_id)

    def used(self, customer_id: int) -> int:
        """Messages sent to the customer on the channel within their cap's window."""
        cap = self.limits.get(customer_id)
        if cap is None:
            return 0
        window = self.now_epoch - cap[1] * DAY
        return sum(1 for at in self.sent.get(customer_id, ()) if at > window)

    def reached(self, customer_id: int, pending: int = 0) -> bool:
        """The cap leaves no room for one more message (`pending`: sends not yet recorded)."""
        cap = self.limits.get(customer_id)
        return cap is not None and self.used(customer_id) + pending >= cap[0]


def load_caps(conn: Connection, ids: Sequence[int], channel: str, now_epoch: int) -> Caps:
    """The caps of `ids` on `channel` and their sends from the outbox, in two queries."""
    if channel not in CAPPED_CHANNELS or not ids:
        return Caps(channel, now_epoch)
    ps, m = preference_state.c, activation_messages.c
    limits = {int(r.customer_id): (int(r.cap_count), int(r.cap_period_days)) for r in conn.execute(
        select(ps.customer_id, ps.cap_count, ps.cap_period_days).where(
            ps.customer_id.in_(sorted(set(ids))), ps.kind == "channel", ps.key == channel,
            ps.cap_count.is_not(None), ps.cap_period_days.is_not(None)))}
    sent: dict[int, list[int]] = defaultdict(list)
    if limits:
        longest = max(days for _, days in limits.values())
        for cid, at in conn.execute(select(m.customer_id, m.sent_epoch).where(
                m.customer_id.in_(sorted(limits)), m.channel == channel, m.kind == "message",
                m.status == "sent", m.sent_epoch > now_epoch - longest * DAY)):
            sent[int(cid)].append(int(at))
    return Caps(channel, now_epoch, limits, dict(sent))
