"""`@category`: the data category of a personal-data field, visible in the exported SDL."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema_directive import Location

from gateway.profile.fields import FIELDS_BY_NAME


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The data category of a personal-data field (DESIGN.md: the domain).",
)
class Category:
    name: str


def personal(graphql_name: str, **kwargs: Any) -> Any:
    """A field of the Customer type, with the category the catalog gives it."""
    spec = FIELDS_BY_NAME[graphql_name]
    assert spec.category is not None, f"{graphql_name} has no category"
    return strawberry.field(default=None, directives=[Category(name=spec.category)], **kwargs)


def in_category(name: str, **kwargs: Any) -> Any:
    """A field of a nested personal type (an order, an interaction) in category `name`."""
    return strawberry.field(directives=[Category(name=name)], **kwargs)
