"""GraphQL types of segmentation and scoring: the Customer's derived fields (personal,
each with its category and lineage) and saved segments (not personal: a rule names fields,
never a person)."""

from __future__ import annotations

import datetime

import strawberry

from gateway.api.directives import in_category

_INTERACTIONS = ("interactions",)
_BEHAVIOUR = ("transactions", "interactions")
_NBA = ("transactions", "interactions", "preferences")


@strawberry.type(description="How a customer engages through one channel.")
class ChannelEngagement:
    channel: str = in_category("derived", _INTERACTIONS, description="email, web or phone")
    engagements: int = in_category("derived", _INTERACTIONS,
                                   description="Opens and clicks, visits, or calls.")
    open_rate: float | None = in_category(
        "derived", _INTERACTIONS, description="Email: distinct campaigns opened / campaigns sent since joining.")
    click_rate: float | None = in_category("derived", _INTERACTIONS,
                                           description="Email: clicks per open.")
    last_engagement_at: datetime.datetime | None = in_category("derived", _INTERACTIONS)


@strawberry.type(description="Which channel and device a customer really responds on.")
class ChannelAffinity:
    preferred_device: str | None = in_category("derived", _INTERACTIONS,
                                                description="mobile, desktop or tablet")
    best_hour: int | None = in_category("derived", _INTERACTIONS,
                                        description="Hour of day (UTC) of most engagements.")
    channels: list[ChannelEngagement] = in_category("derived", _INTERACTIONS)


@strawberry.type(description="The persona (k-means cluster) a customer belongs to.")
class Persona:
    key: int = in_category("derived", _BEHAVIOUR, description="Stable across model versions.")
    name: str = in_category("derived", _BEHAVIOUR)
    description: str = in_category("derived", _BEHAVIOUR)
    version: int = in_category("derived", _BEHAVIOUR, description="The persona model's version.")


@strawberry.type(description="A saved segment the customer is in (current version).")
class SegmentMembership:
    id: strawberry.ID = in_category("derived", description="The segment's id.")
    name: str = in_category("derived")
    version: int = in_category("derived")


@strawberry.type(description="One reason behind a score or an action, in plain words.")
class Factor:
    feature: str = in_category("derived", _NBA)
    text: str = in_category("derived", _NBA)
    value: float | None = in_category("derived", _NBA)
    typical: float | None = in_category("derived", _NBA, description="The average customer's value.")
    contribution: float | None = in_category(
        "derived", _NBA, description="To the score's log-odds; positive raises it.")


@strawberry.type(description="A propensity score, the model version that produced it and why.")
class Score:
    model: str = in_category("derived", _BEHAVIOUR, description="purchase_30d or churn")
    version: int = in_category("derived", _BEHAVIOUR)
    value: float = in_category("derived", _BEHAVIOUR, description="A probability, 0-1.")
    scored_at: datetime.datetime = in_category("derived", _BEHAVIOUR)
    explanation: list[Factor] = in_category("derived", _BEHAVIOUR)


@strawberry.type(description="The next best action, decided now, and why (no offer: none allowed).")
class NextBestAction:
    offer: str | None = in_category("derived", _NBA)
    description: str | None = in_category("derived", _NBA)
    channel: str | None = in_category("derived", _NBA)
    purpose: str | None = in_category("derived", _NBA)
    expected_value: float | None = in_category("derived", _NBA)
    decided_at: datetime.datetime = in_category("derived", _NBA)
    explanation: list[Factor] = in_category("derived", _NBA)


def _factors(items: list[dict[str, object]]) -> list[Factor]:
    return [Factor(feature=str(f["feature"]), text=str(f["text"]),
                   value=f.get("value"),  # type: ignore[arg-type]
                   typical=f.get("typical"),  # type: ignore[arg-type]
                   contribution=f.get("contribution"))  # type: ignore[arg-type]
            for f in items]


def channel_affinity(**item: object) -> ChannelAffinity:
    channels = item.pop("channels")
    assert isinstance(channels, list)
    return ChannelAffinity(channels=[ChannelEngagement(**c) for c in channels], **item)  # type: ignore[arg-type]


def score(**item: object) -> Score:
    explanation = item.pop("explanation")
    assert isinstance(explanation, list)
    return Score(explanation=_factors(explanation), **item)  # type: ignore[arg-type]


def next_best_action(**item: object) -> NextBestAction:
    explanation = item.pop("explanation")
    assert isinstance(explanation, list)
    return NextBestAction(explanation=_factors(explanation), **item)  # type: ignore[arg-type]


def membership(**item: object) -> SegmentMembership:
    return SegmentMembership(id=strawberry.ID(str(item["id"])), name=str(item["name"]),
                             version=int(item["version"]))  # type: ignore[call-overload]
