"""The GraphQL schema: the checked-in SDL is current, and every personal field is categorised."""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

from gateway.api.directives import Category
from gateway.api.schema import build_schema, export_sdl
from gateway.consent.purposes import CATEGORIES
from gateway.profile.fields import FIELDS_BY_NAME

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
ROOT = "Customer"
PERSONAL_TYPES = ("Customer", "Order", "Interaction", "ConsentState", "ChannelPreference", "SourceRecord")
# Fields of personal types that carry no category, and why.
UNCATEGORISED = {("Customer", "id")}  # a per-app pseudonym, not personal data in the clear


@pytest.fixture(scope="module")
def graphql_schema() -> GraphQLSchema:
    return build_schema()._schema


def _categories(field: GraphQLField) -> list[str]:
    """The names of the @category directives on `field`."""
    definition = field.extensions.get("strawberry-definition")
    assert definition is not None, "not a strawberry field"
    return [d.name for d in definition.directives if isinstance(d, Category)]


def _object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    found = schema.type_map.get(name)
    assert isinstance(found, GraphQLObjectType), f"{name} is not an object type of the schema"
    return found


_COMPOSITE = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)


def _reachable(schema: GraphQLSchema, root: str) -> set[str]:
    """Object, interface and union types reachable through the fields of `root`."""
    seen: set[str] = set()
    todo: list[GraphQLNamedType] = [schema.type_map[root]]
    while todo:
        current = todo.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        nested: list[GraphQLNamedType] = []
        if isinstance(current, GraphQLObjectType | GraphQLInterfaceType):
            nested = [get_named_type(f.type) for f in current.fields.values()]
            nested += list(current.interfaces)
        elif isinstance(current, GraphQLUnionType):
            nested = list(current.types)
        todo.extend(t for t in nested if isinstance(t, _COMPOSITE))
    return seen


def test_checked_in_sdl_is_current() -> None:
    # given: the SDL in the repository and the one the code exports
    checked_in = SCHEMA_FILE.read_text(encoding="utf-8")
    # when: exporting
    exported = export_sdl()
    # then: identical
    assert checked_in == exported, (
        "schema/schema.graphql is out of date with gateway/api: run `make schema` and commit it"
    )


@pytest.mark.parametrize("type_name", PERSONAL_TYPES)
def test_every_personal_field_has_one_category(
    graphql_schema: GraphQLSchema, type_name: str
) -> None:
    # given: a personal type of the built schema
    object_type = _object_type(graphql_schema, type_name)
    assert object_type.fields
    for field_name, field in object_type.fields.items():
        # when: reading its @category directives
        found = _categories(field)
        # then: exactly one known category (none only for the listed exceptions)
        if (type_name, field_name) in UNCATEGORISED:
            assert found == [], f"{type_name}.{field_name}"
            continue
        assert len(found) == 1, f"{type_name}.{field_name} has categories {found}"
        assert found[0] in CATEGORIES, f"{type_name}.{field_name}: unknown category {found[0]}"


def test_customer_fields_match_the_catalog(graphql_schema: GraphQLSchema) -> None:
    # given: the Customer type and the field catalog the policy plans are compiled from
    customer = _object_type(graphql_schema, ROOT)
    names = {n for n in customer.fields if (ROOT, n) not in UNCATEGORISED}
    # then: every field is in the catalog with the category of its directive
    for name in names:
        spec = FIELDS_BY_NAME.get(name)
        assert spec is not None, f"Customer.{name} is not in gateway.profile.fields"
        assert _categories(customer.fields[name]) == [spec.category], f"Customer.{name}"
    # and: the catalog has no field the schema lacks
    assert set(FIELDS_BY_NAME) == names


def test_types_reachable_from_customer_are_personal(graphql_schema: GraphQLSchema) -> None:
    # given: every object type a query can reach from Customer
    reachable = _reachable(graphql_schema, ROOT)
    # then: each is a personal type whose fields are checked above
    assert reachable <= set(PERSONAL_TYPES), (
        f"types reachable from Customer without category checks: "
        f"{sorted(reachable - set(PERSONAL_TYPES))}; add them to PERSONAL_TYPES"
    )
    assert set(PERSONAL_TYPES) <= reachable


def test_sdl_shows_the_categories() -> None:
    # given: the exported SDL
    sdl = export_sdl()
    # then: the directive is declared and used on personal fields
    assert "directive @category(name: String!, lineage: [String!], coarse: String) on FIELD_DEFINITION" in sdl
    assert 'email: String @category(name: "contact")' in sdl
    # and: a derived value shows the categories it is computed from
    assert 'rfmRecency: Int @category(name: "derived", lineage: ["transactions"])' in sdl


def _directive(field: GraphQLField) -> Category:
    definition = field.extensions.get("strawberry-definition")
    assert definition is not None, "not a strawberry field"
    (found,) = [d for d in definition.directives if isinstance(d, Category)]
    return found


def test_catalog_states_the_lineage_of_every_derived_field() -> None:
    # given: the field catalog
    for spec in FIELDS_BY_NAME.values():
        # then: every lineage category is a known category other than the field's own
        assert set(spec.lineage) <= set(CATEGORIES), spec.name
        assert spec.category not in spec.lineage, spec.name
        # and: a derived value names what it is computed from, or the rule that makes it coarse
        if spec.category == "derived":
            assert spec.lineage or spec.coarse, (
                f"{spec.name} is derived but states neither its lineage nor why it is coarse"
            )


def test_catalog_check_fails_for_a_derived_field_without_lineage() -> None:
    # given: a derived field with neither lineage nor a coarse rule (the control)
    from gateway.policy.engine import FieldSpec

    bare = FieldSpec("daysSinceLastOrder", "derived")
    # then: the rule the catalog test applies rejects it
    assert not (bare.lineage or bare.coarse)
    assert bare.categories == ("derived",)


def test_sdl_lineage_matches_the_catalog(graphql_schema: GraphQLSchema) -> None:
    # given: the Customer type
    customer = _object_type(graphql_schema, ROOT)
    for name, spec in FIELDS_BY_NAME.items():
        # when: reading the directive of each catalogued field
        directive = _directive(customer.fields[name])
        # then: it shows the lineage and the coarse rule of the catalog
        shown = directive.lineage if isinstance(directive.lineage, list) else []
        assert tuple(shown) == spec.lineage, name
        coarse = directive.coarse if isinstance(directive.coarse, str) else None
        assert coarse == spec.coarse, name



# A toy schema where Customer gains a nested type, through a list and an interface.
@strawberry.interface
class ToyNode:
    ref: str


@strawberry.type
class ToyVoucher(ToyNode):
    code: str


@strawberry.type(name="Customer")
class ToyCustomer:
    vouchers: list[ToyVoucher] | None


@strawberry.type
class ToyQuery:
    customer: ToyCustomer | None


def test_reachability_finds_a_new_nested_type() -> None:
    # given: the toy schema
    schema = strawberry.Schema(query=ToyQuery)._schema
    # when: walking from Customer
    reachable = _reachable(schema, ROOT)
    # then: the new types are found (and would fail the check above), without categories
    assert reachable == {"Customer", "ToyVoucher", "ToyNode"}
    assert _categories(_object_type(schema, "ToyVoucher").fields["code"]) == []
