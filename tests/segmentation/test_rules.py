"""The rule language: a table of good and bad rules, each bad one with its error and place."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.consent.purposes import load_purposes
from gateway.policy import PolicyEngine
from gateway.profile.fields import CUSTOMER_FIELDS
from gateway.segmentation.compile import check
from gateway.segmentation.rules import MAX_DEPTH, RuleError

REPO = Path(__file__).resolve().parents[2]

GOOD = [
    ('lifecycle = "at_risk"', ("lifecycleStage",)),
    ("lifecycle = 'at_risk' and region in [\"Moscow\", \"Kazan\"]", ("lifecycleStage", "region")),
    ('rfm.frequency >= 4 or not (rfm.monetary < 2)', ("rfmFrequency", "rfmMonetary")),
    ("orders.days_since_last > 30 AND orders.total_spent >= 99.5", ("lastOrderAt", "totalSpent")),
    ("region is not null and city not in ['Kazan']", ("region", "city")),
    ('lifecycle == "new" or lifecycle <> "lapsed"', ("lifecycleStage",)),
    ('loyalty.tier in ["gold", "platinum"] and loyalty.points > 1000',
     ("loyaltyTier", "loyaltyPoints")),
    ('city = "O\\"Hara"', ("city",)),
]

# (rule, line, column, what the message says)
BAD = [
    ("", 1, 1, "expected a condition, found the end of the rule"),
    ("lifecycle = ", 1, 13, "expected a value (a string, a number, true or false), found the end"),
    ('lifecycle = "at_rsk"', 1, 13, "unknown value 'at_rsk'; one of: prospect, new, active"),
    ('lifecyle = "new"', 1, 1, "unknown field 'lifecyle'"),
    ('rfm.frequency > "4"', 1, 17, "rfm.frequency: compare with a number"),
    ('region > "A"', 1, 1, "region: > does not apply to text"),
    ('lifecycle = "new" and', 1, 22, "expected a field name, found the end of the rule"),
    ('(lifecycle = "new"', 1, 19, "expected `)`"),
    ('region in "Moscow"', 1, 11, "expected `[`"),
    ('region = "Moscow" region = "X"', 1, 19, "expected `and`, `or` or the end of the rule"),
    ("region = null", 1, 10, "compare with null as `is null` or `is not null`"),
    ('region = "Mos', 1, 10, "an unterminated string"),
    ("rfm.recency = 3.5", 1, 15, "rfm.recency: compare with a whole number"),
    ("region $ 3", 1, 8, "unexpected character '$'"),
    ('lifecycle = "new"\n  and bogus = 1', 2, 7, "unknown field 'bogus'"),
    ('rfm.frequency in [1, "x"]', 1, 22, "rfm.frequency: compare with a number"),
    ('region in ["a",]', 1, 16, "expected a value"),
    ("region = true", 1, 10, "region: compare with a string in quotes"),
    ('region = "a\\q"', 1, 12, "unknown escape \\q"),
    ("not", 1, 4, "expected a field name"),
    ("= 3", 1, 1, "expected a field name, found '='"),
    ("region", 1, 7, "expected a comparison"),
    ("region is 3", 1, 11, "expected `null`"),
]


@pytest.mark.parametrize(("rule", "fields"), GOOD, ids=[g[0] for g in GOOD])
def test_good_rules_parse_and_name_their_fields(rule: str, fields: tuple[str, ...]) -> None:
    # when
    checked = check(rule)
    # then: the catalogue fields it reads, in order
    assert checked.catalog == fields


@pytest.mark.parametrize(("rule", "line", "column", "message"), BAD, ids=[b[0] or "<empty>" for b in BAD])
def test_bad_rules_are_answered_at_their_place(rule: str, line: int, column: int, message: str) -> None:
    # when
    with pytest.raises(RuleError) as raised:
        check(rule)
    # then: the message and where
    error = raised.value
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert error.code == "INVALID_INPUT"
    assert str(error).startswith(f"{line}:{column}: ")


def test_nesting_is_bounded() -> None:
    # given: parentheses nested past the limit
    deep = "(" * (MAX_DEPTH + 1) + 'region = "a"' + ")" * (MAX_DEPTH + 1)
    # then: refused, not a recursion error
    with pytest.raises(RuleError, match="nests at most"):
        check(deep)
    # and: the limit itself is fine (the control)
    check("(" * MAX_DEPTH + 'region = "a"' + ")" * MAX_DEPTH)


def test_categories_are_the_union_of_the_fields_lineage() -> None:
    # when: a rule over a band, a location and an exact recency
    rule = check('lifecycle = "new" and region = "X" and rfm.recency < 30')
    # then: every category it reveals, and that it reads derived data
    assert set(rule.categories) == {"derived", "location", "transactions"}
    assert rule.derived
    assert not check('region = "X"').derived


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(REPO / "policies", load_purposes(REPO / "policies" / "purposes.yaml"))


def test_a_rule_on_a_denied_field_is_refused_at_its_place(engine: PolicyEngine) -> None:
    # given: marketing's plan for text messages, which may not read transactions
    purpose = engine.purposes.get("marketing_sms")
    assert purpose is not None
    plan = engine.plan("marketing", purpose, CUSTOMER_FIELDS)
    # when / then: a rule on the amount spent is refused with the policy's code, at the field
    with pytest.raises(RuleError) as raised:
        check('region = "X" and orders.total_spent > 100', plan)
    assert raised.value.code == "POLICY_DENIED"
    assert (raised.value.line, raised.value.column) == (1, 18)
    # and: the recency in days carries transactions (its lineage), though it is derived
    with pytest.raises(RuleError) as lineage:
        check("rfm.recency < 30", plan)
    assert lineage.value.code == "POLICY_DENIED"
    # and: the same rules pass for email marketing, which may read transactions (the control)
    email = engine.purposes.get("marketing_email")
    assert email is not None
    check('region = "X" and orders.total_spent > 100 and rfm.recency < 30',
          engine.plan("marketing", email, CUSTOMER_FIELDS))
