"""From raw canonical records to the comparison columns the matcher uses, in memory only.

Each normaliser runs once per distinct value of a column (`_mapped`), so a million records
cost a few seconds. The frame built here is never written anywhere: matching keys that
must persist are blind-indexed (gateway/linkage/keys.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    text = values.fillna("").astype(str)
    distinct = pd.unique(text)
    table = {v: (fn(v) or None) for v in distinct}
    return text.map(table)


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
    phones = col["phone"].fillna("").astype(str) + "\x00" + out["country"].fillna("")
    out["phone"] = _mapped(phones, lambda v: n.phone(*v.split("\x00", 1)))
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
