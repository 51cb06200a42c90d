"""`consent-gateway purposes check`: every mistake in a bad purposes.yaml is named at its place."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gateway.cli import main
from gateway.consent.purposes import PurposesError, parse_purposes
from tests.harness import REPO

SHIPPED = REPO / "policies" / "purposes.yaml"


def _shipped() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return copy.deepcopy(document)


def _problems(document: Any) -> list[str]:
    with pytest.raises(PurposesError) as caught:
        parse_purposes(document)
    return caught.value.problems


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DELETE = object()
EMAIL_V1 = ("purposes", "marketing_email", "notices", 0)

ONE_MISTAKE: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("typo in a notice key", (*EMAIL_V1, "materal"), True,
     ("purposes.marketing_email.notices[0]: unknown key(s) materal (known: fz152, jurisdictions, "
     "material, published, texts, version)")),
    ("typo in a purpose key", ("purposes", "service", "retention"), 5,
     "purposes.service: unknown key(s) retention (known:"),
    ("typo at the top", ("operators",), {}, "top level: unknown key(s) operators"),
    ("categories as a string", ("purposes", "support", "categories"), "contact",
     "purposes.support.categories: must be a list of non-empty strings"),
    ("no jurisdictions", (*EMAIL_V1, "jurisdictions"), _DELETE,
     "purposes.marketing_email.notices[0].jurisdictions: required, a list of gdpr and/or 152-fz"),
    ("unknown jurisdiction", (*EMAIL_V1, "jurisdictions"), ["gdpr", "eu"],
     "purposes.marketing_email.notices[0].jurisdictions: unknown eu (gdpr or 152-fz)"),
    ("152-fz notice without its content", (*EMAIL_V1, "fz152"), _DELETE,
     "purposes.marketing_email.notices[0].fz152: required for a 152-fz notice"),
    ("152-fz content on a gdpr notice", (*EMAIL_V1, "jurisdictions"), ["gdpr"],
     "purposes.marketing_email.notices[0].fz152: only for a notice whose jurisdictions include 152-fz"),
    ("no personal data listed", (*EMAIL_V1, "fz152", "personal_data"), [],
     "purposes.marketing_email.notices[0].fz152.personal_data: must not be empty"),
    ("an action 152-FZ does not name", (*EMAIL_V1, "fz152", "actions"), ["collection", "selling"],
     "purposes.marketing_email.notices[0].fz152.actions: unknown selling (152-FZ Art. 3:"),
    ("no term", (*EMAIL_V1, "fz152", "term_days"), 0,
     "purposes.marketing_email.notices[0].fz152.term_days: must be a positive integer"),
    ("no way to withdraw", (*EMAIL_V1, "fz152", "withdrawal"), " ",
     "purposes.marketing_email.notices[0].fz152.withdrawal: must be a non-empty text"),
    ("operator without an address", ("operator", "address"), _DELETE,
     "operator.address: required when a notice covers 152-fz"),
    ("notices on a contract purpose", ("purposes", "service", "notices"),
     [{"version": 1, "published": date(2025, 1, 1), "texts": {"en": "x"}, "jurisdictions": ["gdpr"]}],
     "purposes.service.notices: only a consent-based purpose asks for consent"),
    ("a boolean as a version", (*EMAIL_V1, "version"), True,
     "purposes.marketing_email.notices[0].version: must be a positive integer"),
    ("a channel the preference center does not know", ("purposes", "marketing_email", "channel"),
     "fax", "purposes.marketing_email.channel: must be one of email, phone, post, push, sms"),
    ("channels as a list", ("purposes", "marketing_sms", "channel"), ["sms"],
     "purposes.marketing_sms.channel: must be one of email, phone, post, push, sms"),
]


@pytest.mark.parametrize(("case", "path", "value", "problem"), ONE_MISTAKE, ids=[c[0] for c in ONE_MISTAKE])
def test_one_mistake_is_reported_once_at_its_place(case: str, path: tuple[Any, ...], value: Any,
                                                   problem: str) -> None:
    # given: the shipped file with one mistake
    document = _shipped()
    _set(document, path, value)
    # when
    problems = _problems(document)
    # then: exactly that problem (a YAML anchor shares fz152 between versions 1 and 2 of
    # marketing_email, so a mistake inside it is reported for both, each at its place)
    shared = path[:4] == EMAIL_V1 and len(path) > 5
    assert len(problems) == (2 if shared else 1), problems
    assert problems[0].startswith(problem), problems


def test_the_cli_prints_every_problem_with_the_file_and_exits_1(tmp_path: Path) -> None:
    # given: a file with three mistakes in different places
    document = _shipped()
    document["purposes"]["analytics"]["basis"] = "hunch"
    document["purposes"]["marketing_push"]["notices"][0]["texts"] = {}
    document["purposes"]["ads_audience"]["notices"][0]["fz152"]["term_days"] = "forever"
    bad = tmp_path / "purposes.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    # when
    result = CliRunner().invoke(main, ["purposes", "check", str(bad)])
    # then: one line per problem, naming the file and the place, then the count
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(str(bad))]
    assert sorted(line.split(": ", 2)[1] for line in lines) == [
        "purposes.ads_audience.notices[0].fz152.term_days",
        "purposes.analytics.basis",
        "purposes.marketing_push.notices[0].texts",
    ]
    assert "3 problem(s)" in result.output


def test_the_cli_says_what_to_do_with_a_missing_file(tmp_path: Path) -> None:
    # when
    result = CliRunner().invoke(main, ["purposes", "check", str(tmp_path / "nope.yaml")])
    # then
    assert result.exit_code == 2
    assert "no such file" in result.output
