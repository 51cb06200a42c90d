"""Any exported value as HTML (a mapping as a description list, a list of mappings as a
table, dates in words), in Python: the held page renders every cell of the person's export,
and the recursive Jinja macro that did it cost about half of that page's time on a customer
with a long history. Escaping is markupsafe's, as in the autoescaped templates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

from gateway.portal.web.i18n import Translator


def show(v: Any, t: Translator) -> Markup:
    """`v` (a value, mapping, list of mappings or list) as HTML, in `t`'s language."""
    out: list[str] = []
    _value(v, t, out)
    return Markup("".join(out))


def _value(v: Any, t: Translator, out: list[str]) -> None:
    if v is None or (isinstance(v, str) and v == ""):
        out.append(f'<span class="muted">{escape(t("value.none"))}</span>')
    elif v is True:
        out.append(str(escape(t("value.yes"))))
    elif v is False:
        out.append(str(escape(t("value.no"))))
    elif isinstance(v, Mapping):
        out.append('<dl class="nested">\n')
        for k, item in v.items():
            out.append(f"<dt>{escape(t(f'field.{k}', str(k)))}</dt><dd>")
            _value(item, t, out)
            out.append("</dd>\n")
        out.append("</dl>")
    elif isinstance(v, str):
        out.append(str(escape(v)))
    elif isinstance(v, Iterable):
        items = list(v)
        if not items:
            out.append(f'<span class="muted">{escape(t("value.empty"))}</span>')
        elif isinstance(items[0], Mapping):
            _table(items, t, out)
        else:
            out.append(", ".join(str(escape(i)) for i in items))
    elif isinstance(v, datetime):
        out.append(str(escape(t.datetime(v))))
    elif isinstance(v, date):
        out.append(str(escape(t.date(v))))
    else:
        out.append(str(escape(v)))


def _table(rows: list[Mapping[str, Any]], t: Translator, out: list[str]) -> None:
    keys = list(rows[0].keys())
    out.append(f'<div class="scroll" role="region" aria-label="{escape(t("value.table"))}" '
               'tabindex="0">\n<table>\n<thead><tr>')
    out.extend(f'<th scope="col">{escape(t(f"field.{k}", k))}</th>' for k in keys)
    out.append("</tr></thead>\n<tbody>\n")
    signed = f'<span class="muted">{escape(t("value.signed"))}</span>'
    for row in rows:
        out.append("<tr>")
        for k in keys:
            out.append("<td>")
            if k == "jws":
                out.append(signed)
            else:
                _value(row.get(k), t, out)
            out.append("</td>")
        out.append("</tr>\n")
    out.append("</tbody>\n</table>\n</div>")
