"""The gate at the moment a batch leaves: each message decided, each payload built.

Run by the worker on a claimed batch, inside one transaction: the facts of every customer
of the batch in one query (flags, suppression, contact), their frequency caps and the
trigger rules' limits counted over what was actually sent (plus what this batch sends
before them), a trigger step's `unless` checked against the events since, the arm drawn,
then the payload read through the profile read path (`build_view`): the destination's field
plan, its identifiers revealed, pseudonymized or masked as for any reader, ids as the
destination's own pseudonyms.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, select

from gateway.activation.campaigns import Campaign, get_campaign_by_id
from gateway.activation.caps import Caps, load_caps
from gateway.activation.destinations import Destination, get_destination
from gateway.activation.experiments import CONTROL, assign
from gateway.activation.gate import Facts, epoch, reason
from gateway.activation.gate import reachable as reachable_sql
from gateway.activation.gate import suppressed as suppressed_sql
from gateway.activation.rules import EVENT_KINDS, Rule
from gateway.activation.service import Activation
from gateway.activation.tables import activation_events, activation_messages
from gateway.consent.state import flags_of, subject_flag_columns
from gateway.errors import ServiceError
from gateway.policy import decide_subject
from gateway.policy.codes import Code
from gateway.privacy.pseudonyms import InvalidPseudonym, Pseudonymizer
from gateway.profile.identity import with_data_key
from gateway.profile.reader import Reader, build_view
from gateway.profile.tables import customers

YEAR = 366 * 86400


@dataclass
class Decided:
    """A batch after the gate: what leaves (payloads) and what does not (status, reason)."""

    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    arms: dict[int, tuple[str, str]] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)

    def stop(self, row_id: int, status: str, code: Code) -> None:
        self.outcomes[row_id] = (status, code.value)
        self.excluded[code.value] += 1


def message_token(destination: Destination, names: Pseudonymizer, message_id: int) -> str:
    """The public id of a message: stable, opaque, readable only by the gateway."""
    return f"m{destination.id}.{names.reference('activation-message', message_id)}"


def resolve_token(activation: Activation, conn: Connection, token: str) -> int | None:
    """The outbox id behind a message's public id, or None when it is not one of ours."""
    head, _, sealed = token.partition(".")
    if not head.startswith("m") or not head[1:].isdigit() or not sealed:
        return None
    try:
        destination = get_destination(conn, destination_id=int(head[1:]))
        return destination.pseudonyms(activation).resolve_reference("activation-message", sealed)
    except (InvalidPseudonym, ServiceError):
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class BatchGate:
    """Decides one claimed batch of one destination at `now`."""

    def __init__(self, conn: Connection, activation: Activation, destination: Destination,
                 rows: list[Any], now: datetime) -> None:
        self.conn, self.activation, self.destination = conn, activation, destination
        self.rows, self.now, self.now_epoch = rows, now, epoch(now)
        self.purpose = activation.purposes.by_name[destination.purpose]
        self.names = destination.pseudonyms(activation)
        self.ids = sorted({int(r.customer_id) for r in rows if r.customer_id is not None})
        self.out = Decided()
        self._campaigns: dict[int, Campaign] = {}
        self._segment_allowed: dict[int, bool] = {}
        # What the policy lets the destination receive now (it may have changed since).
        self.allowed = frozenset(destination.allowed_fields(activation))
        self._sent_in_batch: Counter[Any] = Counter()

    # --- facts in bulk ----------------------------------------------------------------------

    def _customers(self) -> dict[int, Any]:
        cid = customers.c.id
        stmt = with_data_key(select(
            customers, *subject_flag_columns(cid, self.purpose, self.now),
            suppressed_sql(cid, self.destination.channel, self.now).label("_suppressed"),
            reachable_sql(self.destination.channel).label("_reachable"),
        )).where(cid.in_(self.ids))
        return {int(r.id): r for r in self.conn.execute(stmt)} if self.ids else {}

    def _caps(self) -> Caps:
        return load_caps(self.conn, self.ids, self.destination.channel, self.now_epoch)

    def _rule_history(self) -> dict[tuple[int, str], list[int]]:
        rules = sorted({r.rule for r in self.rows if r.rule})
        if not rules or not self.ids:
            return {}
        m = activation_messages.c
        out: dict[tuple[int, str], list[int]] = defaultdict(list)
        for cid, rule, sent in self.conn.execute(select(m.customer_id, m.rule, m.sent_epoch).where(
                m.customer_id.in_(self.ids), m.rule.in_(rules), m.status == "sent",
                m.sent_epoch > self.now_epoch - YEAR)):
            out[(int(cid), str(rule))].append(int(sent))
        return out

    def _events(self) -> tuple[dict[int, Any], list[Any]]:
        """The triggering events of the batch, and later events a step may wait on."""
        event_ids = sorted({int(r.event_id) for r in self.rows if r.event_id is not None})
        if not event_ids:
            return {}, []
        e = activation_events.c
        triggers = {int(r.id): r for r in self.conn.execute(
            select(e.id, e.kind, e.occurred_at).where(e.id.in_(event_ids)))}
        if not triggers:
            return {}, []
        since = min(t.occurred_at for t in triggers.values())
        later = list(self.conn.execute(select(e.customer_id, e.kind, e.occurred_at).where(
            e.customer_id.in_(self.ids), e.occurred_at > since, e.occurred_at <= self.now)))
        return triggers, later

    # --- per message ------------------------------------------------------------------------

    def decide(self) -> Decided:
        """Every row of the batch decided; payloads built for those that leave."""
        found = self._customers()
        caps = self._caps()
        rule_history = self._rule_history()
        triggers, later = self._events()
        reader = self._reader()
        for row in self.rows:
            if row.kind == "notice":
                self._notice(row)
                continue
            customer = found.get(int(row.customer_id)) if row.customer_id is not None else None
            if customer is None:
                self.out.stop(row.id, "cancelled", Code.NOT_FOUND)
                continue
            self._message(row, customer, reader, caps, rule_history, (triggers, later))
        return self.out

    def _reader(self) -> Reader:
        policy = self.activation.policy
        return Reader(
            plan=self.destination.plan(self.activation), pseudonyms=self.names, now=self.now,
            own_purposes=policy.purposes_of(self.destination.role),
            purposes=self.activation.purposes, vault=self.activation.vault,
            opener=self.activation.vault.envelope.opener(),
        )

    def _capped(self, cid: int, caps: Caps) -> bool:
        # The messages this batch sends before this one count too: they are not recorded yet.
        return caps.reached(cid, self._sent_in_batch[("channel", cid)])

    def _rule(self, row: Any) -> Rule | None:
        return self.activation.rules.rules.get(row.rule) if row.rule else None

    def _rule_limited(self, row: Any, rule: Rule, history: dict[tuple[int, str], list[int]]) -> bool:
        if rule.limit is None:
            return False
        count, days = rule.limit
        cid = int(row.customer_id)
        window = self.now_epoch - days * 86400
        used = sum(1 for sent in history.get((cid, rule.name), ()) if sent > window)
        return used + self._sent_in_batch[("rule", cid, rule.name)] >= count

    def _stopped(self, row: Any, rule: Rule, events: tuple[dict[int, Any], list[Any]]) -> bool:
        triggers, later = events
        step = rule.steps[int(row.step)]
        trigger = triggers.get(int(row.event_id)) if row.event_id is not None else None
        if not step.unless or trigger is None:
            return False
        return any(int(e.customer_id) == int(row.customer_id) and e.kind in step.unless
                   and e.occurred_at > trigger.occurred_at for e in later)

    def _policy_allows(self, row: Any, template: str, campaign: Campaign | None,
                       rule: Rule | None, triggers: dict[int, Any]) -> bool:
        """The policy still lets the destination receive what this message reveals."""
        found = self.activation.rules.templates.get(template)
        if found is None:
            return False
        if any(f not in self.allowed for f in found.fields):
            return False
        if campaign is not None and not self._audience_allowed(campaign):
            return False
        if rule is None:
            return True
        trigger = triggers.get(int(row.event_id)) if row.event_id is not None else None
        categories = EVENT_KINDS.get(trigger.kind if trigger else rule.event, ())
        if not categories:
            return True
        policy = self.activation.policy
        return policy.decide_all(self.destination.role, self.destination.purpose, categories).allowed

    def _audience_allowed(self, campaign: Campaign) -> bool:
        """The destination may still receive what the campaign's audience reveals (a segment
        on its current version, decided by the read path's rule), once per batch."""
        if campaign.id not in self._segment_allowed:
            try:
                found = campaign.audience(self.activation.purposes).decide(
                    self.conn, self.activation.policy, self.destination.role, self.purpose).allowed
            except ServiceError:
                found = False  # the segment is gone: nothing may reveal it
            self._segment_allowed[campaign.id] = found
        return self._segment_allowed[campaign.id]

    def _campaign(self, campaign_id: int) -> Campaign:
        if campaign_id not in self._campaigns:
            self._campaigns[campaign_id] = get_campaign_by_id(self.conn, campaign_id)
        return self._campaigns[campaign_id]

    def _message(self, row: Any, customer: Any, reader: Reader,
                 caps: Caps,
                 rule_history: dict[tuple[int, str], list[int]],
                 events: tuple[dict[int, Any], list[Any]]) -> None:
        cid = int(row.customer_id)
        campaign = self._campaign(int(row.campaign_id)) if row.campaign_id is not None else None
        rule = self._rule(row)
        if row.rule and (rule is None or int(row.step) >= len(rule.steps)):
            self.out.stop(row.id, "cancelled", Code.NOT_FOUND)  # the rule left the config
            return
        if rule is not None and self._stopped(row, rule, events):
            self.out.stop(row.id, "cancelled", Code.SCRIPT_STOPPED)
            return
        facts = Facts(flags_of(customer), bool(customer._suppressed), bool(customer._reachable),
                      self._capped(cid, caps))
        code = reason(self.purpose, facts)
        if code is None and rule is not None and self._rule_limited(row, rule, rule_history):
            code = Code.FREQUENCY_CAPPED
        if code is not None:
            self.out.stop(row.id, "excluded", code)
            return
        template = str(row.template)
        arm_name: str | None = None
        if campaign is not None:
            arm = assign(campaign.salt, cid, campaign.holdout, campaign.arms)
            if arm is None:
                self.out.outcomes[row.id] = ("held_out", None)
                self.out.arms[row.id] = (CONTROL, template)
                return
            arm_name, template = arm.name, arm.template
            self.out.arms[row.id] = (arm.name, template)
        if not self._policy_allows(row, template, campaign, rule, events[0]):
            self.out.stop(row.id, "excluded", Code.POLICY_DENIED)
            return
        self._sent_in_batch[("channel", cid)] += 1
        if rule is not None:
            self._sent_in_batch[("rule", cid, rule.name)] += 1
        wanted = self.activation.rules.templates[template].fields
        view = build_view(customer, decide_subject(self.purpose, facts.flags), wanted, reader)
        self.out.payloads[row.id] = {
            "id": message_token(self.destination, self.names, int(row.id)), "type": "message",
            "recipient": view.id, "template": template, "arm": arm_name,
            "campaign": campaign.ref if campaign else None, "rule": row.rule,
            "step": row.step, "data": {k: _jsonable(v) for k, v in view.values.items()},
        }

    def _notice(self, row: Any) -> None:
        notice = row.notice or {}
        recipient = (self.names.customer_id(int(row.customer_id)) if row.customer_id is not None
                     else row.recipient)
        if recipient is None:
            self.out.stop(row.id, "cancelled", Code.NOT_FOUND)
            return
        self.out.payloads[row.id] = {
            "id": message_token(self.destination, self.names, int(row.id)),
            "type": notice.get("type", "suppression"), "recipient": recipient,
            "reason": notice.get("reason"), "purpose": row.purpose, "channel": row.channel,
            "fields": notice.get("fields"), "occurred_at": notice.get("occurred_at"),
        }


def digest(names: Pseudonymizer, payload: dict[str, Any]) -> str:
    """A keyed digest of exactly what was sent (the proof kept after the values are gone)."""
    return names.identifier("payload", orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode())
