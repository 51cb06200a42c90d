"""A readable PDF summary of a person's export document (fpdf2), in their language.

The JSON document is the complete, machine-readable answer; this is the same document laid
out for a person: a heading per section, a mapping as label / value lines, a list of records
as a table (its first `MAX_ROWS`, saying how many there are), dates in words. Receipts' signatures are shown as "signed receipt" (the JSON
holds them). Cyrillic needs a Unicode TrueType font: DejaVu Sans (Debian's
`fonts-dejavu-core`, in the container image) or the file `GATEWAY_PORTAL_PDF_FONT` names;
without one the portal offers JSON and the HTML page only (`pdf_font()` is None).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from gateway.portal.web.i18n import Translator

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# Top-level keys that describe the document rather than the person: shown in its header.
HEADER_KEYS = ("format", "kind", "generated_at", "controller", "jurisdiction", "case")
MAX_CELL = 400  # characters of one table cell (a long JSON attribute blob is cut, and says so)
# Rows of one table: a summary, not the whole log (fpdf2 lays a cell out in about 1 ms, and a
# person read often has hundreds of audit entries: 50 rows of each list cost about 0.5 s of
# CPU); the page says how many the JSON holds.
MAX_ROWS = 50


def pdf_font(configured: str | None) -> Path | None:
    """The Unicode font to write with: the configured file, else DejaVu Sans; None if absent."""
    path = Path(configured) if configured else DEFAULT_FONT
    return path if path.is_file() else None


def _text(v: Any, t: Translator) -> str:
    if v is None or v == "":
        return t("value.none")
    if v is True:
        return t("value.yes")
    if v is False:
        return t("value.no")
    if isinstance(v, datetime):
        return t.datetime(v)
    if isinstance(v, date):
        return t.date(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Mapping | list | tuple):
        if not v:
            return t("value.empty")
        if isinstance(v, list | tuple) and not any(isinstance(i, Mapping | list) for i in v):
            return ", ".join(_text(i, t) for i in v)
        return json.dumps(v, ensure_ascii=False, default=str, sort_keys=True)
    return str(v)


def _cell(v: Any, t: Translator) -> str:
    text = _text(v, t)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + " … (JSON)"


class _Summary:
    def __init__(self, font: Path, t: Translator) -> None:
        self.t = t
        pdf = FPDF(orientation="landscape", format="A4")
        pdf.set_title(t("pdf.title"))
        pdf.set_creator("consent-gateway")
        pdf.set_auto_page_break(auto=True, margin=12)
        pdf.add_font("body", "", str(font))
        bold = font.with_name(font.stem + "-Bold" + font.suffix)
        pdf.add_font("body", "B", str(bold if bold.is_file() else font))
        pdf.set_margins(12, 12, 12)
        pdf.add_page()
        self.pdf = pdf

    def heading(self, text: str, size: float) -> None:
        self.pdf.set_font("body", "B", size)
        self.pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def line(self, label: str, value: str) -> None:
        self.pdf.set_font("body", "B", 9)
        self.pdf.multi_cell(0, 4.6, f"{label}: ", new_x="END", new_y="TOP")
        self.pdf.set_font("body", "", 9)
        self.pdf.multi_cell(0, 4.6, value, new_x="LMARGIN", new_y="NEXT")

    def value(self, v: Any) -> None:
        t = self.t
        if isinstance(v, Mapping):
            for k, item in v.items():
                label = t(f"field.{k}", str(k))
                if isinstance(item, Mapping) and item or (
                        isinstance(item, list) and item and isinstance(item[0], Mapping)):
                    self.heading(label, 10.5)
                    self.value(item)
                else:
                    self.line(label, _text(item, t))
        elif isinstance(v, list) and v and isinstance(v[0], Mapping):
            self.table(v)
        else:
            self.pdf.set_font("body", "", 9)
            self.pdf.multi_cell(0, 4.6, _text(v, t), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def table(self, rows: list[Mapping[str, Any]]) -> None:
        t = self.t
        keys = list(rows[0].keys())
        shown = rows[:MAX_ROWS]
        self.pdf.set_font("body", "", 7.5)
        with self.pdf.table(headings_style=FontFace(emphasis="BOLD"), line_height=3.6,
                            text_align="LEFT", first_row_as_headings=True) as table:
            head = table.row()
            for k in keys:
                head.cell(t(f"field.{k}", k))
            for item in shown:
                row = table.row()
                for k in keys:
                    row.cell(t("value.signed") if k == "jws" else _cell(item.get(k), t))
        if len(rows) > MAX_ROWS:
            self.pdf.set_font("body", "", 8)
            self.pdf.multi_cell(0, 4.2, t("pdf.more", shown=MAX_ROWS, total=len(rows)),
                                new_x="LMARGIN", new_y="NEXT")

    def build(self, document: Mapping[str, Any]) -> bytes:
        t = self.t
        self.heading(t("pdf.title"), 16)
        controller = document.get("controller") or {}
        self.line(t("pdf.controller"), ", ".join(str(controller.get(k, "")) for k in
                                                 ("name", "address", "contact") if controller.get(k)))
        self.line(t("pdf.generated"), _text(document.get("generated_at"), t))
        self.pdf.set_font("body", "", 9)
        self.pdf.multi_cell(0, 4.6, t("pdf.intro"), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(3)
        for name, data in document.items():
            if name in HEADER_KEYS:
                continue
            self.heading(t(f"section.{name}", name), 13)
            self.value(data)
        return bytes(self.pdf.output())


def summary_pdf(document: Mapping[str, Any], t: Translator, font: Path) -> bytes:
    """The export `document` as a PDF in `t`'s language, written with `font`."""
    return _Summary(font, t).build(document)
