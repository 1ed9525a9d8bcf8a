"""Statistics for A/B test results (DESIGN.md "Evaluation and statistics").

Everything that scipy provides comes from scipy; what it does not (Holm's step-down adjustment, the
Newcombe interval for a paired difference of proportions, Connor's sample-size formula) is written out
here with the reference next to it.

Building blocks
---------------
* ``wilson_interval(successes, n)``: a pass rate with its Wilson score interval (scipy ``binomtest``).
* ``mean_interval(values)``: a mean with its Student t interval (scipy ``ttest_1samp``).
* ``mcnemar_exact(b, c)``: McNemar's exact test on the discordant pairs (a two-sided binomial test).
* ``wilcoxon_signed_rank(x, y)``: Wilcoxon's signed-rank test on paired scores (scipy ``wilcoxon``).
* ``holm(p_values)``: Holm-Bonferroni adjusted p-values.
* ``paired_difference_interval(a, b, c, d)``: Newcombe's interval for the difference of paired proportions.
* ``rank_biserial(x, y)``: the matched-pairs rank-biserial correlation (Wilcoxon's effect size).
* ``percentile``/``p50``/``p95``: latency percentiles.
* ``rows_needed(...)``: pairs needed for McNemar to detect a difference (Connor 1987).

The result of an A/B test
-------------------------
``compare_variants(control_rows, {"B": rows, "C": rows})`` takes one ``Outcome`` per trial (its pairing
``key``, pass/fail, score in 0..1, and optionally latency, cost and tokens) and returns a ``Comparison``:
per-variant summaries, each variant against the control on the keys both have, p-values raw and
Holm-adjusted across the variants, effect sizes, ``significant``, a ``winner`` only when significant,
and a plain-English ``verdict``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = [
    "MIN_WILCOXON_PAIRS",
    "Comparison",
    "Interval",
    "Outcome",
    "PairedTest",
    "VariantComparison",
    "VariantSummary",
    "compare_variants",
    "holm",
    "mcnemar_exact",
    "mean_interval",
    "p50",
    "p95",
    "paired_difference_interval",
    "percentile",
    "rank_biserial",
    "rows_needed",
    "wilcoxon_signed_rank",
    "wilson_interval",
]

# With five or fewer non-zero differences, the exact two-sided Wilcoxon p-value cannot go below
# 2 / 2**5 = 0.0625, so the test could never find anything at alpha = 0.05: report "not enough pairs".
MIN_WILCOXON_PAIRS = 6

NO_DISCORDANT_PAIRS = "no discordant pairs: both variants passed and failed on exactly the same rows"
NOT_ENOUGH_PAIRS = "not enough pairs: {n} non-zero score differences (the test needs at least {minimum})"
ALL_DIFFERENCES_ZERO = "not enough pairs: every paired score difference is zero"
NO_PAIRS = "no pairs: no row was scored by both variants"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval. ``estimate`` is None when there is no data."""

    estimate: float | None
    low: float | None
    high: float | None
    confidence: float = 0.95

    def contains(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high


@dataclass(frozen=True)
class PairedTest:
    """The outcome of a paired test. ``p_value`` is None when the test could not be run (see ``note``)."""

    name: str
    n: int
    statistic: float | None
    p_value: float | None
    note: str = ""

    @property
    def ran(self) -> bool:
        return self.p_value is not None


# --- intervals -----------------------------------------------------------------------------------


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1 (exclusive).")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """The pass rate ``successes / n`` with its Wilson score interval (no continuity correction).

    With ``n == 0`` nothing is known: the estimate is None and the interval is the whole of [0, 1].
    """
    _check_confidence(confidence)
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}.")
    if n == 0:
        return Interval(None, 0.0, 1.0, confidence)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high), confidence)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The mean of ``values`` with its Student t interval.

    No values: everything None. One value: the mean with no interval (None, None). Identical values:
    a zero-width interval at the mean (scipy would give NaN there).
    """
    _check_confidence(confidence)
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(None, None, None, confidence)
    mean = float(data.mean())
    if data.size == 1:
        return Interval(mean, None, None, confidence)
    if np.all(data == data[0]):
        return Interval(mean, mean, mean, confidence)
    ci = stats.ttest_1samp(data, 0.0).confidence_interval(confidence_level=confidence)
    return Interval(mean, float(ci.low), float(ci.high), confidence)


def paired_difference_interval(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> Interval:
    """Difference in pass rate (variant - control) on paired rows, with Newcombe's hybrid score interval.

    The 2x2 table of pairs: ``a`` both pass, ``b`` only the control passes, ``c`` only the variant passes,
    ``d`` neither. The difference is ``(c - b) / n``. The interval is method 10 of Newcombe (1998),
    "Improved confidence intervals for the difference between binomial proportions based on paired
    data", Statistics in Medicine 17:2635-2650: Wilson intervals for each rate, combined with the
    phi correlation of the pairs (phi = 0 when a margin is empty).
    """
    _check_confidence(confidence)
    n = a + b + c + d
    if min(a, b, c, d) < 0:
        raise ValueError("table counts must be non-negative.")
    if n == 0:
        return Interval(None, -1.0, 1.0, confidence)
    p_variant = (a + c) / n
    p_control = (a + b) / n
    w_variant = wilson_interval(a + c, n, confidence)
    w_control = wilson_interval(a + b, n, confidence)
    l1, u1 = float(w_variant.low or 0.0), float(w_variant.high or 1.0)
    l2, u2 = float(w_control.low or 0.0), float(w_control.high or 1.0)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denominator) if denominator else 0.0
    delta = p_variant - p_control
    low = delta - math.sqrt(
        max(0.0, (p_variant - l1) ** 2 - 2 * phi * (p_variant - l1) * (u2 - p_control) + (u2 - p_control) ** 2)
    )
    high = delta + math.sqrt(
        max(0.0, (u1 - p_variant) ** 2 - 2 * phi * (u1 - p_variant) * (p_control - l2) + (p_control - l2) ** 2)
    )
    return Interval(delta, max(-1.0, low), min(1.0, high), confidence)


# --- tests ---------------------------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> PairedTest:
    """McNemar's exact test: a two-sided binomial test of ``b`` against ``b + c`` discordant pairs at 1/2.

    ``b`` pairs passed only with the control, ``c`` only with the variant. With no discordant pair there
    is no evidence of a difference: p = 1.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative.")
    n = b + c
    if n == 0:
        return PairedTest("McNemar exact", 0, 0.0, 1.0, NO_DISCORDANT_PAIRS)
    result = stats.binomtest(b, n, 0.5, alternative="two-sided")
    return PairedTest("McNemar exact", n, float(min(b, c)), min(1.0, float(result.pvalue)))


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float]) -> PairedTest:
    """Wilcoxon's signed-rank test (two-sided) on paired scores ``x[i]`` vs ``y[i]``.

    Zero differences are dropped (``zero_method="wilcox"``, the textbook rule). When every difference
    is zero, or fewer than ``MIN_WILCOXON_PAIRS`` are not, the test is not run: ``p_value`` is None and
    ``note`` says why. ``n`` is the number of non-zero differences.
    """
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length ({len(x)} and {len(y)}).")
    diffs = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    nonzero = int(np.count_nonzero(diffs))
    if len(diffs) == 0:
        return PairedTest("Wilcoxon signed-rank", 0, None, None, NO_PAIRS)
    if nonzero == 0:
        return PairedTest("Wilcoxon signed-rank", 0, None, None, ALL_DIFFERENCES_ZERO)
    if nonzero < MIN_WILCOXON_PAIRS:
        return PairedTest(
            "Wilcoxon signed-rank", nonzero, None, None, NOT_ENOUGH_PAIRS.format(n=nonzero, minimum=MIN_WILCOXON_PAIRS)
        )
    result = stats.wilcoxon(diffs[diffs != 0], zero_method="wilcox", alternative="two-sided")
    return PairedTest("Wilcoxon signed-rank", nonzero, float(result.statistic), min(1.0, float(result.pvalue)))


def rank_biserial(x: Sequence[float], y: Sequence[float]) -> float | None:
    """The matched-pairs rank-biserial correlation of ``x - y`` (Kerby 2014), in -1..1.

    ``(R+ - R-) / (R+ + R-)`` where R+ and R- are the sums of the ranks of |difference| (average ranks
    for ties, zero differences dropped) over the positive and the negative differences. Positive means
    ``x`` tends to be larger. None when every difference is zero.
    """
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length ({len(x)} and {len(y)}).")
    diffs = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    diffs = diffs[diffs != 0]
    if diffs.size == 0:
        return None
    ranks = stats.rankdata(np.abs(diffs))
    positive = float(ranks[diffs > 0].sum())
    negative = float(ranks[diffs < 0].sum())
    return (positive - negative) / (positive + negative)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Sort ascending; the i-th smallest (i = 0..m-1) becomes ``(m - i) * p``, then a running maximum makes
    the adjusted values monotone, capped at 1 (Holm 1979). scipy has no Holm adjustment
    (``scipy.stats.false_discovery_control`` is Benjamini-Hochberg), hence these few lines.
    """
    m = len(p_values)
    for p in p_values:
        if not 0.0 <= p <= 1.0 or math.isnan(p):
            raise ValueError(f"p-values must be in [0, 1], got {p}.")
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


# --- descriptive ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100, linear interpolation as numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100.")
    data = [v for v in values if v is not None]
    if not data:
        return None
    return float(np.percentile(np.asarray(data, dtype=float), q))


def p50(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def p95(values: Sequence[float]) -> float | None:
    return percentile(values, 95)


# --- sample size ---------------------------------------------------------------------------------


def rows_needed(
    p_control: float, p_variant: float, discordant_rate: float, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Roughly how many pairs McNemar's test needs to detect ``p_variant - p_control`` (Connor 1987).

    Connor, R. J. (1987), "Sample size for testing differences in proportions for the paired-sample
    design", Biometrics 43:207-211::

        n = ( z(1 - alpha/2) * sqrt(psi) + z(power) * sqrt(psi - delta**2) )**2 / delta**2

    with ``delta = p_variant - p_control`` (for paired data, the difference of the two discordant
    proportions) and ``psi`` the share of pairs that are discordant. It is an approximation for
    planning, not an exact power calculation. None when there is no difference to detect; the
    discordant rate is raised to |delta| if it is smaller (it can't be, for a real table).
    """
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1 (exclusive).")
    delta = p_variant - p_control
    if delta == 0 or math.isnan(delta):
        return None
    psi = max(float(discordant_rate), abs(delta))
    z_alpha = float(stats.norm.ppf(1 - alpha / 2))
    z_beta = float(stats.norm.ppf(power))
    n = (z_alpha * math.sqrt(psi) + z_beta * math.sqrt(max(0.0, psi - delta**2))) ** 2 / delta**2
    return math.ceil(n - 1e-9)


# --- comparing variants --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One trial: ``key`` pairs it with the other variants' trials (e.g. ``(row_index, repetition)``).

    ``score`` is the weighted evaluator score in 0..1; ``passed`` whether it reached the threshold.
    """

    key: Hashable
    passed: bool
    score: float
    latency_ms: float | None = None
    cost: float | None = None
    tokens: int | None = None


@dataclass(frozen=True)
class VariantSummary:
    name: str
    n: int
    passes: int
    pass_rate: Interval
    mean_score: Interval
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    total_cost: float | None
    cost_per_call: float | None
    total_tokens: int | None


@dataclass(frozen=True)
class VariantComparison:
    """One variant against the control, on the keys both have."""

    name: str
    summary: VariantSummary
    n_pairs: int
    both_pass: int
    control_only: int
    variant_only: int
    neither: int
    pass_rate_difference: Interval
    mean_score_difference: float | None
    mcnemar: PairedTest
    wilcoxon: PairedTest
    rank_biserial: float | None
    p_pass: float
    p_pass_adjusted: float
    p_score: float | None
    p_score_adjusted: float | None
    significant: bool
    direction: Literal["better", "worse", "same"]
    rows_needed: int | None
    more_rows_needed: int | None
    verdict: str


@dataclass(frozen=True)
class Comparison:
    control: VariantSummary
    variants: list[VariantComparison]
    alpha: float
    primary: Literal["pass", "score"]
    significant: bool
    winner: str | None
    verdict: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (dataclasses turned into dicts)."""
        return asdict(self)


def _summarise(name: str, outcomes: Sequence[Outcome], confidence: float) -> VariantSummary:
    n = len(outcomes)
    passes = sum(1 for o in outcomes if o.passed)
    latencies = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    costs = [o.cost for o in outcomes if o.cost is not None]
    tokens = [o.tokens for o in outcomes if o.tokens is not None]
    total_cost = float(sum(costs)) if costs else None
    return VariantSummary(
        name=name,
        n=n,
        passes=passes,
        pass_rate=wilson_interval(passes, n, confidence),
        mean_score=mean_interval([o.score for o in outcomes], confidence),
        latency_p50_ms=p50(latencies),
        latency_p95_ms=p95(latencies),
        total_cost=total_cost,
        cost_per_call=total_cost / len(costs) if costs else None,
        total_tokens=int(sum(tokens)) if tokens else None,
    )


def _index(name: str, outcomes: Sequence[Outcome]) -> dict[Hashable, Outcome]:
    by_key: dict[Hashable, Outcome] = {}
    for outcome in outcomes:
        if outcome.key in by_key:
            raise ValueError(f"{name}: more than one outcome for key {outcome.key!r}.")
        by_key[outcome.key] = outcome
    return by_key


def format_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.0f}"


def _round_up(n: int) -> int:
    """Round a rough estimate up to two significant figures: 183 -> 190, 1234 -> 1300."""
    if n < 100:
        return n
    step = 10 ** (len(str(n)) - 2)
    return -(-n // step) * step


def compare_variants(
    control_rows: Sequence[Outcome],
    variant_rows: Mapping[str, Sequence[Outcome]],
    *,
    control_name: str = "control",
    alpha: float = 0.05,
    confidence: float = 0.95,
    power: float = 0.8,
    primary: Literal["pass", "score"] = "pass",
    pairs_per_row: int = 1,
) -> Comparison:
    """Compare each variant with the control on the keys both have.

    * pass/fail: McNemar's exact test; effect size = difference in pass rate with Newcombe's interval;
    * scores: Wilcoxon's signed-rank test; effect size = matched-pairs rank-biserial correlation;
    * p-values are Holm-adjusted across the variants (one family per test; with one variant the
      adjusted value equals the raw one);
    * ``significant`` uses the ``primary`` endpoint (``"pass"`` -> McNemar, ``"score"`` -> Wilcoxon)
      at ``alpha`` after adjustment;
    * ``winner``: the significantly better variant with the largest gain over the control, or the
      control when every variant is significantly worse; otherwise None;
    * ``rows_needed`` (Connor 1987) estimates the pairs needed to detect the observed pass-rate
      difference; ``pairs_per_row`` (repetitions per row, when keys are ``(row, repetition)``) turns
      pairs into rows for the verdict.
    """
    if not variant_rows:
        raise ValueError("compare_variants needs at least one variant besides the control.")
    if control_name in variant_rows:
        raise ValueError(f"a variant is named like the control ({control_name!r}).")
    if pairs_per_row < 1:
        raise ValueError("pairs_per_row must be at least 1.")
    control_by_key = _index(control_name, control_rows)
    control_summary = _summarise(control_name, control_rows, confidence)

    raw: list[dict[str, Any]] = []
    for name, outcomes in variant_rows.items():
        by_key = _index(name, outcomes)
        keys = [k for k in control_by_key if k in by_key]
        a = b = c = d = 0
        for k in keys:
            control_pass, variant_pass = control_by_key[k].passed, by_key[k].passed
            if control_pass and variant_pass:
                a += 1
            elif control_pass:
                b += 1
            elif variant_pass:
                c += 1
            else:
                d += 1
        variant_scores = [by_key[k].score for k in keys]
        control_scores = [control_by_key[k].score for k in keys]
        raw.append(
            {
                "name": name,
                "summary": _summarise(name, outcomes, confidence),
                "n_pairs": len(keys),
                "table": (a, b, c, d),
                "mcnemar": mcnemar_exact(b, c),
                "wilcoxon": wilcoxon_signed_rank(variant_scores, control_scores),
                "rank_biserial": rank_biserial(variant_scores, control_scores),
                "score_diff": float(np.mean(variant_scores) - np.mean(control_scores)) if keys else None,
            }
        )

    pass_adjusted = holm([float(r["mcnemar"].p_value) for r in raw])
    ran = [i for i, r in enumerate(raw) if r["wilcoxon"].ran]
    score_adjusted_list = holm([float(raw[i]["wilcoxon"].p_value) for i in ran])
    score_adjusted: dict[int, float] = dict(zip(ran, score_adjusted_list, strict=True))

    comparisons: list[VariantComparison] = []
    for i, r in enumerate(raw):
        a, b, c, d = r["table"]
        n_pairs = r["n_pairs"]
        difference = paired_difference_interval(a, b, c, d, confidence)
        p_pass_adj = pass_adjusted[i]
        p_score_adj = score_adjusted.get(i)
        if primary == "pass":
            p_primary: float | None = p_pass_adj
            effect = (c - b) / n_pairs if n_pairs else 0.0
        else:
            p_primary = p_score_adj
            effect = r["score_diff"] or 0.0
        significant = p_primary is not None and p_primary < alpha and effect != 0
        direction: Literal["better", "worse", "same"] = "better" if effect > 0 else "worse" if effect < 0 else "same"
        needed = None
        if n_pairs:
            needed = rows_needed((a + b) / n_pairs, (a + c) / n_pairs, (b + c) / n_pairs, alpha=alpha, power=power)
        more = None if needed is None else max(0, needed - n_pairs)
        comparison = VariantComparison(
            name=r["name"],
            summary=r["summary"],
            n_pairs=n_pairs,
            both_pass=a,
            control_only=b,
            variant_only=c,
            neither=d,
            pass_rate_difference=difference,
            mean_score_difference=r["score_diff"],
            mcnemar=r["mcnemar"],
            wilcoxon=r["wilcoxon"],
            rank_biserial=r["rank_biserial"],
            p_pass=float(r["mcnemar"].p_value),
            p_pass_adjusted=p_pass_adj,
            p_score=r["wilcoxon"].p_value,
            p_score_adjusted=p_score_adj,
            significant=significant,
            direction=direction,
            rows_needed=needed,
            more_rows_needed=more,
            verdict="",
        )
        verdict = _variant_verdict(comparison, control_name, primary, len(raw) > 1, pairs_per_row)
        comparisons.append(_replace_verdict(comparison, verdict))

    better = [v for v in comparisons if v.significant and v.direction == "better"]
    winner: str | None = None
    if better:
        key = (
            (lambda v: v.pass_rate_difference.estimate or 0.0)
            if primary == "pass"
            else (lambda v: v.mean_score_difference or 0.0)
        )
        winner = max(better, key=key).name
    elif all(v.significant and v.direction == "worse" for v in comparisons):
        winner = control_name

    notes = []
    if len(comparisons) > 1:
        notes.append(f"p-values are Holm-adjusted for {len(comparisons)} comparisons with the control.")
    unpaired = [v.name for v in comparisons if v.n_pairs < min(len(control_rows), v.summary.n)]
    if unpaired:
        notes.append("Only rows scored by both sides are compared: " + ", ".join(unpaired) + " had unmatched rows.")

    return Comparison(
        control=control_summary,
        variants=comparisons,
        alpha=alpha,
        primary=primary,
        significant=any(v.significant for v in comparisons),
        winner=winner,
        verdict=_overall_verdict(comparisons, winner, control_name),
        notes=notes,
    )


def _replace_verdict(comparison: VariantComparison, verdict: str) -> VariantComparison:
    from dataclasses import replace

    return replace(comparison, verdict=verdict)


def _variant_verdict(v: VariantComparison, control_name: str, primary: str, adjusted: bool, pairs_per_row: int) -> str:
    if v.n_pairs == 0:
        return f"{v.name}: not enough data, no row was scored by both {v.name} and {control_name}."
    p = v.p_pass_adjusted if primary == "pass" else v.p_score_adjusted
    p_label = f"p = {format_p(p)}" if p is None or p >= 0.001 else f"p {format_p(p)}"
    if adjusted:
        p_label += ", Holm-adjusted"
    control_rate = (v.both_pass + v.control_only) / v.n_pairs
    variant_rate = (v.both_pass + v.variant_only) / v.n_pairs
    rates = f"pass rate {_percent(variant_rate)} vs {_percent(control_rate)}"
    if v.significant:
        diff = v.pass_rate_difference
        if primary == "pass":
            effect = f"{_points(diff.estimate)} points, {round(diff.confidence * 100)}% CI {_points(diff.low)} to {_points(diff.high)}"
        else:
            effect = f"mean score {v.mean_score_difference:+.2f}, rank-biserial {v.rank_biserial or 0:+.2f}"
        relation = "better" if v.direction == "better" else "worse"
        return f"{v.name} is {relation} than {control_name}: {rates} ({effect}; {p_label})."
    if primary == "score" and p is None:
        return f"{v.name}: no significant difference in scores ({v.wilcoxon.note})."
    sentence = f"{v.name}: no significant difference from {control_name} ({rates}; {p_label})."
    if v.more_rows_needed is None:
        if primary == "pass":
            sentence += " Both passed the same share of rows, so more rows would not be expected to show a difference."
        return sentence
    if v.more_rows_needed == 0:
        return sentence + " The sample is already about as large as a difference this size needs; it may be chance."
    rows = math.ceil(v.more_rows_needed / pairs_per_row)
    return sentence + f" Roughly {_round_up(rows)} more rows would be needed to detect a difference this size."


def _overall_verdict(comparisons: list[VariantComparison], winner: str | None, control_name: str) -> str:
    if len(comparisons) == 1:
        v = comparisons[0]
        if not v.significant and v.n_pairs:
            # "No significant difference (p = 0.41). Roughly 180 more rows ..." for the common two-variant case.
            return v.verdict.replace(
                f"{v.name}: no significant difference from {control_name}", "No significant difference", 1
            )
        return v.verdict
    if winner == control_name:
        return f"{control_name} is best: every variant is significantly worse."
    if winner is not None:
        lines = [f"{winner} wins."]
    else:
        lines = (
            ["No variant is significantly different from the control."]
            if not any(v.significant for v in comparisons)
            else ["No single winner."]
        )
    lines.extend(v.verdict for v in comparisons)
    return " ".join(lines)
