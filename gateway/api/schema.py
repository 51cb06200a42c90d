"""The strawberry schema: types, limits, caches, and error handling."""

from __future__ import annotations

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from gateway.api.activation import ActivationMutation, ActivationQuery
from gateway.api.audit import AuditQuery
from gateway.api.consent import ConsentMutation, ConsentQuery
from gateway.api.directives import Category
from gateway.api.limits import document_rules
from gateway.api.linkage import LinkageMutation, LinkageQuery
from gateway.api.query import Query
from gateway.api.rights import RightsMutation, RightsQuery
from gateway.api.scalars import SCALARS
from gateway.api.segments import SegmentMutation, SegmentQuery
from gateway.api.withhold import WithholdingExecutionContext
from gateway.config import Settings

# Each domain's GraphQL module contributes its root types here (one line each).
QUERIES: list[type] = [Query, ConsentQuery, AuditQuery, RightsQuery, ActivationQuery, SegmentQuery,
                        LinkageQuery]
MUTATIONS: list[type] = [ConsentMutation, RightsMutation, ActivationMutation, SegmentMutation,
                         LinkageMutation]


class GatewaySchema(strawberry.Schema):
    """Errors are formatted (and unexpected ones logged) once, by the HTTP endpoint.

    Strawberry would otherwise log every withheld field as an error, with a traceback.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(settings: Settings | None = None) -> GatewaySchema:
    """The schema with the limits of `settings` (defaults when None, e.g. for SDL export)."""
    settings = settings or Settings()
    # The limit rules are built once: ValidationCache keys on the rule classes, and
    # strawberry's limiter extensions would make new classes on every request (a cache miss
    # and a full validation, 3-4 ms, each time). Introspection is refused by one of them.
    rules = document_rules(settings.max_query_depth, settings.max_aliases,
                           settings.max_directives, settings.introspection)
    extensions: list[Any] = [
        ParserCache,
        ValidationCache,
        partial(AddValidationRules, rules),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
    ]
    return GatewaySchema(
        query=merge_types("Query", tuple(QUERIES)),
        mutation=merge_types("Mutation", tuple(MUTATIONS)) if MUTATIONS else None,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
        execution_context_class=WithholdingExecutionContext,
        schema_directives=[Category],
        scalar_overrides=SCALARS,
    )


def export_sdl() -> str:
    """The SDL as `schema/schema.graphql` holds it."""
    return build_schema().as_str() + "\n"

