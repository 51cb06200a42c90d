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
    # The other categories the value is computed from (DESIGN.md rule 7), and for a derived
    # value coarse by construction, the rule that makes it so. Absent when there are none.
    lineage: list[str] | None = strawberry.UNSET
    coarse: str | None = strawberry.UNSET


def personal(graphql_name: str, **kwargs: Any) -> Any:
    """A field of the Customer type, with the category the catalog gives it."""
    spec = FIELDS_BY_NAME[graphql_name]
    assert spec.category is not None, f"{graphql_name} has no category"
    directive = Category(name=spec.category)
    if spec.lineage:
        directive.lineage = list(spec.categories[1:])
    if spec.coarse:
        directive.coarse = spec.coarse
    return strawberry.field(default=None, directives=[directive], **kwargs)


def in_category(name: str, lineage: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """A field of a nested personal type (an order, an interaction) in category `name`,
    computed from data of the `lineage` categories as well."""
    directive = Category(name=name)
    if lineage:
        directive.lineage = list(lineage)
    return strawberry.field(directives=[directive], **kwargs)
