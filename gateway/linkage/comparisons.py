"""The Splink comparisons and blocking rules of the production model.

Comparison levels are SQL over the prepared columns (gateway/linkage/prepare.py), written
once for DuckDB and Spark alike (jaro_winkler, damerau_levenshtein, levenshtein and substr
exist in both under these names through Splink's dialect translation).
"""

from __future__ import annotations

from typing import Any

import splink.comparison_library as cl
from splink import block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

Level = dict[str, Any]


def _null(*columns: str) -> Level:
    cond = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in columns)
    return {"sql_condition": cond, "label_for_charts": "null", "is_null_level": True}


def _level(sql: str, label: str, tf: str | None = None) -> Level:
    level: Level = {"sql_condition": sql, "label_for_charts": label}
    if tf:
        level.update(tf_adjustment_column=tf, tf_adjustment_weight=1.0)
    return level


_ELSE: Level = {"sql_condition": "ELSE", "label_for_charts": "else"}
# First and last name swapped: both ways, not one (one of the two may carry a typo, or be
# missing). A one-sided test ("Techer Alain" against "Ines Techer": the surname seen as a
# first name) took a parent's record written surname first for a swap of the child's
# names, gave it a positive first-name level, and so no first-name veto kept the two apart.
_SWAPPED = ('("fn_l" = "ln_r" AND ("ln_l" IS NULL OR "fn_r" IS NULL OR jaro_winkler_similarity("ln_l", "fn_r") >= 0.80)) '
            'OR ("ln_l" = "fn_r" AND ("fn_l" IS NULL OR "ln_r" IS NULL OR jaro_winkler_similarity("fn_l", "ln_r") >= 0.80))')


def _custom(name: str, levels: list[Level]) -> cl.CustomComparison:
    creators: list[ComparisonLevelCreator | dict[str, Any]] = list(levels)
    return cl.CustomComparison(comparison_levels=creators, output_column_name=name,
                               comparison_description=name)


def comparisons() -> list[ComparisonCreator | dict[str, Any]]:
    """Names (nicknames, transliteration, swaps), birth date (typos, day/month swapped),
    email (local part), phone (subscriber digits), address, postcode, city, region, card, sex."""
    return [
        _custom("first_name", [
            _null("fn"),
            _level('"fn_l" = "fn_r"', "exact", tf="fn"),
            _level('"fn_formal_l" = "fn_formal_r"', "same formal name or transliteration"),
            _level('jaro_winkler_similarity("fn_l", "fn_r") >= 0.92', "jw 0.92"),
            _level(_SWAPPED, "swapped with last name"),
            _level('jaro_winkler_similarity("fn_l", "fn_r") >= 0.80', "jw 0.80"),
            _level('(length("fn_l") = 1 OR length("fn_r") = 1) AND substr("fn_l", 1, 1) = substr("fn_r", 1, 1)',
                   "initial"),
            _ELSE,
        ]),
        _custom("last_name", [
            _null("ln"),
            _level('"ln_l" = "ln_r"', "exact", tf="ln"),
            _level('"ln_sk_l" = "ln_sk_r"', "same skeleton (transliteration)"),
            _level('jaro_winkler_similarity("ln_l", "ln_r") >= 0.92', "jw 0.92"),
            _level(_SWAPPED, "swapped with first name"),
            _level('jaro_winkler_similarity("ln_l", "ln_r") >= 0.80', "jw 0.80"),
            _ELSE,
        ]),
        _custom("birth_date", [
            _null("dob"),
            _level('"dob_l" = "dob_r"', "exact"),
            _level('damerau_levenshtein("dob_l", "dob_r") <= 1', "one typo or transposition"),
            _level('substr("dob_l", 1, 4) = substr("dob_r", 1, 4) AND substr("dob_l", 5, 2) = substr("dob_r", 7, 2) '
                   'AND substr("dob_l", 7, 2) = substr("dob_r", 5, 2)', "day and month swapped"),
            _level('levenshtein("dob_l", "dob_r") <= 2', "two typos"),
            _ELSE,
        ]),
        _custom("email", [
            _null("email"),
            _level('"email_l" = "email_r"', "exact"),
            _level('"email_local_l" = "email_local_r"', "same local part"),
            # One typo, not a similar local part: local parts are made of names, so two
            # namesakes' addresses are close by Jaro-Winkler (mitchellcarpenter52653 and
            # mitchellcarpenter14372: 0.93), which counted their names twice.
            _level('damerau_levenshtein("email_l", "email_r") <= 1', "one typo"),
            _ELSE,
        ]),
        _custom("phone", [
            _null("phone_tail"),
            _level('"phone_tail_l" = "phone_tail_r"', "same subscriber number"),
            _level('damerau_levenshtein("phone_tail_l", "phone_tail_r") <= 1', "one typo"),
            _ELSE,
        ]),
        _custom("address", [
            _null("street"),
            _level('"street_l" = "street_r" AND coalesce("hn_l", \'\') = coalesce("hn_r", \'\')', "exact"),
            _level('jaro_winkler_similarity("street_l", "street_r") >= 0.88 AND "hn_l" = "hn_r"',
                   "street jw 0.88, same number"),
            _level('"street_l" = "street_r"', "same street"),
            _level('jaro_winkler_similarity("street_l", "street_r") >= 0.88', "street jw 0.88"),
            _ELSE,
        ]),
        _custom("unit", [
            _null("unit"),
            _level('"unit_l" = "unit_r"', "exact"),
            _level('jaro_winkler_similarity("unit_l", "unit_r") >= 0.88', "jw 0.88"),
            _ELSE,
        ]),
        _custom("postcode", [
            _null("postcode"),
            _level('"postcode_l" = "postcode_r"', "exact"),
            _level('damerau_levenshtein("postcode_l", "postcode_r") <= 1', "one typo"),
            _ELSE,
        ]),
        _custom("city", [
            _null("city"),
            _level('"city_l" = "city_r"', "exact"),
            _level('jaro_winkler_similarity("city_l", "city_r") >= 0.88', "jw 0.88"),
            _ELSE,
        ]),
        _custom("region", [_null("region"), _level('"region_l" = "region_r"', "exact"), _ELSE]),
        _custom("loyalty_card", [_null("card"), _level('"card_l" = "card_r"', "exact"), _ELSE]),
        _custom("sex", [_null("sex"), _level('"sex_l" = "sex_r"', "exact"), _ELSE]),
    ]


def blocking_rules() -> list[BlockingRuleCreator | dict[str, Any]]:
    """The candidate pairs: any shared strong identifier, or names, birth date and place
    combined so that one typo in any one field still leaves another rule to find the pair."""
    return [
        block_on("email"),
        block_on("email_local"),
        block_on("phone_tail"),
        block_on("card"),
        block_on("fn_formal", "ln_sk"),
        block_on("dob", "fn_formal"),
        block_on("dob", "ln_sk"),
        block_on("dob", "postcode"),
        block_on("postcode", "ln_sk"),
        block_on("postcode", "fn_formal"),
        block_on("postcode", "hn", "substr(fn, 1, 1)"),
        block_on("dob", "substr(fn, 1, 2)", "substr(ln, 1, 2)"),
        block_on("street", "hn"),
        block_on("street", "city"),
        block_on("unit", "city"),
        block_on("ln", "hn"),
        CustomRule('l."fn" = r."ln" AND l."ln" = r."fn"'),
    ]


def training_rules() -> list[tuple[str, ...]]:
    """EM passes. Each blocks on two traits of a person (never on what a household shares
    alone), so that its pairs are mostly one person and EM does not learn "household" as
    the match class; each comparison is estimated by a pass that does not block on it.

    No pass blocks on names alone: the share of namesakes among pairs with the same first
    and last name grows with the data (at 1,000,000 records about half such pairs are two
    people), and EM then learns "same name, other birth date" as a match (m(birth date:
    else) 0.18 instead of 0.02), which turned the birth-date veto off. A name with a
    postcode or a phone, like a birth date, is rare to share by chance at any size."""
    return [("fn_formal", "dob"), ("ln_sk", "dob"), ("email", "dob"),
            ("fn_formal", "ln_sk", "postcode"), ("fn_formal", "phone_tail")]
