"""Statistics on textbook cases, against scipy directly and against hand or closed-form computations."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abtests.statistics import (
    ALL_DIFFERENCES_ZERO,
    MIN_WILCOXON_PAIRS,
    NO_DISCORDANT_PAIRS,
    Outcome,
    compare_variants,
    holm,
    mcnemar_exact,
    mean_interval,
    p50,
    p95,
    paired_difference_interval,
    percentile,
    rank_biserial,
    rows_needed,
    wilcoxon_signed_rank,
    wilson_interval,
)

Z95 = NormalDist().inv_cdf(0.975)


def wilson_closed_form(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- Wilson --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", method 3 (score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_textbook_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(k, n)
    assert interval.estimate == pytest.approx(k / n)
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)


@given(st.integers(min_value=1, max_value=500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_equals_closed_form(kn: tuple[int, int]) -> None:
    k, n = kn
    low, high = wilson_closed_form(k, n)
    interval = wilson_interval(k, n)
    assert interval.low == pytest.approx(max(0.0, low), abs=1e-9)
    assert interval.high == pytest.approx(min(1.0, high), abs=1e-9)
    assert interval.low <= k / n <= interval.high


def test_wilson_interval_for_ten_of_ten_reaches_one() -> None:
    interval = wilson_interval(10, 10)
    assert interval.estimate == 1.0
    assert interval.high == pytest.approx(1.0)
    assert interval.low == pytest.approx(1 - 0.2775, abs=1e-4)


def test_wilson_interval_with_no_trials_is_the_whole_range() -> None:
    interval = wilson_interval(0, 0)
    assert interval.estimate is None
    assert (interval.low, interval.high) == (0.0, 1.0)


def test_wilson_interval_at_other_confidence_levels_widens() -> None:
    assert wilson_interval(30, 100, 0.99).high > wilson_interval(30, 100, 0.95).high
    assert wilson_interval(30, 100, 0.99).high == pytest.approx(
        wilson_closed_form(30, 100, NormalDist().inv_cdf(0.995))[1]
    )


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, confidence=1.0)


# --- mean interval --------------------------------------------------------------------------------


def test_mean_interval_is_the_student_t_interval() -> None:
    values = [2.0, 4.0, 4.0, 5.0, 7.0, 9.0]
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
    interval = mean_interval(values)
    assert interval.estimate == pytest.approx(mean)
    assert interval.low == pytest.approx(mean - half)
    assert interval.high == pytest.approx(mean + half)


def test_mean_interval_edge_cases() -> None:
    assert mean_interval([]).estimate is None
    one = mean_interval([0.4])
    assert (one.estimate, one.low, one.high) == (0.4, None, None)
    same = mean_interval([1.0, 1.0, 1.0])
    assert (same.estimate, same.low, same.high) == (1.0, 1.0, 1.0)


# --- McNemar ------------------------------------------------------------------------------------


def exact_two_sided(b: int, c: int) -> float:
    """The exact McNemar p-value by counting: 2 * P(X <= min(b, c)) for X ~ Bin(b + c, 1/2), capped at 1."""
    n = b + c
    tail = sum(Fraction(math.comb(n, i), 2**n) for i in range(min(b, c) + 1))
    return float(min(Fraction(1), 2 * tail))


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (1, 9, 22 / 1024),  # 2 * (1 + 10) / 2**10
        (0, 5, 2 / 32),  # smallest p with five discordant pairs
        (5, 5, 1.0),
        (6, 16, None),  # Agresti-style table: checked by counting
        (121, 59, None),  # the McNemar example on Wikipedia (chi-squared 21.35)
    ],
)
def test_mcnemar_exact_on_classic_tables(b: int, c: int, expected: float | None) -> None:
    result = mcnemar_exact(b, c)
    assert result.p_value == pytest.approx(expected if expected is not None else exact_two_sided(b, c), rel=1e-9)
    assert result.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)
    assert result.n == b + c


def test_mcnemar_is_symmetric_in_the_discordant_counts() -> None:
    assert mcnemar_exact(3, 12).p_value == mcnemar_exact(12, 3).p_value


def test_mcnemar_with_no_discordant_pairs_is_p_one_with_a_note() -> None:
    result = mcnemar_exact(0, 0)
    assert result.p_value == 1.0
    assert result.note == NO_DISCORDANT_PAIRS


# --- Wilcoxon -----------------------------------------------------------------------------------


def test_wilcoxon_all_positive_six_pairs_is_two_over_sixty_four() -> None:
    x = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    y = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # differences 1..6, all positive
    result = wilcoxon_signed_rank(x, y)
    assert result.statistic == 0.0
    assert result.p_value == pytest.approx(2 / 64)


def test_wilcoxon_hand_checked_case_with_one_negative_difference() -> None:
    # Differences 1, -2, 3, 4, 5, 6: W- = 2. Subsets of {1..6} summing to <= 2: {}, {1}, {2} -> p = 2 * 3/64.
    x = [1.0, 0.0, 3.0, 4.0, 5.0, 6.0]
    y = [0.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    result = wilcoxon_signed_rank(x, y)
    assert result.statistic == 2.0
    assert result.p_value == pytest.approx(6 / 64)
    assert rank_biserial(x, y) == pytest.approx((19 - 2) / 21)


def test_wilcoxon_agrees_with_scipy_on_random_paired_scores() -> None:
    rng = random.Random(7)
    for n in (8, 20, 60):
        x = [rng.random() for _ in range(n)]
        y = [v + rng.gauss(0.05, 0.2) for v in x]
        expected = stats.wilcoxon(x, y)
        result = wilcoxon_signed_rank(x, y)
        assert result.statistic == pytest.approx(expected.statistic)
        assert result.p_value == pytest.approx(expected.pvalue)


def test_wilcoxon_drops_zero_differences_like_scipy() -> None:
    x = [0.5, 0.5, 1.0, 0.9, 0.2, 0.4, 0.8, 0.1, 0.7]
    y = [0.5, 0.5, 0.3, 0.2, 0.6, 0.1, 0.1, 0.0, 0.2]
    result = wilcoxon_signed_rank(x, y)
    expected = stats.wilcoxon(x, y, zero_method="wilcox")
    assert result.n == 7
    assert result.p_value == pytest.approx(expected.pvalue)


def test_wilcoxon_with_all_ties_reports_not_enough_pairs() -> None:
    result = wilcoxon_signed_rank([1.0, 0.5, 0.0], [1.0, 0.5, 0.0])
    assert result.p_value is None
    assert result.note == ALL_DIFFERENCES_ZERO
    assert rank_biserial([1.0], [1.0]) is None


def test_wilcoxon_with_too_few_pairs_reports_not_enough_pairs() -> None:
    result = wilcoxon_signed_rank([1.0] * (MIN_WILCOXON_PAIRS - 1), [0.0] * (MIN_WILCOXON_PAIRS - 1))
    assert result.p_value is None
    assert result.note.startswith("not enough pairs")
    assert wilcoxon_signed_rank([], []).p_value is None


def test_wilcoxon_refuses_unpaired_samples() -> None:
    with pytest.raises(ValueError):
        wilcoxon_signed_rank([1.0, 2.0], [1.0])


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_textbook_example() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06 for the last.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_single_p_value_is_unchanged_and_large_ones_cap_at_one() -> None:
    assert holm([0.2]) == [0.2]
    assert holm([0.4, 0.5, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
    assert holm([]) == []


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12))
def test_holm_is_monotone_and_never_below_raw(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert all(adj >= raw for adj, raw in zip(adjusted, p_values, strict=True))
    assert all(0 <= adj <= 1 for adj in adjusted)
    pairs = sorted(zip(p_values, adjusted, strict=True))
    assert all(pairs[i][1] <= pairs[i + 1][1] for i in range(len(pairs) - 1))


def test_holm_refuses_values_outside_zero_one() -> None:
    with pytest.raises(ValueError):
        holm([0.1, 1.5])


# --- effect sizes, percentiles, sample size --------------------------------------------------------


def test_paired_difference_interval_contains_the_difference_and_narrows_with_n() -> None:
    small = paired_difference_interval(10, 5, 15, 10)
    assert small.estimate == pytest.approx(10 / 40)
    assert small.low < 0.25 < small.high
    large = paired_difference_interval(100, 50, 150, 100)
    assert large.high - large.low < small.high - small.low
    # For a large sample it is close to the Wald interval for paired proportions.
    n, b, c = 400, 50, 150
    se = math.sqrt((b + c) - (c - b) ** 2 / n) / n
    assert large.low == pytest.approx(0.25 - Z95 * se, abs=0.01)
    assert large.high == pytest.approx(0.25 + Z95 * se, abs=0.01)


def test_paired_difference_interval_is_antisymmetric_when_sides_swap() -> None:
    forward = paired_difference_interval(12, 3, 9, 6)
    backward = paired_difference_interval(12, 9, 3, 6)
    assert forward.estimate == pytest.approx(-backward.estimate)
    assert forward.low == pytest.approx(-backward.high)
    assert forward.high == pytest.approx(-backward.low)


@given(st.tuples(*(st.integers(0, 40) for _ in range(4))).filter(lambda t: sum(t) > 0))
def test_paired_difference_interval_stays_in_range(table: tuple[int, int, int, int]) -> None:
    interval = paired_difference_interval(*table)
    assert -1.0 <= interval.low <= interval.estimate <= interval.high <= 1.0


def test_percentiles_match_numpy_and_handle_empty() -> None:
    values = [120.0, 80.0, 300.0, 95.0, 101.0, 99.0, 1000.0]
    assert p50(values) == pytest.approx(float(np.percentile(values, 50)))
    assert p95(values) == pytest.approx(float(np.percentile(values, 95)))
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0


def test_rows_needed_follows_connor_formula() -> None:
    z_alpha, z_beta = NormalDist().inv_cdf(0.975), NormalDist().inv_cdf(0.8)
    psi, delta = 0.2, 0.1
    expected = math.ceil((z_alpha * math.sqrt(psi) + z_beta * math.sqrt(psi - delta**2)) ** 2 / delta**2)
    assert rows_needed(0.6, 0.7, 0.2) == expected == 155
    assert rows_needed(0.6, 0.7, 0.2, power=0.9) > 155
    assert rows_needed(0.5, 0.5, 0.3) is None


# --- compare_variants ----------------------------------------------------------------------------


def outcomes(passes: list[bool], scores: list[float] | None = None, latency: float | None = None) -> list[Outcome]:
    scores = scores or [1.0 if p else 0.0 for p in passes]
    return [
        Outcome(key=i, passed=p, score=s, latency_ms=latency, cost=0.001, tokens=10)
        for i, (p, s) in enumerate(zip(passes, scores, strict=True))
    ]


def test_compare_variants_names_a_significant_winner() -> None:
    control = outcomes([True] * 10 + [False] * 30)
    variant = outcomes([True] * 35 + [False] * 5)
    result = compare_variants(control, {"B": variant})
    (b,) = result.variants
    assert (b.both_pass, b.control_only, b.variant_only, b.neither) == (10, 0, 25, 5)
    assert b.p_pass == pytest.approx(stats.binomtest(0, 25, 0.5).pvalue)
    assert b.p_pass_adjusted == b.p_pass
    assert b.significant and b.direction == "better"
    assert result.significant and result.winner == "B"
    assert result.verdict.startswith("B is better than control: pass rate 88% vs 25%")
    assert b.summary.pass_rate.estimate == pytest.approx(35 / 40)
    assert result.control.total_cost == pytest.approx(0.04)
    assert result.control.total_tokens == 400


def test_compare_variants_without_a_significant_difference_has_no_winner_and_estimates_rows() -> None:
    rng = random.Random(3)
    control_passes = [rng.random() < 0.6 for _ in range(40)]
    variant_passes = list(control_passes)
    # Four discordant pairs each way plus two more favouring the variant: a small, unproven gain.
    flips = [i for i, p in enumerate(control_passes) if not p][:6]
    for i in flips:
        variant_passes[i] = True
    drops = [i for i, p in enumerate(control_passes) if p][:4]
    for i in drops:
        variant_passes[i] = False
    result = compare_variants(outcomes(control_passes), {"B": outcomes(variant_passes)})
    (b,) = result.variants
    assert (b.control_only, b.variant_only) == (4, 6)
    assert not result.significant
    assert result.winner is None
    assert b.rows_needed == rows_needed((b.both_pass + 4) / 40, (b.both_pass + 6) / 40, 10 / 40)
    assert b.more_rows_needed == b.rows_needed - 40
    assert result.verdict.startswith("No significant difference (pass rate")
    assert f"p = {b.p_pass:.2f}" in result.verdict
    assert "more rows would be needed to detect a difference this size" in result.verdict


def test_compare_variants_with_identical_results_says_more_rows_would_not_help() -> None:
    passes = [True, False] * 10
    result = compare_variants(outcomes(passes), {"B": outcomes(passes)})
    assert result.variants[0].rows_needed is None
    assert result.variants[0].p_pass == 1.0
    assert "would not be expected to show a difference" in result.verdict


def test_compare_variants_applies_holm_across_three_variants() -> None:
    control = outcomes([False] * 30)
    variants = {
        "B": outcomes([True] * 8 + [False] * 22),
        "C": outcomes([True] * 3 + [False] * 27),
        "D": outcomes([True] * 20 + [False] * 10),
    }
    result = compare_variants(control, variants)
    raw = [stats.binomtest(0, n, 0.5).pvalue for n in (8, 3, 20)]
    assert [v.p_pass for v in result.variants] == pytest.approx(raw)
    assert [v.p_pass_adjusted for v in result.variants] == pytest.approx(holm(raw))
    assert result.winner == "D"
    assert "Holm-adjusted" in result.verdict
    assert any("Holm" in note for note in result.notes)


def test_compare_variants_names_the_control_when_every_variant_is_worse() -> None:
    control = outcomes([True] * 30)
    result = compare_variants(control, {"B": outcomes([False] * 30)})
    assert result.winner == "control"
    assert result.variants[0].direction == "worse"


def test_compare_variants_pairs_on_keys_and_notes_unmatched_rows() -> None:
    control = outcomes([True, False, True, True])
    variant = [Outcome(key=k, passed=True, score=1.0) for k in (1, 2, 9)]
    result = compare_variants(control, {"B": variant})
    assert result.variants[0].n_pairs == 2
    assert result.variants[0].summary.n == 3
    assert any("unmatched" in note for note in result.notes)


def test_compare_variants_score_endpoint_uses_wilcoxon() -> None:
    rng = random.Random(11)
    control_scores = [rng.uniform(0.2, 0.6) for _ in range(30)]
    variant_scores = [s + rng.uniform(0.1, 0.3) for s in control_scores]
    control = outcomes([True] * 30, control_scores)
    variant = outcomes([True] * 30, variant_scores)
    result = compare_variants(control, {"B": variant}, primary="score")
    (b,) = result.variants
    assert b.p_score == pytest.approx(stats.wilcoxon(variant_scores, control_scores).pvalue)
    assert b.rank_biserial == 1.0
    assert b.significant and result.winner == "B"


def test_compare_variants_with_no_data_says_so() -> None:
    result = compare_variants([], {"B": []})
    assert result.winner is None
    assert "not enough data" in result.verdict
    assert result.control.pass_rate.estimate is None


def test_compare_variants_refuses_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="more than one outcome"):
        compare_variants([Outcome(1, True, 1.0), Outcome(1, False, 0.0)], {"B": []})


def test_compare_variants_converts_pairs_to_rows_with_repetitions() -> None:
    control = outcomes([True, False] * 20)
    variant_passes = [True, False] * 20
    for i in (1, 3, 5, 7):
        variant_passes[i] = True
    variant_passes[0] = False
    one = compare_variants(control, {"B": outcomes(variant_passes)})
    two = compare_variants(control, {"B": outcomes(variant_passes)}, pairs_per_row=2)
    more = one.variants[0].more_rows_needed
    assert more == 133
    assert "Roughly 140 more rows" in one.verdict  # 133 rounded up to two significant figures
    assert "Roughly 67 more rows" in two.verdict  # 133 pairs at two repetitions per row


def test_comparison_as_dict_is_json_ready() -> None:
    import json

    result = compare_variants(outcomes([True, False] * 5), {"B": outcomes([True] * 10)})
    json.dumps(result.as_dict(), allow_nan=False)
