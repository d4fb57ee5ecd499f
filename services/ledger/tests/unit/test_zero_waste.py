"""The zero-waste enterprise (无废企业) assessment over configurable rules."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from wastex_ledger.adapters.rules import parse_rules
from wastex_ledger.domain.figures import Figures, Utilisation
from wastex_ledger.domain.periods import Period
from wastex_ledger.domain.zero_waste import (
    Facts,
    Records,
    Rule,
    assess,
    facts_of,
    stock_at_end_of,
    unmoved_stock,
)
from wastex_shared.errors import DomainError

D = Decimal


def packaged_rules() -> tuple[Rule, ...]:
    text = resources.files("wastex_ledger").joinpath("zero_waste_rules.yaml").read_text("utf-8")
    return parse_rules(text)


RULES = packaged_rules()


def facts(**figures: str) -> Facts:
    columns: dict[str, Any] = {k: D(v) for k, v in figures.items()}
    return Facts(
        year=2026,
        utilisation=Utilisation(Figures(**columns)),
        open_discrepancies=0,
        unmatched_hazardous_stock=D("0.000"),
        unaccounted_generation=D("0.000"),
    )


# 100 t generated: 40 in-plant, 50 transferred, 5 stored, 5 disposed.
GOOD = facts(
    generated="100",
    in_plant_current="40",
    transferred_out_current="50",
    stored="5",
    disposed_current="5",
)


def result(assessment_facts: Facts, key: str) -> tuple[bool, str | None, str | None]:
    found = {r.key: r for r in assess("ent-steel", RULES, assessment_facts).results}[key]
    return found.passed, found.actual, found.threshold


def test_the_packaged_rules() -> None:
    by_key = {r.key: r for r in RULES}
    assert by_key["comprehensive-utilisation-rate"].threshold == D("0.80")  # formulas §4
    assert by_key["comprehensive-utilisation-rate"].kind == "rate_at_least"
    assert by_key["in-plant-share"].threshold == D("0.30")  # project rule
    assert by_key["disposal-share"].threshold == D("0.20")  # project rule
    assert {r.kind for r in RULES} >= {
        "no_open_discrepancies",
        "no_unmatched_hazardous_stock",
        "generation_accounted",
    }


def test_a_zero_waste_enterprise_passes_every_rule() -> None:
    assessment = assess("ent-steel", RULES, GOOD)
    assert assessment.passed
    assert (assessment.enterprise_id, assessment.year) == ("ent-steel", 2026)
    assert [r.key for r in assessment.results] == [r.key for r in RULES]
    assert result(GOOD, "comprehensive-utilisation-rate") == (True, "0.9000", "0.80")
    assert result(GOOD, "in-plant-share") == (True, "0.4000", "0.30")
    assert result(GOOD, "disposal-share") == (True, "0.0500", "0.20")


def test_rate_below_threshold_fails() -> None:
    low = facts(generated="100", in_plant_current="79.99", stored="20.01")
    assert result(low, "comprehensive-utilisation-rate") == (False, "0.7999", "0.80")
    assert not assess("ent-steel", RULES, low).passed
    exactly = facts(generated="100", in_plant_current="80", stored="20")
    assert result(exactly, "comprehensive-utilisation-rate")[0]


def test_in_plant_share_below_threshold_fails() -> None:
    shipped = facts(generated="100", in_plant_current="29", transferred_out_current="71")
    assert result(shipped, "comprehensive-utilisation-rate")[0]
    assert result(shipped, "in-plant-share") == (False, "0.2900", "0.30")


def test_disposal_share_above_threshold_fails() -> None:
    disposing = facts(generated="100", in_plant_current="79", disposed_current="21")
    assert result(disposing, "disposal-share") == (False, "0.2100", "0.20")


def test_no_figures_fail_the_rate_rules_but_not_the_disposal_share() -> None:
    empty = facts()
    assert result(empty, "comprehensive-utilisation-rate") == (False, None, "0.80")
    assert result(empty, "in-plant-share") == (False, None, "0.30")
    assert result(empty, "disposal-share") == (True, None, "0.20")


@pytest.mark.parametrize(
    ("change", "key", "actual"),
    [
        ({"open_discrepancies": 1}, "no-open-discrepancies", "1"),
        ({"unmatched_hazardous_stock": D("2.500")}, "no-unmatched-hazardous-stock", "2.500"),
        ({"unaccounted_generation": D("0.001")}, "generation-accounted", "0.001"),
    ],
)
def test_fact_rules(change: dict[str, object], key: str, actual: str) -> None:
    bad = replace(GOOD, **change)  # type: ignore[arg-type]
    passed, got, _ = result(bad, key)
    assert (passed, got) == (False, actual)
    assessment = assess("ent-steel", RULES, bad)
    assert not assessment.passed
    assert [r.key for r in assessment.results if not r.passed] == [key]


@pytest.mark.parametrize(
    "text",
    [
        "rules: [{key: a, kind: rate_at_most, title: t, threshold: '0.5'}]",  # unknown kind
        "rules: [{key: a, kind: rate_at_least, title: t}]",  # needs a threshold
        "rules: [{key: a, kind: disposal_share_at_most, title: t}]",
        "rules: [{key: a, kind: no_open_discrepancies, title: t},"
        " {key: a, kind: no_open_discrepancies, title: u}]",  # duplicate keys
        "rules: []",
        "rules: [{key: a, kind: no_open_discrepancies, title: t, colour: red}]",
        "rules: [",
        # helper-54: a rate written as a percentage failed every enterprise (0.95 < 80).
        "rules: [{key: a, kind: rate_at_least, title: t, threshold: '80'}]",
        "rules: [{key: a, kind: in_plant_share_at_least, title: t, threshold: '-0.1'}]",
        "rules: [{key: a, kind: disposal_share_at_most, title: t, threshold: '20'}]",
        "rules: [{key: a, kind: generation_accounted, title: t, threshold: '-1'}]",
        "rules: [{key: a, kind: no_unmatched_hazardous_stock, title: t, threshold: 'NaN'}]",
    ],
)
def test_invalid_rule_files_are_refused(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_rules(text)
    assert caught.value.code == "INVALID_RULES"


def test_custom_thresholds_from_yaml() -> None:
    rules = parse_rules(
        "version: 1\nrules:\n"
        "  - {key: park, kind: rate_at_least, title: 无废园区 ≥ 90 %, threshold: '0.90'}\n"
    )
    assert result_with(rules, GOOD) == [("park", True)]
    almost = facts(generated="100", in_plant_current="89.99", stored="10.01")
    assert result_with(rules, almost) == [("park", False)]


def result_with(rules: tuple[Rule, ...], f: Facts) -> list[tuple[str, bool]]:
    return [(r.key, r.passed) for r in assess("ent", rules, f).results]


def test_stock_no_manifest_moves_is_counted_code_by_code() -> None:
    stock = {"HW08": D("-2.000"), "HW49": D("10.000"), "HW17": D("5.000")}
    moving = {"HW08": D("50.000"), "HW17": D("3.000")}
    # HW08's negative stock and its manifest cover nothing of the other codes.
    assert unmoved_stock(stock, moving) == D("12.000")


def test_stock_at_the_end_of_a_year_counts_the_months_up_to_it() -> None:
    months = {
        Period(2024, 1): Figures(opening_stock=D("100")),
        Period(2024, 6): Figures(stored=D("20"), transferred_out_prior=D("30")),
        Period(2025, 3): Figures(in_plant_prior=D("40"), disposed_prior=D("5")),
    }
    assert stock_at_end_of(2024, months) == D("90")
    assert stock_at_end_of(2025, months) == D("45")


def test_facts_count_weight_gaps_within_the_tolerance_as_shipped() -> None:
    # 100 t of SW01 generated and shipped, 99 t weighed in; 10 t of HW08 stock shipped from
    # prior-year stock, 9.9 t weighed in; 0.5 t of HW49 stored and never moved.
    records = Records(
        year=2026,
        general=Figures(generated=D("100"), transferred_out_current=D("99")),
        every_class=Figures(generated=D("100.5"), transferred_out_current=D("99"), stored=D("0.5")),
        open_discrepancies=0,
        by_code={
            "HW08": {
                Period(2025, 1): Figures(opening_stock=D("10")),
                Period(2026, 2): Figures(transferred_out_prior=D("9.9")),
            },
            "HW49": {Period(2026, 3): Figures(generated=D("0.5"), stored=D("0.5"))},
        },
        moving={},
        in_transit={},
        weighing_gaps={
            ("SW01", False, Period(2026, 2)): D("1"),
            ("HW08", True, Period(2026, 2)): D("0.1"),
        },
    )
    facts = facts_of(records)
    assert facts.unaccounted_generation == D("0")
    assert facts.unmatched_hazardous_stock == D("0.5")
    assert facts.utilisation.rate == D("0.9900")


@pytest.mark.parametrize(
    ("key", "columns", "passed", "detail"),
    [
        # helper-45: judged on the 4 places shown, 79.995 % passed "≥ 80 %".
        ("comprehensive-utilisation-rate", {"in_plant_current": "79.995"}, False, "0.799950 <"),
        ("comprehensive-utilisation-rate", {"in_plant_current": "80"}, True, "0.8000 ≥"),
        ("disposal-share", {"disposed_current": "20.004"}, False, "0.200040 >"),
        ("disposal-share", {"disposed_current": "20"}, True, "0.2000 ≤"),
    ],
)
def test_thresholds_are_judged_on_the_exact_fraction_not_the_one_shown(
    key: str, columns: dict[str, str], passed: bool, detail: str
) -> None:
    result = {r.key: r for r in assess("ent", RULES, facts(generated="100", **columns)).results}
    assert result[key].passed is passed
    assert result[key].detail.startswith(detail)


def test_the_discrepancy_rule_counts_unresolved_ones_and_says_so() -> None:
    """A regulator reading "0 manifest(s) with a weight discrepancy" beside a resolved one
    in `discrepancies` was told something untrue: the rule counts the unresolved ones."""
    details = {r.key: r.detail for r in assess("ent-steel", RULES, GOOD).results}
    assert details["no-open-discrepancies"] == (
        "0 manifest(s) with an unresolved weight discrepancy in 2026"
    )
