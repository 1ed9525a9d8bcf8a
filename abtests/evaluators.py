"""Evaluators: how an A/B test decides whether one output passes (DESIGN.md "Evaluation and statistics").

A test carries a list of evaluator configs such as::

    [{"type": "contains", "value": "{{ expected }}", "weight": 2},
     {"type": "regex", "pattern": "^Answer:", "negate": true},
     {"type": "latency", "max_ms": 2000},
     {"type": "llm-judge", "rubric": "...", "provider": "openai", "model": "gpt-4o-mini", "pass_score": 4}]

* ``validate_evaluators(configs)`` checks them and returns the normalised list (defaults filled in), or
  raises ``EvaluatorConfigError`` whose ``errors`` name the exact place:
  ``evaluators[2].pattern: invalid regular expression: missing ), unterminated subpattern at position 0``.
* ``evaluate(configs, output, latency_ms, cost, variables, threshold=...)`` runs the deterministic ones
  and returns an ``EvaluationResult``: one ``Check`` per evaluator (pass, score 0..1, detail), the
  weighted score, and ``passed`` when the weighted score reaches the threshold.
* ``llm-judge`` and ``human`` are validated here but run by the engine (``needs_engine``): pass their
  scores to ``evaluate(..., external={index: score})``; until then their checks are ``pending``.

Every deterministic evaluator takes ``negate`` (flip the outcome) and ``weight`` (> 0). String values
may use the row's variables as ``{{ name }}``. Regular expressions run on the ``regex`` module with a
pattern length cap, bounded input and a timeout, so a catastrophic pattern can't hang a worker.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import regex
from jsonschema import Draft202012Validator
from jsonschema import exceptions as jsonschema_exceptions

__all__ = [
    "REGISTRY",
    "Check",
    "EvaluationResult",
    "EvaluatorConfigError",
    "describe",
    "evaluate",
    "validate_evaluators",
    "validate_threshold",
]

MAX_EVALUATORS = 20
MAX_PATTERN_LENGTH = 500
MAX_VALUE_LENGTH = 10_000
MAX_VALUES = 100
MAX_RUBRIC_LENGTH = 10_000
MAX_SCHEMA_BYTES = 50_000
MAX_WEIGHT = 1000.0
# Regular expressions see at most this much of the output and give up after this many seconds.
REGEX_INPUT_LIMIT = 100_000
REGEX_TIMEOUT_SECONDS = 0.25

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

# Messages (module constants so that tests and callers can match them).
NOT_A_LIST = "must be a list of evaluators"
TOO_MANY = f"at most {MAX_EVALUATORS} evaluators"
NOT_AN_OBJECT = "must be an object"
UNKNOWN_TYPE = "unknown evaluator type {type!r} (use {choices})"
MISSING_TYPE = "type is required"
REQUIRED = "is required"
UNKNOWN_FIELD = "unknown field"
NOT_A_STRING = "must be a string"
NOT_A_BOOLEAN = "must be true or false"
NOT_A_NUMBER = "must be a number"
NOT_A_LIST_OF_STRINGS = "must be a list of strings"
EMPTY_STRING = "must not be empty"
TOO_LONG = "at most {limit} characters"
TOO_MANY_VALUES = f"at most {MAX_VALUES} values"
AT_LEAST_ONE_VALUE = "give at least one value"
OUT_OF_RANGE = "must be between {low} and {high}"
BAD_WEIGHT = f"must be a number greater than 0 and at most {MAX_WEIGHT:g}"
BAD_REGEX = "invalid regular expression: {error}"
BAD_SCHEMA = "invalid JSON schema: {error}"
SCHEMA_TOO_LARGE = f"the schema is larger than {MAX_SCHEMA_BYTES // 1000} kB"
LENGTH_NEEDS_A_BOUND = "give min_chars, max_chars or both"
LENGTH_BOUNDS_REVERSED = "min_chars is greater than max_chars"
NOT_NEGATABLE = "{type} evaluators can't be negated"
BAD_CHOICE = "must be one of {choices}"
UNKNOWN_VARIABLE = "unknown variable {name!r} (the dataset has {available})"
BAD_THRESHOLD = "threshold must be a number between 0 and 1"
PASS_SCORE_NEEDS_RATING = "pass_score applies to rating reviews only"

# Check details.
DETAIL_NO_LATENCY = "no latency was recorded"
DETAIL_NO_COST = "no cost was recorded"
DETAIL_REGEX_TIMEOUT = f"the regular expression took longer than {REGEX_TIMEOUT_SECONDS:g} s and was stopped"
DETAIL_PENDING = "waiting for the run engine"
DETAIL_MISSING_VARIABLE = "the row has no value for {names}"


class EvaluatorConfigError(ValueError):
    """Invalid evaluator configuration; ``errors`` lists every problem as ``path: reason``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if errors else "invalid evaluator configuration")


class _Invalid(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        self.field_name = field_name
        self.reason = reason


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One configuration field of an evaluator (also describes the field to the page that edits it)."""

    name: str
    kind: str  # "string", "strings", "bool", "number", "integer", "object", "choice"
    required: bool = False
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = MAX_VALUE_LENGTH
    allow_empty: bool = True

    def clean(self, value: Any) -> Any:
        if self.kind == "string":
            if not isinstance(value, str):
                raise _Invalid(self.name, NOT_A_STRING)
            if not value and not self.allow_empty:
                raise _Invalid(self.name, EMPTY_STRING)
            if len(value) > self.max_length:
                raise _Invalid(self.name, TOO_LONG.format(limit=self.max_length))
            return value
        if self.kind == "strings":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _Invalid(self.name, NOT_A_LIST_OF_STRINGS)
            if len(value) > MAX_VALUES:
                raise _Invalid(self.name, TOO_MANY_VALUES)
            for i, item in enumerate(value):
                if len(item) > self.max_length:
                    raise _Invalid(f"{self.name}[{i}]", TOO_LONG.format(limit=self.max_length))
            return list(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise _Invalid(self.name, NOT_A_BOOLEAN)
            return value
        if self.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise _Invalid(self.name, NOT_A_NUMBER)
            if self.kind == "integer" and value != int(value):
                raise _Invalid(self.name, "must be a whole number")
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise _Invalid(self.name, OUT_OF_RANGE.format(low=_fmt(self.low), high=_fmt(self.high)))
            return int(value) if self.kind == "integer" else float(value)
        if self.kind == "choice":
            if value not in self.choices:
                raise _Invalid(self.name, BAD_CHOICE.format(choices=", ".join(self.choices)))
            return value
        if self.kind == "object":
            if not isinstance(value, dict):
                raise _Invalid(self.name, NOT_AN_OBJECT)
            return value
        raise AssertionError(f"unknown parameter kind {self.kind}")

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "required": self.required, "help": self.help}
        if not self.required:
            data["default"] = self.default
        if self.choices:
            data["choices"] = list(self.choices)
        if self.low is not None:
            data["min"] = self.low
        if self.high is not None:
            data["max"] = self.high
        return data


def _fmt(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"


NEGATE = Param("negate", "bool", default=False, help="Pass when the check fails, and the other way round.")
WEIGHT = Param("weight", "number", default=1.0, help="Share of the weighted score.")
LABEL = Param("name", "string", default="", max_length=100, help="A label shown in the results.")
IGNORE_CASE = Param("ignore_case", "bool", default=False, help="Compare without regard to letter case.")


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One evaluator's verdict on one output. ``passed`` is None while it is pending (engine evaluators)."""

    index: int
    type: str
    name: str
    passed: bool | None
    score: float | None
    weight: float
    detail: str = ""

    @property
    def pending(self) -> bool:
        return self.passed is None


@dataclass(frozen=True)
class EvaluationResult:
    """All checks of one output. ``score`` is the weighted mean over the finished checks (1.0 when none)."""

    checks: list[Check]
    score: float
    threshold: float
    passed: bool
    pending: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.pending

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "threshold": self.threshold,
            "passed": self.passed,
            "pending": list(self.pending),
            "checks": [
                {
                    "index": c.index,
                    "type": c.type,
                    "name": c.name,
                    "passed": c.passed,
                    "score": c.score,
                    "weight": c.weight,
                    "detail": c.detail,
                }
                for c in self.checks
            ],
        }


@dataclass(frozen=True)
class Context:
    output: str
    latency_ms: float | None
    cost: float | None
    variables: Mapping[str, Any]


# --- evaluators ----------------------------------------------------------------------------------


class MissingVariables(Exception):
    def __init__(self, names: list[str]) -> None:
        self.names = names


def _variable_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def substitute(text: str, variables: Mapping[str, Any]) -> str:
    """Replace ``{{ name }}`` with the row's value; raise MissingVariables for names the row lacks."""
    missing = [m.group(1) for m in PLACEHOLDER_RE.finditer(text) if m.group(1) not in variables]
    if missing:
        raise MissingVariables(sorted(set(missing)))
    return PLACEHOLDER_RE.sub(lambda m: _variable_text(variables[m.group(1)]), text)


class Evaluator:
    """Base class: subclasses declare ``type``, ``label``, ``params`` and implement ``check``."""

    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    negatable: ClassVar[bool] = True
    needs_engine: ClassVar[bool] = False
    # Parameters whose strings may contain {{ variables }}.
    templated: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    @classmethod
    def all_params(cls) -> tuple[Param, ...]:
        common = (LABEL, WEIGHT) + ((NEGATE,) if cls.negatable else ())
        return common + cls.params

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        """Cross-field checks after each field is valid; raise _Invalid."""

    def test(self, ctx: Context) -> tuple[bool, str]:
        """(passed before negation, detail)."""
        raise NotImplementedError

    def text_param(self, name: str, ctx: Context) -> str:
        value = self.config[name]
        return substitute(value, ctx.variables) if name in self.templated else str(value)

    def strings_param(self, name: str, ctx: Context) -> list[str]:
        values = self.config[name]
        return [substitute(v, ctx.variables) for v in values] if name in self.templated else list(values)


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Equals(Evaluator):
    type = "equals"
    label = "Equals"
    description = "The output equals the value (surrounding whitespace ignored unless strip is false)."
    params = (
        Param("value", "string", required=True, help="Expected output; may use {{ variables }}."),
        IGNORE_CASE,
        Param("strip", "bool", default=True, help="Ignore leading and trailing whitespace."),
    )
    templated = ("value",)

    def test(self, ctx: Context) -> tuple[bool, str]:
        expected, actual = self.text_param("value", ctx), ctx.output
        if self.config["strip"]:
            expected, actual = expected.strip(), actual.strip()
        ok = _fold(actual, self.config["ignore_case"]) == _fold(expected, self.config["ignore_case"])
        return ok, "output equals the value" if ok else f"output differs from {_short(expected)!r}"


class Contains(Evaluator):
    type = "contains"
    label = "Contains"
    description = "The output contains the value (case-sensitive)."
    params = (Param("value", "string", required=True, allow_empty=False, help="May use {{ variables }}."),)
    templated = ("value",)
    ignore_case: ClassVar[bool] = False

    def test(self, ctx: Context) -> tuple[bool, str]:
        needle = self.text_param("value", ctx)
        ok = _fold(needle, self.ignore_case) in _fold(ctx.output, self.ignore_case)
        return ok, f"{'found' if ok else 'did not find'} {_short(needle)!r}"


class IContains(Contains):
    type = "icontains"
    label = "Contains (any case)"
    description = "The output contains the value, ignoring letter case."
    ignore_case = True


class StartsWith(Evaluator):
    type = "starts-with"
    label = "Starts with"
    description = "The output starts with the value (leading whitespace ignored)."
    params = (Param("value", "string", required=True, allow_empty=False, help="May use {{ variables }}."), IGNORE_CASE)
    templated = ("value",)

    def test(self, ctx: Context) -> tuple[bool, str]:
        prefix = self.text_param("value", ctx)
        ignore = self.config["ignore_case"]
        ok = _fold(ctx.output.lstrip(), ignore).startswith(_fold(prefix, ignore))
        return ok, f"output {'starts' if ok else 'does not start'} with {_short(prefix)!r}"


class ContainsAny(Evaluator):
    type = "contains-any"
    label = "Contains any"
    description = "The output contains at least one of the values."
    params = (Param("values", "strings", required=True, help="May use {{ variables }}."), IGNORE_CASE)
    templated = ("values",)

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        if not config["values"]:
            raise _Invalid("values", AT_LEAST_ONE_VALUE)

    def test(self, ctx: Context) -> tuple[bool, str]:
        ignore = self.config["ignore_case"]
        haystack = _fold(ctx.output, ignore)
        found = [v for v in self.strings_param("values", ctx) if _fold(v, ignore) in haystack]
        return bool(found), f"found {_short(found[0])!r}" if found else "found none of the values"


class ContainsAll(Evaluator):
    type = "contains-all"
    label = "Contains all"
    description = "The output contains every one of the values (an empty list always passes)."
    params = (Param("values", "strings", required=True, help="May use {{ variables }}."), IGNORE_CASE)
    templated = ("values",)

    def test(self, ctx: Context) -> tuple[bool, str]:
        ignore = self.config["ignore_case"]
        haystack = _fold(ctx.output, ignore)
        missing = [v for v in self.strings_param("values", ctx) if _fold(v, ignore) not in haystack]
        return not missing, f"missing {_short(missing[0])!r}" if missing else "found every value"


class Regex(Evaluator):
    type = "regex"
    label = "Regular expression"
    description = "The regular expression matches somewhere in the output."
    params = (
        Param("pattern", "string", required=True, allow_empty=False, max_length=MAX_PATTERN_LENGTH),
        IGNORE_CASE,
        Param("multiline", "bool", default=False, help="^ and $ match at line breaks."),
        Param("dotall", "bool", default=False, help=". matches line breaks too."),
    )

    @staticmethod
    def flags(config: Mapping[str, Any]) -> int:
        flags = 0
        if config.get("ignore_case"):
            flags |= regex.IGNORECASE
        if config.get("multiline"):
            flags |= regex.MULTILINE
        if config.get("dotall"):
            flags |= regex.DOTALL
        return flags

    @classmethod
    def compile(cls, config: Mapping[str, Any]) -> Any:
        return regex.compile(config["pattern"], cls.flags(config) | regex.VERSION0)

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        try:
            cls.compile(config)
        except (regex.error, ValueError, OverflowError, RecursionError) as exc:
            raise _Invalid("pattern", BAD_REGEX.format(error=exc)) from None

    def test(self, ctx: Context) -> tuple[bool, str]:
        compiled = self.compile(self.config)
        try:
            match = compiled.search(ctx.output[:REGEX_INPUT_LIMIT], timeout=REGEX_TIMEOUT_SECONDS)
        except TimeoutError:
            return False, DETAIL_REGEX_TIMEOUT
        return match is not None, f"matched {_short(match.group(0))!r}" if match else "no match"


def _parse_json(text: str) -> tuple[bool, Any, str]:
    try:
        return True, json.loads(text), ""
    except (ValueError, RecursionError) as exc:
        return False, None, f"not JSON: {exc}"


class IsJson(Evaluator):
    type = "is-json"
    label = "Is JSON"
    description = "The whole output (surrounding whitespace ignored) is valid JSON."

    def test(self, ctx: Context) -> tuple[bool, str]:
        ok, _, error = _parse_json(ctx.output.strip())
        return ok, "valid JSON" if ok else error


class JsonSchema(Evaluator):
    type = "json-schema"
    label = "JSON schema"
    description = "The output is JSON that validates against the schema (JSON Schema draft 2020-12)."
    params = (Param("schema", "object", required=True, help="A JSON Schema document."),)

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        try:
            size = len(json.dumps(config["schema"]))
        except (TypeError, ValueError):
            raise _Invalid("schema", BAD_SCHEMA.format(error="not JSON data")) from None
        if size > MAX_SCHEMA_BYTES:
            raise _Invalid("schema", SCHEMA_TOO_LARGE)
        try:
            Draft202012Validator.check_schema(config["schema"])
        except jsonschema_exceptions.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            raise _Invalid(
                "schema", BAD_SCHEMA.format(error=f"{exc.message}" + (f" at {where}" if where else ""))
            ) from None

    def test(self, ctx: Context) -> tuple[bool, str]:
        ok, data, error = _parse_json(ctx.output.strip())
        if not ok:
            return False, error
        validator = Draft202012Validator(self.config["schema"])
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if not errors:
            return True, "matches the schema"
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return False, f"{where}: {first.message}"


class Length(Evaluator):
    type = "length"
    label = "Length"
    description = "The output has between min_chars and max_chars characters (surrounding whitespace ignored)."
    params = (
        Param("min_chars", "integer", default=None, low=0, high=10_000_000),
        Param("max_chars", "integer", default=None, low=0, high=10_000_000),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        low, high = config["min_chars"], config["max_chars"]
        if low is None and high is None:
            raise _Invalid("min_chars", LENGTH_NEEDS_A_BOUND)
        if low is not None and high is not None and low > high:
            raise _Invalid("min_chars", LENGTH_BOUNDS_REVERSED)

    def test(self, ctx: Context) -> tuple[bool, str]:
        n = len(ctx.output.strip())
        low, high = self.config["min_chars"], self.config["max_chars"]
        ok = (low is None or n >= low) and (high is None or n <= high)
        return ok, f"{n} characters"


class Latency(Evaluator):
    type = "latency"
    label = "Latency"
    description = "The call took at most max_ms milliseconds."
    params = (Param("max_ms", "number", required=True, low=0, high=3_600_000),)

    def test(self, ctx: Context) -> tuple[bool, str]:
        if ctx.latency_ms is None:
            return False, DETAIL_NO_LATENCY
        ok = ctx.latency_ms <= self.config["max_ms"]
        return ok, f"{ctx.latency_ms:.0f} ms (limit {self.config['max_ms']:g} ms)"


class Cost(Evaluator):
    type = "cost"
    label = "Cost"
    description = "The call cost at most max_usd US dollars."
    params = (Param("max_usd", "number", required=True, low=0, high=1000),)

    def test(self, ctx: Context) -> tuple[bool, str]:
        if ctx.cost is None:
            return False, DETAIL_NO_COST
        ok = ctx.cost <= self.config["max_usd"]
        return ok, f"${ctx.cost:.6f} (limit ${self.config['max_usd']:g})"


class LlmJudge(Evaluator):
    """A judge model scores the output 1-5 against a rubric; the engine calls it (with the row's images)."""

    type = "llm-judge"
    label = "LLM as judge"
    description = "A judge model scores the output from 1 to 5 against your rubric; it sees the row's images too."
    negatable = False
    needs_engine = True
    params = (
        Param("rubric", "string", required=True, allow_empty=False, max_length=MAX_RUBRIC_LENGTH),
        Param("provider", "string", required=True, allow_empty=False, max_length=50, help="Judge provider."),
        Param("model", "string", required=True, allow_empty=False, max_length=200, help="Judge model id."),
        Param("pass_score", "number", default=4.0, low=1, high=5, help="Lowest judge score (1-5) that passes."),
        Param("include_images", "bool", default=True, help="Send the row's images to the judge."),
    )
    templated = ("rubric",)
    scale = (1.0, 5.0)


class Human(Evaluator):
    """Human review: blind pairwise comparison, or a 1-5 rating per output. Collected on review pages."""

    type = "human"
    label = "Human review"
    description = "People review outputs: blind pairwise (A better / B better / tie) or a 1-5 rating."
    negatable = False
    needs_engine = True
    params = (
        Param("mode", "choice", required=True, choices=("pairwise", "rating")),
        Param("pass_score", "number", default=None, low=1, high=5, help="Rating mode: lowest rating that passes."),
    )
    scale = (1.0, 5.0)

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        if config["mode"] == "rating" and config["pass_score"] is None:
            config["pass_score"] = 4.0
        if config["mode"] == "pairwise" and config["pass_score"] is not None:
            raise _Invalid("pass_score", PASS_SCORE_NEEDS_RATING)


REGISTRY: dict[str, type[Evaluator]] = {
    cls.type: cls
    for cls in (
        Equals,
        Contains,
        IContains,
        Regex,
        StartsWith,
        ContainsAny,
        ContainsAll,
        IsJson,
        JsonSchema,
        Length,
        Latency,
        Cost,
        LlmJudge,
        Human,
    )
}


def describe() -> list[dict[str, Any]]:
    """Every evaluator type with its fields: what a page needs to build the evaluator editor."""
    return [
        {
            "type": cls.type,
            "label": cls.label,
            "description": cls.description,
            "negatable": cls.negatable,
            "needs_engine": cls.needs_engine,
            "params": [p.describe() for p in cls.all_params()],
        }
        for cls in REGISTRY.values()
    ]


# --- validation ----------------------------------------------------------------------------------


def _validate_one(raw: Any, path: str, variables: Collection[str] | None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise EvaluatorConfigError([f"{path}: {NOT_AN_OBJECT}"])
    kind = raw.get("type")
    if kind is None:
        raise EvaluatorConfigError([f"{path}.type: {MISSING_TYPE}"])
    cls = REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        message = UNKNOWN_TYPE.format(type=kind, choices=", ".join(REGISTRY))
        raise EvaluatorConfigError([f"{path}.type: {message}"])
    params = {p.name: p for p in cls.all_params()}
    errors: list[str] = []
    for key in raw:
        if key != "type" and key not in params:
            reason = NOT_NEGATABLE.format(type=kind) if key == "negate" else UNKNOWN_FIELD
            errors.append(f"{path}.{key}: {reason}")
    config: dict[str, Any] = {"type": kind}
    for name, param in params.items():
        if name not in raw or (raw[name] is None and not param.required):
            if param.required:
                errors.append(f"{path}.{name}: {REQUIRED}")
            else:
                config[name] = param.default
            continue
        try:
            config[name] = param.clean(raw[name])
        except _Invalid as exc:
            errors.append(f"{path}.{exc.field_name}: {exc.reason}")
    if "weight" in config and not errors and not 0 < config["weight"] <= MAX_WEIGHT:
        errors.append(f"{path}.weight: {BAD_WEIGHT}")
    if errors:
        raise EvaluatorConfigError(errors)
    try:
        cls.clean(config)
    except _Invalid as exc:
        raise EvaluatorConfigError([f"{path}.{exc.field_name}: {exc.reason}"]) from None
    if variables is not None:
        available = ", ".join(sorted(variables)) or "no columns"
        for name in cls.templated:
            values = config[name] if isinstance(config[name], list) else [config[name]]
            for value in values:
                for match in PLACEHOLDER_RE.finditer(value):
                    if match.group(1) not in variables:
                        message = UNKNOWN_VARIABLE.format(name=match.group(1), available=available)
                        raise EvaluatorConfigError([f"{path}.{name}: {message}"])
    return config


def validate_evaluators(
    configs: Any, *, variables: Collection[str] | None = None, path: str = "evaluators"
) -> list[dict[str, Any]]:
    """Check a list of evaluator configs; return it normalised (defaults filled in).

    ``variables``, when given (the dataset's column names), makes ``{{ name }}`` references to other
    names an error. Raises ``EvaluatorConfigError`` listing every problem with its path.
    """
    if not isinstance(configs, list):
        raise EvaluatorConfigError([f"{path}: {NOT_A_LIST}"])
    if len(configs) > MAX_EVALUATORS:
        raise EvaluatorConfigError([f"{path}: {TOO_MANY}"])
    cleaned: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, raw in enumerate(configs):
        try:
            cleaned.append(_validate_one(raw, f"{path}[{i}]", variables))
        except EvaluatorConfigError as exc:
            errors.extend(exc.errors)
    if errors:
        raise EvaluatorConfigError(errors)
    return cleaned


def validate_threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise EvaluatorConfigError([f"threshold: {BAD_THRESHOLD}"])
    return float(value)


# --- evaluation ----------------------------------------------------------------------------------


def judge_score_to_unit(score: float, scale: tuple[float, float] = (1.0, 5.0)) -> float:
    """A 1-5 judge or rating score as 0..1."""
    low, high = scale
    return min(1.0, max(0.0, (score - low) / (high - low)))


def _external_check(
    index: int, config: Mapping[str, Any], cls: type[Evaluator], name: str, weight: float, raw: float | None
) -> Check:
    if raw is None:
        return Check(index, cls.type, name, None, None, weight, DETAIL_PENDING)
    if cls is Human and config["mode"] == "pairwise":
        # Pairwise preferences are compared across variants, not per output: informational here.
        return Check(index, cls.type, name, None, None, weight, "pairwise reviews are compared across variants")
    pass_score = float(config["pass_score"])
    return Check(
        index,
        cls.type,
        name,
        raw >= pass_score,
        judge_score_to_unit(raw, cls.scale),  # type: ignore[attr-defined]
        weight,
        f"scored {raw:g} of 5 (passes at {pass_score:g})",
    )


def evaluate(
    configs: Sequence[Mapping[str, Any]],
    output: str,
    latency_ms: float | None = None,
    cost: float | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    threshold: float = 1.0,
    external: Mapping[int, float] | None = None,
) -> EvaluationResult:
    """Run the evaluators on one output.

    ``configs`` must come from ``validate_evaluators``. Each check scores 1 (pass) or 0 (fail) after
    negation; judge and rating checks score ``(score - 1) / 4`` from the 1-5 value the engine passes in
    ``external`` (keyed by evaluator index). The result's score is the weight-averaged score of the
    finished checks, and it passes when that reaches ``threshold``. With no finished check the score
    is 1.0 (nothing failed). A check that can't be computed (a missing variable) fails with a detail.
    """
    ctx = Context(
        output=output if isinstance(output, str) else str(output),
        latency_ms=latency_ms,
        cost=cost,
        variables=variables or {},
    )
    checks: list[Check] = []
    for index, config in enumerate(configs):
        cls = REGISTRY[config["type"]]
        name = config.get("name") or cls.label
        weight = float(config.get("weight", 1.0))
        if cls.needs_engine:
            raw = (external or {}).get(index)
            checks.append(_external_check(index, config, cls, name, weight, raw))
            continue
        try:
            passed, detail = cls(config).test(ctx)
        except MissingVariables as exc:
            passed, detail = False, DETAIL_MISSING_VARIABLE.format(names=", ".join(exc.names))
            checks.append(Check(index, cls.type, name, False, 0.0, weight, detail))
            continue
        if config.get("negate"):
            passed, detail = not passed, f"negated: {detail}"
        checks.append(Check(index, cls.type, name, passed, 1.0 if passed else 0.0, weight, detail))
    finished = [c for c in checks if c.score is not None]
    total_weight = sum(c.weight for c in finished)
    score = sum(c.weight * float(c.score) for c in finished) / total_weight if total_weight else 1.0
    score = round(score, 12)
    pending = [c.index for c in checks if c.pending and not _informational(c, configs)]
    return EvaluationResult(checks=checks, score=score, threshold=threshold, passed=score >= threshold, pending=pending)


def _informational(check: Check, configs: Sequence[Mapping[str, Any]]) -> bool:
    config = configs[check.index]
    return config["type"] == "human" and config["mode"] == "pairwise"


def evaluator_types() -> list[str]:
    return list(REGISTRY)


def is_deterministic(configs: Sequence[Mapping[str, Any]]) -> bool:
    """True when every evaluator runs without the engine (no judge, no human review)."""
    return not any(REGISTRY[c["type"]].needs_engine for c in configs)
