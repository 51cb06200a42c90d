"""purposes.yaml: the shipped file loads; an invalid one is rejected with every problem."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.consent.purposes import (
    BASES,
    CATEGORIES,
    Notice,
    Purpose,
    Purposes,
    PurposesError,
    load_purposes,
    parse_purposes,
)

PURPOSES_YAML = Path(__file__).resolve().parents[2] / "policies" / "purposes.yaml"
EXPECTED_BASES = {
    "service": "contract",
    "support": "contract",
    "analytics": "legitimate_interest",
    "profiling": "legitimate_interest",
    "marketing_email": "consent",
    "marketing_sms": "consent",
    "marketing_push": "consent",
    "ads_audience": "consent",
    "identity_resolution": "legitimate_interest",
    "compliance_audit": "legal_obligation",
    "self_service": "contract",
}
# purpose -> (min_valid_notice_version, current notice version or None)
NOTICE_VERSIONS = {
    "marketing_email": (1, 2),  # v2 is not material: v1 grants still count
    "marketing_sms": (2, 2),  # v2 is material: v1 grants are superseded
    "marketing_push": (1, 1),
    "ads_audience": (1, 1),
    "service": (0, None),
}


def _shipped() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PURPOSES_YAML.read_text(encoding="utf-8"))
    return document


def _problems(document: Any) -> list[str]:
    with pytest.raises(PurposesError) as caught:
        parse_purposes(document)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def test_shipped_purposes_load(purposes: Purposes) -> None:
    # given: policies/purposes.yaml, loaded by the fixture
    # then: every purpose with its basis, known categories, and an operator for 152-FZ
    assert {n: p.basis for n, p in purposes.by_name.items()} == EXPECTED_BASES
    assert {p.basis for p in purposes.by_name.values()} <= BASES
    for purpose in purposes.by_name.values():
        assert purpose.categories <= CATEGORIES - {"special"}, purpose.name
        assert purpose.categories, purpose.name
        if purpose.basis == "consent":
            assert purpose.notices and purpose.objection_scope == "direct_marketing"
    assert {n for n, p in purposes.by_name.items() if p.restriction_exempt} == {
        "compliance_audit", "self_service"}
    assert purposes.operator["name"]
    assert purposes.get("nonexistent") is None


def test_direct_marketing_purposes_name_their_channel(purposes: Purposes) -> None:
    # given: policies/purposes.yaml
    # then: each purpose that contacts the customer names its channel; ads_audience reaches
    # people on partner platforms, through no channel of theirs
    assert {n: p.channel for n, p in purposes.by_name.items() if p.channel} == {
        "marketing_email": "email", "marketing_sms": "sms", "marketing_push": "push"}
    assert purposes.by_name["ads_audience"].channel is None


@pytest.mark.parametrize("name", sorted(NOTICE_VERSIONS))
def test_notice_versions_of_shipped_purposes(purposes: Purposes, name: str) -> None:
    # given: a shipped purpose
    purpose = purposes.by_name[name]
    minimum, current = NOTICE_VERSIONS[name]
    # then: the oldest version still in force and the current one
    assert purpose.min_valid_notice_version == minimum
    assert (purpose.current_notice.version if purpose.current_notice else None) == current


def _notice(version: int, material: bool) -> Notice:
    return Notice(version, material, date(2025, version % 12 + 1, 1), {"en": f"v{version}"})


@pytest.mark.parametrize(
    ("materials", "minimum"),
    [
        ((), 0),
        ((True,), 1),
        ((True, False), 1),
        ((True, True), 2),
        ((True, False, True, False), 3),
        ((False, False), 0),
    ],
)
def test_min_valid_notice_version(materials: tuple[bool, ...], minimum: int) -> None:
    # given: notices 1..n, each material or not
    notices = tuple(_notice(i + 1, m) for i, m in enumerate(materials))
    purpose = Purpose("p", "consent", "", frozenset(), frozenset(), 0, notices=notices)
    # then: grants below the latest material version are superseded
    assert purpose.min_valid_notice_version == minimum


def test_every_problem_is_listed_with_its_place() -> None:
    # given: the shipped document with five different mistakes
    document = _shipped()
    purposes = document["purposes"]
    purposes["service"]["basis"] = "vibes"
    purposes["marketing_push"]["notices"] = []
    purposes["marketing_email"]["notices"][1]["version"] = 1
    purposes["analytics"]["categories"] = ["contact", "biometrics"]
    purposes["marketing_sms"]["notices"][1]["published"] = "2026-13-01"
    # when: parsing it
    problems = _problems(document)
    # then: each mistake is reported once, where it is
    assert set(problems) == {
        ("purposes.service.basis: must be one of consent, contract, legal_obligation, "
         "legitimate_interest"),
        "purposes.marketing_push.notices: a consent-based purpose needs at least one notice",
        "purposes.marketing_email.notices: versions must be unique",
        "purposes.analytics.categories: unknown biometrics",
        "purposes.marketing_sms.notices[1].published: must be a date (YYYY-MM-DD)",
    }


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("support", "basis"), None, "purposes.support.basis: must be one of"),
        (("ads_audience", "notices"), None, "purposes.ads_audience.notices: a consent-based"),
        (("profiling", "categories"), ["derived", "special", "mood"],
         "purposes.profiling.categories: unknown mood"),
        (("service", "reveals"), ["email", "iban"],
         "purposes.service.reveals: unknown identifiers iban"),
        (("analytics", "objection_scope"), "everything",
         "purposes.analytics.objection_scope: must be one of direct_marketing, identity_resolution, profiling"),
        (("service", "retention_days"), -1,
         "purposes.service.retention_days: must be a non-negative"),
        (("marketing_push", "notices", 0, "published"), "soon",
         "purposes.marketing_push.notices[0].published: must be a date"),
        (("marketing_push", "notices", 0, "version"), 0,
         "purposes.marketing_push.notices[0].version: must be a positive integer"),
        (("marketing_push", "notices", 0, "texts"), {"en": " "},
         "purposes.marketing_push.notices[0].texts: must map language codes"),
        (("marketing_push", "notices", 0, "material"), "yes",
         "purposes.marketing_push.notices[0].material: must be true or false"),
    ],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else None,
)
def test_one_problem(path: tuple[Any, ...], value: Any, problem: str) -> None:
    # given: the shipped document with one value changed
    document = copy.deepcopy(_shipped())
    target: Any = document["purposes"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    # when: parsing it
    problems = _problems(document)
    # then: that one problem is reported, at its place (a bad notice is not also "missing")
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@pytest.mark.parametrize("document", [None, [], {"purposes": []}, {"operator": {}}])
def test_top_level_must_hold_purposes(document: Any) -> None:
    # given: a document without a purposes mapping
    # then: one problem naming the top level
    assert _problems(document) == ["top level: must be a mapping with a `purposes` mapping"]


def test_invalid_yaml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    # given: a file that is not YAML
    path = tmp_path / "purposes.yaml"
    path.write_text("purposes: [unclosed\n", encoding="utf-8")
    # when: loading it
    with pytest.raises(PurposesError) as caught:
        load_purposes(path)
    # then: the problem names the file
    assert caught.value.problems[0].startswith("purposes.yaml: not valid YAML")
