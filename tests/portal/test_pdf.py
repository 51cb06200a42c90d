"""The readable PDF summary of the export: the person's own data, in their language, laid out
by section; a form with its CSRF token; audited as the export it is."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from gateway.portal.summary_pdf import pdf_font
from tests.api.support import add_person
from tests.harness import Gateway
from tests.portal.support import csrf_of, post_form, sign_in


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(autouse=True)
def _font() -> None:
    if pdf_font(None) is None:
        pytest.skip("no DejaVu Sans (apt-get install fonts-dejavu-core; the container has it)")


def test_the_pdf_summary_holds_the_persons_data_by_section(gw: Gateway) -> None:
    # given: two customers; one signed in, with an order and a consent
    cid, values = add_person(gw)
    _, other = add_person(gw)
    gw.consent(cid, "marketing_email")
    client = sign_in(gw, values["email"])
    # when: they download the PDF from the rights page
    answer = post_form(client, "/portal/rights", "/portal/export.pdf", {})
    # then: a PDF attachment with their data, readable by section, and nobody else's
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith('attachment; filename="my-data-')
    assert answer.content.startswith(b"%PDF-")
    text = " ".join(_text(answer.content).split())
    for expected in ("Your data", "Your profile", "Consents", values["email"],
                     str(values["first_name"]), "marketing_email"):
        assert expected in text, expected
    for secret in (other["email"], str(other["last_name"])):
        assert secret not in text
    # and: the export was a rights case of the person's own, as the JSON one is
    assert answer.headers["x-case"] in client.get("/portal/rights").text


def test_the_pdf_summary_speaks_russian(gw: Gateway) -> None:
    # given: a signed-in person who chose Russian
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    page = client.get("/portal/profile")
    client.post("/portal/language", data={"csrf": csrf_of(page), "lang": "ru", "next": "/portal/rights"})
    # when
    answer = post_form(client, "/portal/rights", "/portal/export.pdf", {})
    # then: Cyrillic headings, not boxes or question marks
    text = " ".join(_text(answer.content).split())
    assert "Ваши данные" in text and "Согласия" in text


def test_the_pdf_needs_the_forms_csrf_token(gw: Gateway) -> None:
    # given
    _, values = add_person(gw)
    client = sign_in(gw, values["email"])
    # when / then
    assert client.post("/portal/export.pdf", data={}).status_code == 403


def test_a_long_list_is_summarised_and_says_how_long_it_is() -> None:
    # given: a document with a list of 120 records (as a person's audit reads can be)
    from gateway.portal.summary_pdf import MAX_ROWS, summary_pdf
    from gateway.portal.web.i18n import Translator

    font = pdf_font(None)
    assert font is not None
    document = {"controller": {"name": "Demo"}, "reads": {"entries": [
        {"app": f"app-{i:03d}", "purpose": "marketing_email"} for i in range(120)]}}
    # when
    text = " ".join(_text(summary_pdf(document, Translator("en"), font)).split())
    # then: the first rows, then how many the JSON holds
    assert "app-000" in text and f"app-{MAX_ROWS - 1:03d}" in text and f"app-{MAX_ROWS:03d}" not in text
    assert f"The first {MAX_ROWS} of 120 entries; the JSON download holds them all." in text
