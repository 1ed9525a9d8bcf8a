"""Evaluators: each type on examples, config validation messages, and properties with hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abtests.evaluators import (
    AT_LEAST_ONE_VALUE,
    DETAIL_NO_COST,
    DETAIL_NO_LATENCY,
    DETAIL_PENDING,
    DETAIL_REGEX_TIMEOUT,
    LENGTH_BOUNDS_REVERSED,
    MAX_EVALUATORS,
    REGISTRY,
    EvaluatorConfigError,
    describe,
    evaluate,
    is_deterministic,
    validate_evaluators,
    validate_threshold,
)


def run(config: dict[str, Any], output: str, **kwargs: Any) -> bool | None:
    (check,) = evaluate(validate_evaluators([config]), output, **kwargs).checks
    return check.passed


def errors_of(configs: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(EvaluatorConfigError) as info:
        validate_evaluators(configs, **kwargs)
    return info.value.errors


# --- each evaluator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "output", "expected"),
    [
        ({"type": "equals", "value": "Paris"}, "  Paris\n", True),
        ({"type": "equals", "value": "Paris"}, "paris", False),
        ({"type": "equals", "value": "Paris", "ignore_case": True}, "PARIS", True),
        ({"type": "equals", "value": "Paris", "strip": False}, "Paris ", False),
        ({"type": "contains", "value": "cat"}, "a black cat", True),
        ({"type": "contains", "value": "Cat"}, "a black cat", False),
        ({"type": "icontains", "value": "Cat"}, "a black CAT", True),
        ({"type": "starts-with", "value": "Answer:"}, "\n Answer: 4", True),
        ({"type": "starts-with", "value": "answer:"}, "Answer: 4", False),
        ({"type": "starts-with", "value": "answer:", "ignore_case": True}, "Answer: 4", True),
        ({"type": "contains-any", "values": ["dog", "cat"]}, "my cat", True),
        ({"type": "contains-any", "values": ["dog", "bird"]}, "my cat", False),
        ({"type": "contains-all", "values": ["red", "blue"]}, "red and blue", True),
        ({"type": "contains-all", "values": ["red", "green"]}, "red and blue", False),
        ({"type": "contains-all", "values": ["RED"], "ignore_case": True}, "red", True),
        ({"type": "regex", "pattern": r"^\d{3}-\d{4}$"}, "555-1234", True),
        ({"type": "regex", "pattern": r"^answer", "ignore_case": True, "multiline": True}, "x\nAnswer", True),
        ({"type": "regex", "pattern": r"a.b"}, "a\nb", False),
        ({"type": "regex", "pattern": r"a.b", "dotall": True}, "a\nb", True),
        ({"type": "is-json"}, ' {"a": [1, 2]} ', True),
        ({"type": "is-json"}, "{'a': 1}", False),
        ({"type": "json-schema", "schema": {"type": "object", "required": ["name"]}}, '{"name": "x"}', True),
        ({"type": "json-schema", "schema": {"type": "object", "required": ["name"]}}, '{"age": 3}', False),
        ({"type": "json-schema", "schema": {"type": "object"}}, "not json", False),
        ({"type": "length", "min_chars": 3, "max_chars": 5}, "abcd", True),
        ({"type": "length", "min_chars": 3}, "ab", False),
        ({"type": "length", "max_chars": 3}, " abc ", True),
    ],
)
def test_deterministic_evaluator(config: dict[str, Any], output: str, expected: bool) -> None:
    assert run(config, output) is expected


def test_latency_and_cost_thresholds() -> None:
    assert run({"type": "latency", "max_ms": 500}, "", latency_ms=499.0) is True
    assert run({"type": "latency", "max_ms": 500}, "", latency_ms=501.0) is False
    assert run({"type": "cost", "max_usd": 0.01}, "", cost=0.01) is True
    assert run({"type": "cost", "max_usd": 0.01}, "", cost=0.02) is False


def test_latency_and_cost_fail_clearly_when_not_recorded() -> None:
    result = evaluate(validate_evaluators([{"type": "latency", "max_ms": 5}, {"type": "cost", "max_usd": 1}]), "x")
    assert [c.detail for c in result.checks] == [DETAIL_NO_LATENCY, DETAIL_NO_COST]
    assert not result.passed


def test_json_schema_failure_names_the_path() -> None:
    configs = validate_evaluators(
        [{"type": "json-schema", "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}]
    )
    (check,) = evaluate(configs, '{"age": "old"}').checks
    assert check.detail == "age: 'old' is not of type 'integer'"


def test_values_use_row_variables() -> None:
    configs = validate_evaluators([{"type": "equals", "value": "{{ expected }}"}], variables={"expected"})
    assert evaluate(configs, "42", variables={"expected": 42}).passed
    assert not evaluate(configs, "41", variables={"expected": 42}).passed


def test_missing_row_variable_fails_the_check_with_a_detail() -> None:
    configs = validate_evaluators([{"type": "contains", "value": "{{ answer }}"}])
    (check,) = evaluate(configs, "anything", variables={}).checks
    assert check.passed is False
    assert check.detail == "the row has no value for answer"


def test_catastrophic_regex_is_stopped_by_the_timeout() -> None:
    configs = validate_evaluators([{"type": "regex", "pattern": "(?:a|aa)+b"}])
    # Without the timeout this backtracking pattern would run for ages on 90 "a"s; the detail proves
    # the regex engine's timeout stopped it (no wall-clock assertion: the machine's load varies).
    (check,) = evaluate(configs, "a" * 90).checks
    assert check.passed is False
    assert check.detail == DETAIL_REGEX_TIMEOUT


# --- weights, threshold, negation ----------------------------------------------------------------


def test_weighted_score_and_threshold() -> None:
    configs = validate_evaluators(
        [
            {"type": "contains", "value": "a", "weight": 3},
            {"type": "contains", "value": "zzz", "weight": 1},
        ]
    )
    result = evaluate(configs, "abc", threshold=0.75)
    assert result.score == pytest.approx(0.75)
    assert result.passed
    assert not evaluate(configs, "abc", threshold=0.8).passed
    assert evaluate([], "anything").score == 1.0


def test_negate_flips_the_outcome_and_says_so() -> None:
    configs = validate_evaluators([{"type": "contains", "value": "sorry", "negate": True}])
    (check,) = evaluate(configs, "I'm sorry, I can't").checks
    assert check.passed is False
    assert check.detail.startswith("negated: ")
    assert evaluate(configs, "Sure!").passed


# --- engine evaluators ---------------------------------------------------------------------------


JUDGE = {"type": "llm-judge", "rubric": "Is it polite?", "provider": "openai", "model": "gpt-4o-mini"}


def test_llm_judge_is_pending_until_the_engine_scores_it() -> None:
    configs = validate_evaluators([{"type": "contains", "value": "hi"}, JUDGE])
    assert configs[1]["pass_score"] == 4.0 and configs[1]["include_images"] is True
    pending = evaluate(configs, "hi there")
    assert pending.pending == [1]
    assert pending.checks[1].detail == DETAIL_PENDING
    assert pending.score == 1.0
    scored = evaluate(configs, "hi there", external={1: 3})
    assert scored.complete
    assert scored.checks[1].passed is False
    assert scored.checks[1].score == pytest.approx(0.5)
    assert scored.score == pytest.approx(0.75)


def test_human_review_config_shapes() -> None:
    rating, pairwise = validate_evaluators([{"type": "human", "mode": "rating"}, {"type": "human", "mode": "pairwise"}])
    assert rating["pass_score"] == 4.0
    assert pairwise["pass_score"] is None
    result = evaluate([rating, pairwise], "x", external={0: 5})
    assert result.checks[0].passed is True
    assert result.pending == []  # pairwise reviews are compared across variants, not per output
    assert errors_of([{"type": "human", "mode": "pairwise", "pass_score": 3}]) == [
        "evaluators[0].pass_score: pass_score applies to rating reviews only"
    ]
    assert errors_of([{"type": "human", "mode": "stars"}]) == ["evaluators[0].mode: must be one of pairwise, rating"]


def test_registry_marks_engine_evaluators() -> None:
    assert {t for t, cls in REGISTRY.items() if cls.needs_engine} == {"llm-judge", "human"}
    assert is_deterministic(validate_evaluators([{"type": "is-json"}]))
    assert not is_deterministic(validate_evaluators([JUDGE]))
    described = {d["type"]: d for d in describe()}
    assert set(described) == set(REGISTRY)
    assert "negate" not in [p["name"] for p in described["llm-judge"]["params"]]
    assert [p["name"] for p in described["regex"]["params"]][:3] == ["name", "weight", "negate"]


# --- validation messages -------------------------------------------------------------------------


def test_invalid_regex_names_the_evaluator_and_field() -> None:
    errors = errors_of([{"type": "is-json"}, {"type": "is-json"}, {"type": "regex", "pattern": "(unclosed"}])
    assert errors == ["evaluators[2].pattern: invalid regular expression: missing ) at position 9"]


def test_every_problem_is_listed_with_its_path() -> None:
    errors = errors_of(
        [
            {"type": "nope"},
            {"value": "x"},
            {"type": "contains"},
            {"type": "equals", "value": 3, "weight": 0},
            {"type": "length", "min_chars": 9, "max_chars": 2},
            {"type": "contains-any", "values": []},
            {"type": "llm-judge", "negate": True, "rubric": "r", "provider": "p", "model": "m"},
            {"type": "latency", "max_ms": -1, "colour": "red"},
            {"type": "json-schema", "schema": {"type": "no-such-type"}},
            "contains",
        ]
    )
    assert errors[0].startswith("evaluators[0].type: unknown evaluator type 'nope' (use equals, contains")
    assert errors[1:] == [
        "evaluators[1].type: type is required",
        "evaluators[2].value: is required",
        "evaluators[3].value: must be a string",
        f"evaluators[4].min_chars: {LENGTH_BOUNDS_REVERSED}",
        f"evaluators[5].values: {AT_LEAST_ONE_VALUE}",
        "evaluators[6].negate: llm-judge evaluators can't be negated",
        "evaluators[7].colour: unknown field",
        "evaluators[7].max_ms: must be between 0 and 3.6e+06",
        errors[9],
        "evaluators[9]: must be an object",
    ]
    assert errors[9].startswith("evaluators[8].schema: invalid JSON schema: ")


def test_weight_must_be_positive() -> None:
    assert errors_of([{"type": "is-json", "weight": 0}]) == [
        "evaluators[0].weight: must be a number greater than 0 and at most 1000"
    ]
    assert errors_of([{"type": "is-json", "weight": True}]) == ["evaluators[0].weight: must be a number"]


def test_unknown_variable_is_refused_when_columns_are_known() -> None:
    assert errors_of([{"type": "contains", "value": "{{ answr }}"}], variables={"answer", "question"}) == [
        "evaluators[0].value: unknown variable 'answr' (the dataset has answer, question)"
    ]


def test_list_shape_limits() -> None:
    assert errors_of({"type": "is-json"}) == ["evaluators: must be a list of evaluators"]
    assert errors_of([{"type": "is-json"}] * (MAX_EVALUATORS + 1)) == [
        f"evaluators: at most {MAX_EVALUATORS} evaluators"
    ]
    assert errors_of([{"type": "regex", "pattern": "a" * 501}]) == ["evaluators[0].pattern: at most 500 characters"]


def test_threshold_validation() -> None:
    assert validate_threshold(0.5) == 0.5
    for bad in (-0.1, 1.5, "0.5", True, None):
        with pytest.raises(EvaluatorConfigError):
            validate_threshold(bad)


# --- properties ----------------------------------------------------------------------------------

DETERMINISTIC = st.sampled_from(
    [
        {"type": "equals", "value": "yes"},
        {"type": "contains", "value": "a"},
        {"type": "icontains", "value": "A"},
        {"type": "regex", "pattern": r"\d+"},
        {"type": "starts-with", "value": "The"},
        {"type": "contains-any", "values": ["x", "y"]},
        {"type": "contains-all", "values": ["a", "b"]},
        {"type": "is-json"},
        {"type": "json-schema", "schema": {"type": "array"}},
        {"type": "length", "min_chars": 2, "max_chars": 10},
        {"type": "latency", "max_ms": 100},
        {"type": "cost", "max_usd": 0.5},
    ]
)


@given(DETERMINISTIC, st.text(max_size=200), st.floats(0, 500), st.floats(0, 1))
def test_negation_flips_pass(config: dict[str, Any], output: str, latency: float, cost: float) -> None:
    plain = run(config, output, latency_ms=latency, cost=cost)
    negated = run({**config, "negate": True}, output, latency_ms=latency, cost=cost)
    assert plain is not None
    assert negated is (not plain)


@given(st.text(max_size=500), st.booleans())
def test_contains_all_of_nothing_always_passes(output: str, ignore_case: bool) -> None:
    assert run({"type": "contains-all", "values": [], "ignore_case": ignore_case}, output) is True


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=150)
@given(st.text(min_size=1, max_size=40), st.text(max_size=300))
def test_regex_never_raises_on_arbitrary_patterns_and_text(pattern: str, output: str) -> None:
    try:
        configs = validate_evaluators([{"type": "regex", "pattern": pattern}])
    except EvaluatorConfigError as exc:
        assert exc.errors[0].startswith("evaluators[0].pattern: ")
        return
    (check,) = evaluate(configs, output).checks
    assert check.passed in (True, False)


@given(st.lists(st.tuples(DETERMINISTIC, st.floats(0.1, 10)), max_size=6), st.text(max_size=100))
def test_weighted_score_is_between_zero_and_one(configs: list[tuple[dict[str, Any], float]], output: str) -> None:
    validated = validate_evaluators([{**c, "weight": w} for c, w in configs])
    result = evaluate(validated, output, latency_ms=50, cost=0.1)
    assert 0.0 <= result.score <= 1.0
    assert result.passed == (result.score >= 1.0)


@given(st.text(max_size=100))
def test_contains_matches_python_substring(output: str) -> None:
    assert run({"type": "contains", "value": "ab"}, output) is ("ab" in output)
    assert run({"type": "icontains", "value": "ab"}, output) is ("ab" in output.casefold())
