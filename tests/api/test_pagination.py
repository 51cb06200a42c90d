"""Cursor pagination: bounded pages, sealed cursors, no overlap, no gap."""

from __future__ import annotations

import pytest

from tests.api.support import Json, add_person, errors_by_path, unique
from tests.harness import Gateway

PAGE = "query($first: Int) { customers(first: $first) { nodes { id } pageInfo { hasNextPage } } }"
CITY_PAGE = (
    "query($city: String!, $first: Int, $after: String) "
    "{ customers(filter: {city: $city}, first: $first, after: $after) "
    "{ totalCount nodes { id } pageInfo { endCursor hasNextPage } } }"
)
REGION_PAGE = (
    "query($region: String!, $first: Int, $after: String) "
    "{ customers(filter: {region: $region}, first: $first, after: $after) "
    "{ nodes { id } pageInfo { endCursor hasNextPage } } }"
)
BY_RFM = (
    "query($city: String!, $first: Int, $after: String) "
    "{ customers(filter: {city: $city}, first: $first, after: $after, "
    "orderBy: {field: RFM_MONETARY, direction: DESC}) { nodes { id } pageInfo { endCursor } } }"
)
BY_SPENT = (
    "query($city: String!, $first: Int, $after: String, $direction: SortDirection!) "
    "{ customers(filter: {city: $city}, first: $first, after: $after, "
    "orderBy: {field: TOTAL_SPENT, direction: $direction}) "
    "{ nodes { id totalSpent } pageInfo { endCursor hasNextPage } } }"
)


def _granted_in_city(gw: Gateway, count: int, **values: object) -> tuple[str, list[int]]:
    city = unique("Pageton")
    ids = []
    for _ in range(count):
        cid, _ = add_person(gw, city=city, **values)
        gw.consent(cid, "marketing_email")
        ids.append(cid)
    return city, ids


def _page(gw: Gateway, city: str, first: int, after: str | None = None, app: str = "marketing",
          purpose: str = "marketing_email") -> Json:
    response = gw.post(CITY_PAGE, app=app, purpose=purpose,
                       variables={"city": city, "first": first, "after": after})
    body: Json = response.json()
    return body


def test_default_page_size(gw: Gateway) -> None:
    # given: the demo data holds more customers than one default page
    default = gw.services.settings.default_page_size

    # when: listing for a contract purpose, which may process nearly every demo customer
    body = gw.post(PAGE, app="support", purpose="service").json()

    # then
    assert default == 20
    assert len(body["data"]["customers"]["nodes"]) == default
    assert body["data"]["customers"]["pageInfo"]["hasNextPage"] is True


def test_maximum_page_size_is_allowed(gw: Gateway) -> None:
    # given
    first = gw.services.settings.max_page_size

    # when
    body = gw.post(PAGE, variables={"first": first}).json()

    # then
    assert "errors" not in body
    assert 0 < len(body["data"]["customers"]["nodes"]) <= first


@pytest.mark.parametrize("first", [0, -1, 101, 10_000])
def test_page_size_out_of_bounds_is_invalid_input(gw: Gateway, first: int) -> None:
    # given
    query = PAGE

    # when
    response = gw.post(query, variables={"first": first})

    # then
    body = response.json()
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}
    assert body["errors"][0]["extensions"]["field"] == "first"


def test_cursor_pages_without_overlap_or_gap(gw: Gateway) -> None:
    # given
    city, ids = _granted_in_city(gw, 5)
    expected = [gw.pseudonym(cid) for cid in gw.in_app_order(ids)]

    # when
    seen: list[str] = []
    pages = []
    after = None
    for _ in range(5):  # a bound, in case hasNextPage never turns false
        body = _page(gw, city, 2, after)
        connection = body["data"]["customers"]
        pages.append(connection)
        seen.extend(node["id"] for node in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then
    assert seen == expected
    assert [len(p["nodes"]) for p in pages] == [2, 2, 1]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert all(p["totalCount"] == 5 for p in pages)


def test_exactly_full_last_page_has_no_next_page(gw: Gateway) -> None:
    # given
    city, ids = _granted_in_city(gw, 2)

    # when
    body = _page(gw, city, 2)

    # then
    connection = body["data"]["customers"]
    assert [n["id"] for n in connection["nodes"]] == [gw.pseudonym(cid) for cid in gw.in_app_order(ids)]
    assert connection["pageInfo"]["hasNextPage"] is False


def test_empty_result_has_no_cursor(gw: Gateway) -> None:
    # given
    city = unique("Emptyton")

    # when
    body = _page(gw, city, 2)

    # then
    assert body["data"]["customers"] == {
        "totalCount": 0, "nodes": [], "pageInfo": {"endCursor": None, "hasNextPage": False},
    }


def test_cursor_is_opaque(gw: Gateway) -> None:
    # given: customers whose internal ids differ in size by orders of magnitude
    city, ids = _granted_in_city(gw, 3)
    small = gw.add_customer(city=city)
    large = gw.add_customer(city=city, id=10**9 + ids[0])
    for cid in (small, large):
        gw.consent(cid, "marketing_email")

    # when: taking the cursor after each position, twice
    cursors = [_page(gw, city, n)["data"]["customers"]["pageInfo"]["endCursor"] for n in (1, 2, 3, 4, 5)]
    again = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # then: every cursor has the same length, whatever the id behind it (no size leak)
    assert len({len(c) for c in cursors}) == 1
    # and: the same position gives a different cursor each time (randomised, not an id)
    assert again != cursors[0]
    # and: the cursor decodes to the same page either way
    first = _page(gw, city, 1, cursors[0])["data"]["customers"]["nodes"]
    assert first == _page(gw, city, 1, again)["data"]["customers"]["nodes"]


def test_cursor_from_another_app_is_invalid_input(gw: Gateway) -> None:
    # given: the same query shape, asked by analytics (which may also filter by city)
    city, _ = _granted_in_city(gw, 3)
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = _page(gw, city, 1, cursor, app="analytics", purpose="analytics")

    # then
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}
    assert body["errors"][0]["extensions"]["field"] == "after"


def test_cursor_from_another_app_of_the_same_role_is_invalid_input(gw: Gateway) -> None:
    # given
    other = unique("marketing-pager").lower()
    gw.add_app("marketing", other)
    city, _ = _granted_in_city(gw, 3)
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = _page(gw, city, 1, cursor, app=other)

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_cursor_from_another_filter_is_invalid_input(gw: Gateway) -> None:
    # given
    city, _ = _granted_in_city(gw, 3)
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = _page(gw, unique("Elsewhere"), 1, cursor)

    # then
    assert body["data"] is None
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_cursor_from_another_filter_field_is_invalid_input(gw: Gateway) -> None:
    # given
    city, _ = _granted_in_city(gw, 3)
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    variables = {"region": "Testshire", "first": 1, "after": cursor}
    body = gw.post(REGION_PAGE, variables=variables).json()

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_cursor_from_another_order_is_invalid_input(gw: Gateway) -> None:
    # given
    city, _ = _granted_in_city(gw, 3)
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = gw.post(BY_SPENT, variables={"city": city, "first": 1, "after": cursor,
                                        "direction": "DESC"}).json()

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_sorted_cursor_does_not_fit_the_other_direction(gw: Gateway) -> None:
    # given
    city, _ = _granted_in_city(gw, 3)
    asc = gw.post(BY_SPENT, variables={"city": city, "first": 1, "direction": "ASC"}).json()
    cursor = asc["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = gw.post(BY_SPENT, variables={"city": city, "first": 1, "after": cursor,
                                        "direction": "DESC"}).json()

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_cursor_from_another_purpose_is_invalid_input(gw: Gateway) -> None:
    # given: the same app and filter; the purpose decides who the search sees
    city, ids = _granted_in_city(gw, 3)
    for cid in ids:
        gw.consent(cid, "marketing_sms")
    cursor = _page(gw, city, 1)["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = _page(gw, city, 1, cursor, purpose="marketing_sms")

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


def test_sorted_pages_of_another_purpose_cannot_be_mixed(gw: Gateway) -> None:
    # given: sms allows two of three customers; an offset into the email list means nothing there
    city = unique("Mixton")
    for score, sms in ((5, True), (4, False), (3, True)):
        cid, _ = add_person(gw, city=city, rfm_monetary=score)
        gw.consent(cid, "marketing_email")
        if sms:
            gw.consent(cid, "marketing_sms")
    first = gw.post(BY_RFM, variables={"city": city, "first": 1}).json()
    cursor = first["data"]["customers"]["pageInfo"]["endCursor"]

    # when
    body = gw.post(BY_RFM, purpose="marketing_sms",
                   variables={"city": city, "first": 1, "after": cursor}).json()

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}


@pytest.mark.parametrize("cursor", ["garbage", "", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_garbage_cursor_is_invalid_input(gw: Gateway, cursor: str) -> None:
    # given
    city = unique("Garbageton")

    # when
    body = _page(gw, city, 2, cursor)

    # then
    assert errors_by_path(body) == {("customers",): "INVALID_INPUT"}
    assert body["errors"][0]["message"] == "invalid cursor for this query"


def test_order_by_total_spent_descending(gw: Gateway) -> None:
    # given
    city = unique("Spendton")
    spent = [2500, 9900, 100, 5000]
    ids = []
    for cents in spent:
        cid, _ = add_person(gw, city=city, total_spent_cents=cents)
        gw.consent(cid, "marketing_email")
        ids.append(cid)

    # when
    body = gw.post(BY_SPENT, variables={"city": city, "direction": "DESC"}).json()

    # then
    nodes = body["data"]["customers"]["nodes"]
    assert [n["totalSpent"] for n in nodes] == ["99.00", "50.00", "25.00", "1.00"]
    assert [n["id"] for n in nodes] == [gw.pseudonym(ids[i]) for i in (1, 3, 0, 2)]


def test_order_by_total_spent_pages_in_order(gw: Gateway) -> None:
    # given
    city = unique("Spendpage")
    for cents in (300, 100, 500, 200, 400):
        cid, _ = add_person(gw, city=city, total_spent_cents=cents)
        gw.consent(cid, "marketing_email")

    # when
    amounts: list[str] = []
    after = None
    for _ in range(5):
        body = gw.post(BY_SPENT, variables={"city": city, "first": 2, "after": after,
                                            "direction": "DESC"}).json()
        connection = body["data"]["customers"]
        amounts.extend(n["totalSpent"] for n in connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then
    assert amounts == ["5.00", "4.00", "3.00", "2.00", "1.00"]
