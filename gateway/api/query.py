"""Root query fields: parse the arguments, call one profile service, shape the answer."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from gateway.api.context import RequestContext
from gateway.api.errors import WITHHELD
from gateway.api.selection import requested
from gateway.api.types import (
    NESTED_TYPES,
    SINGLE,
    Customer,
    CustomerConnection,
    CustomerFilter,
    CustomerOrder,
    PageInfo,
    SortDirection,
)
from gateway.errors import ServiceError
from gateway.policy.codes import Code
from gateway.profile import service
from gateway.profile.fields import CUSTOMER_FIELDS, FIELDS_BY_NAME
from gateway.profile.reader import CustomerView

_ATTR = {
    spec.name: "".join("_" + c.lower() if c.isupper() else c for c in spec.name)
    for spec in CUSTOMER_FIELDS
}
_FILTER_NAMES = {attr: name for name, attr in _ATTR.items()}


def _personal(names: tuple[str, ...]) -> tuple[str, ...]:
    """The catalogued fields among `names` (`id` is a pseudonym, decided separately)."""
    return tuple(n for n in names if n in FIELDS_BY_NAME)


# Nested lists whose items may carry a withheld value (a `Code` in place of the value).
_ITEM_WITHHOLDS = frozenset({"consents"})


def _withheld_items(item: dict[str, Any]) -> dict[str, Any]:
    return {k: WITHHELD[v] if v.__class__ is Code else v for k, v in item.items()}


def to_customer(view: CustomerView) -> Customer:
    """A Customer whose withheld fields hold the error graphql-core reports at their path."""
    customer = Customer.__new__(Customer)
    slots = customer.__dict__
    slots["id"] = strawberry.ID(view.id)
    for name, value in view.values.items():
        kind = NESTED_TYPES.get(name)
        if kind and value is not None:
            if name in _ITEM_WITHHOLDS:
                value = [kind(**_withheld_items(item)) for item in value]
            else:
                value = [kind(**item) for item in value]
            if name in SINGLE:
                value = value[0] if value else None
        slots[_ATTR[name]] = value
    for name, code in view.denied.items():
        slots[_ATTR[name]] = WITHHELD[code]
    return customer


def _filters(where: CustomerFilter | None) -> tuple[tuple[str, str], ...]:
    if where is None:
        return ()
    found: list[tuple[str, str]] = []
    for attr, value in vars(where).items():
        if value is strawberry.UNSET or value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 254:
            raise ServiceError(Code.INVALID_INPUT, "filter values must be 1-254 characters", "filter")
        found.append((_FILTER_NAMES[attr], value))
    return tuple(sorted(found))


def _page_size(ctx: RequestContext, first: int | None) -> int:
    settings = ctx.services.settings
    size = settings.default_page_size if first is None else first
    if not 1 <= size <= settings.max_page_size:
        raise ServiceError(
            Code.INVALID_INPUT, f"first must be between 1 and {settings.max_page_size}", "first"
        )
    return size


@strawberry.type
class Query:
    @strawberry.field(description="One customer by the id this app was given.")
    def customer(self, info: Info[RequestContext, Any], id: strawberry.ID) -> Customer | None:
        ctx = info.context
        ctx.begin("customer")
        reader = ctx.reader()
        wanted = _personal(requested(info.selected_fields))
        view = service.get_customer(ctx.conn, reader, str(id), wanted)
        ctx.record("customer", [view], wanted)
        return to_customer(view)

    @strawberry.field(description="Customers, a page at a time (cursor pagination).")
    def customers(
        self,
        info: Info[RequestContext, Any],
        first: int | None = None,
        after: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrder | None = None,
    ) -> CustomerConnection:
        ctx = info.context
        ctx.begin("customers")
        reader = ctx.reader()
        query = service.CustomerQuery(
            first=_page_size(ctx, first),
            after=after,
            filters=_filters(filter),
            order_by=order_by.field.value if order_by else None,
            descending=bool(order_by and order_by.direction is SortDirection.DESC),
        )
        wanted = _personal(requested(info.selected_fields, "nodes"))
        page = service.list_customers(ctx.conn, reader, query, wanted)
        ctx.record("customers", page.views, wanted)
        return CustomerConnection(
            nodes=[to_customer(v) for v in page.views],
            page_info=PageInfo(end_cursor=page.end_cursor, has_next_page=page.has_next_page),
            count=page.count,
        )
