"""From raw canonical records to the comparison columns the matcher uses, in memory only.

Each normaliser runs once per distinct value of a column (`_mapped`), so a million records
cost a few seconds. The frame built here is never written anywhere: matching keys that
must persist are blind-indexed (gateway/linkage/keys.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gateway.linkage import normalize as n
from gateway.linkage.fields import CANONICAL

# The columns of the prepared frame besides `unique_id`, `record_id` and `source`.
MATCH_COLUMNS = (
    "fn", "fn_sk", "fn_formal", "mn", "ln", "ln_sk", "dob", "sex", "email", "email_local",
    "phone", "phone_tail", "hn", "street", "unit", "city", "postcode", "region", "country",
    "card",
)


def _mapped(values: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """`fn` over a column of text, computed once per distinct value; "" becomes None."""
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    # Code -1 (a missing value) takes the last entry: the normaliser's answer for "".
    table = np.array([fn(str(v)) or None for v in distinct] + [fn("") or None], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype=object)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


_HOUSE_IN_STREET = re.compile(r"^\s*(\d+\w?)\b")


def prepare_row(record: Mapping[str, Any], *, day_first: bool | None = None) -> dict[str, Any]:
    """One record's comparison columns, the same values as its row of `frame_of` (without
    pandas: an online match prepares a handful of records, where a frame costs ~100 ms)."""
    def get(name: str) -> str:
        return _text(record.get(name))

    def keep(value: str) -> str | None:
        return value or None

    births = get("birth_date")
    if day_first is None:
        day_first = n.detect_day_first([births])
    fn = n.fold_name(get("first_name"))
    ln = n.fold_name(get("last_name"))
    mail = n.email(get("email"))
    country = n.country(get("country"))
    phone = n.phone(get("phone"), country)
    street_raw, number = get("street"), get("house_number")
    if number.strip() == "":
        found = _HOUSE_IN_STREET.search(street_raw)
        number = found.group(1) if found else ""
    ident = record.get("record_id")
    return {
        "record_id": _text(ident) if ident is not None else None,
        "source": keep(get("source").strip().lower()[:32]),
        "fn": keep(fn), "fn_sk": keep(n.skeleton(fn)), "fn_formal": keep(n.formal_name(fn)),
        "mn": keep(n.fold_name(get("middle_name"))), "ln": keep(ln), "ln_sk": keep(n.skeleton(ln)),
        "dob": keep(n.valid_date_digits(births, day_first)), "sex": keep(n.sex(get("sex"))),
        "email": keep(mail), "email_local": keep(mail.rpartition("@")[0]), "country": keep(country),
        "phone": keep(phone), "phone_tail": keep(n.phone_tail(phone)),
        "hn": keep(n.house_number(number)), "street": keep(n.fold_street(street_raw).replace(" ", "")),
        "unit": keep(n.fold_text(get("unit") + " " + get("po_box")).replace(" ", "")),
        "city": keep(n.fold_text(get("city"))), "postcode": keep(n.postcode(get("postcode"))),
        "region": keep(n.fold_text(get("region"))), "card": keep(n.postcode(get("loyalty_card"))),
    }


def frame_of(records: Sequence[dict[str, Any]] | pd.DataFrame, *, day_first: bool | None = None) -> pd.DataFrame:
    """The comparison frame of `records` (canonical field names; missing columns are empty).

    Rows keep their order; `unique_id` is the row number, `record_id` the caller's id (row
    number as text when absent). `day_first` decides dates like 03/07/1980; None detects it
    from the column.
    """
    raw = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    size = len(raw)
    col = {c: (raw[c] if c in raw.columns else pd.Series([None] * size, dtype=object))
           for c in (*CANONICAL, "record_id", "source")}
    col = {name: values.reset_index(drop=True) for name, values in col.items()}
    births = col["birth_date"].fillna("").astype(str)
    if day_first is None:
        day_first = n.detect_day_first(list(pd.unique(births))[:100_000])
    out = pd.DataFrame({"unique_id": range(size)})
    ids = col["record_id"]
    out["record_id"] = ids.where(ids.notna(), pd.Series(range(size)).astype(str)).astype(str)
    out["source"] = _mapped(col["source"], lambda v: v.strip().lower()[:32])
    out["fn"] = _mapped(col["first_name"], n.fold_name)
    out["fn_sk"] = _mapped(out["fn"], n.skeleton)
    out["fn_formal"] = _mapped(out["fn"], n.formal_name)
    out["mn"] = _mapped(col["middle_name"], n.fold_name)
    out["ln"] = _mapped(col["last_name"], n.fold_name)
    out["ln_sk"] = _mapped(out["ln"], n.skeleton)
    out["dob"] = _mapped(births, lambda v: n.valid_date_digits(v, day_first))
    out["sex"] = _mapped(col["sex"], n.sex)
    out["email"] = _mapped(col["email"], n.email)
    out["email_local"] = _mapped(out["email"], lambda v: v.rpartition("@")[0])
    out["country"] = _mapped(col["country"], n.country)
    # (A NUL separator would be dropped by pandas' string concatenation, losing the country.)
    phones = col["phone"].fillna("").astype(str) + "\t" + out["country"].fillna("")
    out["phone"] = _mapped(phones, lambda v: n.phone(*v.rsplit("\t", 1)))
    out["phone_tail"] = _mapped(out["phone"], n.phone_tail)
    # A street given with its number ("12 Baker St") lends the number when none is mapped.
    streets = col["street"].fillna("").astype(str)
    numbers = col["house_number"].fillna("").astype(str)
    numbers = numbers.where(numbers.str.strip() != "", streets.str.extract(r"^\s*(\d+\w?)\b")[0].fillna(""))
    out["hn"] = _mapped(numbers, n.house_number)
    out["street"] = _mapped(streets, lambda v: n.fold_street(v).replace(" ", ""))
    units = col["unit"].fillna("").astype(str) + " " + col["po_box"].fillna("").astype(str)
    out["unit"] = _mapped(units, lambda v: n.fold_text(v).replace(" ", ""))
    out["city"] = _mapped(col["city"], n.fold_text)
    out["postcode"] = _mapped(col["postcode"], n.postcode)
    out["region"] = _mapped(col["region"], n.fold_text)
    out["card"] = _mapped(col["loyalty_card"], lambda v: n.postcode(v))
    return out
