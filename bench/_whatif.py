""""What if" variants of the gateway: proposed fixes, applied from outside for measurement.

Nothing here changes `gateway/`; the variants are built from the gateway's own parts so that
the benchmark can show what a proposal (README.md, "Findings") would buy, with the answer
checked to be identical:

1. `cached_rules_schema`: the schema with the limiters' validation rules built once.
   `gateway.api.schema.build_schema` passes `partial(QueryDepthLimiter, ...)` and
   `partial(MaxAliasesLimiter, ...)`; strawberry instantiates extensions per request and each
   instance creates a new rule class, so ValidationCache's key `(schema, document, rules)`
   never repeats: every request is validated again (and fills the LRU with dead entries).
3. `withheld_no_raise`: an execution context (strawberry's `execution_context_class`) that
   completes a withheld field (a `FieldDenied` value) to null and records its error directly.
   The gateway's way, graphql-core `raise`s the value, which (a) builds a traceback and a
   frame <-> exception reference cycle per withheld field, garbage that only the cyclic GC
   frees (the GC then takes about half of the server's CPU under load), (b) re-raises the
   *shared* `WITHHELD` instances, whose `__traceback__` grows with every raise: a leak of
   every withheld field's frames (proposal 2 is the minimal fix: a new `FieldDenied` per
   field), and (c) computes line and column from the query text again for every error.

`create_app` is a uvicorn factory for the gateway with proposals 1 and 3 (target `c1x`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

DEFAULT_WHATIF = "rules,noraise,threads=2,views"


def withheld_no_raise() -> type[Any]:
    """The execution context class of proposal 3 (built lazily: it imports the gateway)."""
    from graphql import GraphQLError
    from graphql.execution.executor import to_nodes
    from graphql.type import is_non_null_type
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from gateway.api.errors import FieldDenied

    complete = StrawberryGraphQLCoreExecutionContext.complete_value

    class WithheldNoRaise(StrawberryGraphQLCoreExecutionContext):
        """A withheld field completes to null with its error, without raising anything."""

        def complete_value(
            self, return_type: Any, field_details_list: Any, info: Any, path: Any,
            result: Any, position_context: Any,
        ) -> Any:
            if result.__class__ is FieldDenied and not is_non_null_type(return_type):
                self.collected_errors.add(self._withheld(result, field_details_list, path), path)
                return None
            return complete(self, return_type, field_details_list, info, path, result,
                            position_context)

        def _withheld(self, denied: Any, field_details_list: Any, path: Any) -> Any:
            nodes = to_nodes(field_details_list)
            error = GraphQLError(denied.message, path=path.as_list(), original_error=denied)
            cache: dict[tuple[int, ...], Any] = self.__dict__.setdefault("_withheld_at", {})
            key = tuple(map(id, nodes))
            found = cache.get(key)
            if found is None:
                locs = [node.loc for node in nodes if node.loc]
                found = cache[key] = (
                    [loc.start for loc in locs] or None,
                    locs[0].source if locs else None,
                    [loc.source.get_location(loc.start) for loc in locs] or None,
                )
            error.nodes = nodes  # type: ignore[assignment]
            error.positions, error.source, error.locations = found
            return error

    return WithheldNoRaise


def cached_rules_schema(settings: Any, no_raise: bool = False) -> Any:
    """`build_schema(settings)` with the same limits, the validation rules created once.

    With `no_raise`, also the execution context of proposal 3.
    """
    from strawberry.extensions import (
        AddValidationRules,
        DisableIntrospection,
        MaxAliasesLimiter,
        MaxTokensLimiter,
        ParserCache,
        QueryDepthLimiter,
        ValidationCache,
    )
    from strawberry.schema.config import StrawberryConfig

    from gateway.api.directives import Category
    from gateway.api.query import Query
    from gateway.api.schema import GatewaySchema

    rules = (
        QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules
        + MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules
    )
    extensions: list[Any] = [
        ParserCache, ValidationCache, partial(AddValidationRules, rules),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=True),
        schema_directives=[Category],
        execution_context_class=withheld_no_raise() if no_raise else None,
    )


def shared_traceback_entries() -> int:
    """Frames accumulated on the shared `WITHHELD` error objects (0 when nothing leaks)."""
    from gateway.api.errors import WITHHELD

    total = 0
    for error in WITHHELD.values():
        tb = error.__traceback__
        while tb is not None:
            total += 1
            tb = tb.tb_next
    return total


def drop_shared_tracebacks() -> None:
    """Release what the shared `WITHHELD` objects accumulated (measurement hygiene only)."""
    from gateway.api.errors import WITHHELD

    for error in WITHHELD.values():
        error.__traceback__ = None
        error.__context__ = None


def _view_steps(plan: Any, wanted: tuple[str, ...]) -> tuple[tuple[str, Any, str | None, str], ...]:
    """Per (plan, wanted): name, the plan's denial code (or None), column and mode."""
    from gateway.profile.fields import COLUMNS

    key = (id(plan), wanted)
    found = _STEPS.get(key)
    if found is None:
        steps = []
        for name in wanted:
            access = plan.access(name)
            code = None if access.allowed else access.decision.code
            steps.append((name, code, COLUMNS.get(name), access.mode))
        found = _STEPS[key] = tuple(steps)
    return found


_STEPS: dict[tuple[int, tuple[str, ...]], tuple[tuple[str, Any, str | None, str], ...]] = {}


def build_view(row: Any, subject: Any, wanted: tuple[str, ...], reader: Any) -> Any:
    """Proposal 5a: `gateway.profile.reader.build_view`, same result, with the plan's
    per-field decisions compiled once per (plan, wanted) and one row mapping per row."""
    from gateway.profile.reader import CustomerView, shape

    view = CustomerView(reader.pseudonyms.customer_id(row.id), row.id, subject)
    values, denied, mapping, allowed = view.values, view.denied, row._mapping, subject.allowed
    for name, code, column, mode in _view_steps(reader.plan, wanted):
        if code is not None:
            denied[name] = code
        elif not allowed:
            denied[name] = subject.code
        elif column is None:
            values[name] = None
        else:
            raw = mapping[column]
            plain = raw is None or (mode in ("value", "raw") and name != "totalSpent")
            values[name] = raw if plain else shape(name, raw, mode, reader)
    return view


def load_orders(conn: Any, ids: list[int], reader: Any) -> dict[int, list[dict[str, Any]]]:
    """Proposal 5b: `gateway.profile.nested._orders`, same result, rows unpacked as tuples
    instead of `dict(row._mapping)` per row."""
    from sqlalchemy import select

    from gateway.profile.nested import MAX_ITEMS
    from gateway.profile.reader import cents
    from gateway.profile.tables import orders as o

    rows = conn.execute(
        select(o.c.customer_id, o.c.number, o.c.ordered_at, o.c.status, o.c.channel,
               o.c.item_count, o.c.total_cents, o.c.currency)
        .where(o.c.customer_id.in_(ids)).order_by(o.c.customer_id, o.c.ordered_at.desc())
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for customer_id, number, at, status, channel, count, total, currency in rows:
        items = out.setdefault(customer_id, [])
        if len(items) < MAX_ITEMS:
            items.append({"number": number, "ordered_at": at, "status": status,
                          "channel": channel, "item_count": count, "currency": currency,
                          "total": cents(total)})
    return out


def swap(owner: object, name: str, value: Any) -> Any:
    """Set `owner.name` to `value` (a module global, looked up at call time); return the old."""
    old = getattr(owner, name)
    setattr(owner, name, value)
    return old


@contextlib.contextmanager
def fast_views() -> Iterator[None]:
    """Within the block, the profile service uses proposal 5's `build_view` and orders."""
    from gateway.profile import nested, service

    saved = swap(service, "build_view", build_view), nested._LOADERS["orders"]
    nested._LOADERS["orders"] = load_orders
    try:
        yield
    finally:
        swap(service, "build_view", saved[0])
        nested._LOADERS["orders"] = saved[1]


def limit_threads(limit: int) -> None:
    """Proposal 4: at most `limit` requests execute at once in this worker (anyio limiter).

    Replaces `run_in_threadpool` in `gateway.api.http` (Starlette's, 40 threads) with the
    same call under a `CapacityLimiter(limit)`: waiting requests queue on the event loop
    instead of interleaving on the GIL, so each request's objects die young.
    """
    import anyio
    import anyio.to_thread

    from gateway.api import http

    limiter = anyio.CapacityLimiter(limit)

    async def run_limited(func: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(partial(func, *args), limiter=limiter)

    swap(http, "run_in_threadpool", run_limited)


def create_app() -> Any:
    """uvicorn factory: the gateway with the proposals named in `BENCH_WHATIF`.

    A comma-separated subset of `rules` (1), `noraise` (3), `threads=N` (4), `views` (5),
    and for comparison `freeze` (`gc.freeze()` after start-up) and `gen0=N` (the first GC
    threshold, 700 by default); default DEFAULT_WHATIF.
    """
    import gc
    import os

    from gateway import app

    chosen = dict(
        item.partition("=")[::2]
        for item in (os.environ.get("BENCH_WHATIF") or DEFAULT_WHATIF).split(",") if item
    )
    if "rules" in chosen:
        swap(app, "build_schema", partial(cached_rules_schema, no_raise="noraise" in chosen))
    if "threads" in chosen:
        limit_threads(int(chosen["threads"] or 1))
    if "views" in chosen:
        fast_views().__enter__()  # for the life of the process
    made = app.create_app()
    if "gen0" in chosen:
        gc.set_threshold(int(chosen["gen0"]), *gc.get_threshold()[1:])
    if "freeze" in chosen:
        gc.collect()
        gc.freeze()
    return made
