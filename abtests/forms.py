"""Form input for the dataset and A/B test pages: clean what was typed, keep it all for re-display.

The pages post plain HTML forms. These helpers turn the posted fields into the values the services
take and, when something is wrong, keep every typed value so the page can show it again with the
error next to the field. Business rules stay in ``abtests.services``; here are only shape checks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.http import QueryDict

from abtests.datasets import DatasetError, from_text
from abtests.evaluators import describe
from abtests.models import COLUMN_TYPES, MAX_VARIANTS, MIN_VARIANTS, Dataset
from abtests.services import MAX_CONCURRENCY, MAX_REPETITIONS

COLUMN_TYPE_LABELS = {
    "text": "Text",
    "number": "Number",
    "json": "JSON",
    "image": "Image",
    "audio": "Audio",
    "document": "PDF document",
}
NOT_A_NUMBER = "Enter a number."
NOT_A_WHOLE_NUMBER = "Enter a whole number."
NOT_JSON = "Not valid JSON: {error}"
BAD_TARGET = "Choose a model."
BAD_SOURCE = "Choose a prompt version or label."
TEMPERATURE_RANGE = "Temperature is a number from 0 to 2."
MAX_TOKENS_RANGE = "Max tokens is a whole number from 1 to 200000."
THRESHOLD_RANGE = "The pass threshold is a number from 0 to 1."
COST_CAP_INVALID = "The cost cap is an amount in USD, like 2.50 (leave it empty for no cap)."
TOO_MANY_VARIANTS = f"A test has at most {MAX_VARIANTS} variants."
EMPTY_COLUMN_ROW = "Give the column a name, or leave both empty."


# --- datasets --------------------------------------------------------------------------------------


class DatasetForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(
        required=False, max_length=2000, label="Description", widget=forms.Textarea(attrs={"rows": 2})
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="A .csv, .jsonl, or .zip (one CSV/JSONL file plus the images, audio or PDFs it names).",
    )
    name = forms.CharField(
        required=False, max_length=200, label="Dataset name", help_text="Leave empty to use the file name."
    )
    description = forms.CharField(
        required=False, max_length=2000, label="Description", widget=forms.Textarea(attrs={"rows": 2})
    )


def columns_from_post(data: QueryDict) -> list[dict[str, str]]:
    """The column rows as typed (``col_name``/``col_type`` lists); fully empty rows are dropped."""
    names = data.getlist("col_name")
    types = data.getlist("col_type")
    columns = []
    for index, name in enumerate(names):
        kind = types[index] if index < len(types) else "text"
        name = name.strip()
        if name:
            columns.append({"name": name, "type": kind if kind in COLUMN_TYPES else "text"})
    return columns


def row_values_from_post(
    data: QueryDict, columns: list[dict[str, str]], *, prefix: str = "cell-"
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(values for the service, errors by column, the raw text typed by column)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, str] = {}
    for column in columns:
        name, kind = column["name"], column["type"]
        text = data.get(prefix + name, "")
        raw[name] = text
        try:
            values[name] = from_text(kind, text, row=None, column=name)
        except DatasetError as exc:
            errors[name] = str(exc).split(": ", 1)[-1]
        if kind != "text" and values.get(name) == "":
            values[name] = None
    return values, errors, raw


def cell_text(kind: str, value: Any) -> str:
    """A stored cell as the text an input shows for editing."""
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and ("asset" in value or "url" in value):
        return str(value.get("asset") or value.get("url"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- the A/B test builder ----------------------------------------------------------------------------

EVALUATOR_TYPES = {spec["type"]: spec for spec in describe()}
COMMON_PARAMS = ("name", "weight", "negate")


@dataclass
class VariantInput:
    name: str = ""
    source: str = ""  # "version:<id>" or "label:<prompt id>:<label>"
    target: str = ""  # "<provider>|<model id>"
    temperature: str = ""
    max_tokens: str = ""
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)

    def as_service(self) -> dict[str, Any]:
        provider, _, model = self.target.partition("|")
        data: dict[str, Any] = {"name": self.name, "provider": provider, "model": model, "params": {}}
        kind, _, rest = self.source.partition(":")
        if kind == "version":
            data["prompt_version"] = rest
        elif kind == "label":
            prompt_id, _, label = rest.partition(":")
            data["prompt"], data["label"] = prompt_id, label
        if self.temperature.strip():
            data["params"]["temperature"] = float(self.temperature)
        if self.max_tokens.strip():
            data["params"]["max_tokens"] = int(self.max_tokens)
        return data


@dataclass
class EvaluatorInput:
    type: str = "contains"
    values: dict[str, Any] = field(default_factory=dict)  # raw text per param (bool: True/False)
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return EVALUATOR_TYPES.get(self.type) or EVALUATOR_TYPES["contains"]

    def fields(self) -> list[dict[str, Any]]:
        """The type's parameters with the typed value and any error, ready for the template."""
        out = []
        for param in self.spec["params"]:
            name = param["name"]
            value = self.values.get(name)
            if value is None:
                default = param.get("default")
                if param["kind"] == "bool":
                    value = bool(default)
                elif param["kind"] == "strings" and isinstance(default, list):
                    value = "\n".join(default)
                else:
                    value = "" if default is None else str(default)
            out.append(
                {**param, "value": value, "error": self.field_errors.get(name, ""), "common": name in COMMON_PARAMS}
            )
        return out

    def as_service(self) -> dict[str, Any]:
        """The config for ``validate_evaluators``; conversion problems land in ``field_errors``."""
        config: dict[str, Any] = {"type": self.type}
        for param in self.spec["params"]:
            name, kind = param["name"], param["kind"]
            value = self.values.get(name)
            if kind == "bool":
                config[name] = bool(value)
                continue
            text = (value or "").strip() if isinstance(value, str) else ""
            if kind == "string":
                if text or param["required"] or name == "name":
                    config[name] = value or ""
                continue
            if not text:
                continue
            if kind == "strings":
                config[name] = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif kind in ("number", "integer"):
                try:
                    number = float(text)
                except ValueError:
                    self.field_errors[name] = NOT_A_NUMBER
                    continue
                if kind == "integer":
                    if not number.is_integer():
                        self.field_errors[name] = NOT_A_WHOLE_NUMBER
                        continue
                    config[name] = int(number)
                else:
                    config[name] = number
            elif kind == "object":
                try:
                    config[name] = json.loads(text)
                except ValueError as exc:
                    self.field_errors[name] = NOT_JSON.format(error=exc)
            else:
                config[name] = text
        return config


@dataclass
class BuilderState:
    """Everything the builder form holds, as typed."""

    name: str = ""
    description: str = ""
    dataset: str = ""
    repetitions: str = "1"
    pass_threshold: str = "1"
    concurrency: str = "8"
    cost_cap: str = ""
    control: str = "0"
    variants: list[VariantInput] = field(default_factory=lambda: [VariantInput(name="A"), VariantInput(name="B")])
    evaluators: list[EvaluatorInput] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(
            self.errors
            or self.form_errors
            or any(v.errors or v.field_errors for v in self.variants)
            or any(e.errors or e.field_errors for e in self.evaluators)
        )

    @classmethod
    def from_post(cls, data: QueryDict) -> BuilderState:
        state = cls(
            name=data.get("name", ""),
            description=data.get("description", ""),
            dataset=data.get("dataset", ""),
            repetitions=data.get("repetitions", ""),
            pass_threshold=data.get("pass_threshold", ""),
            concurrency=data.get("concurrency", ""),
            cost_cap=data.get("cost_cap", ""),
            control=data.get("control", "0"),
            variants=[],
        )
        count = _int(data.get("variant_count"), 2)
        for i in range(min(count, MAX_VARIANTS)):
            state.variants.append(
                VariantInput(
                    name=data.get(f"v{i}-name", ""),
                    source=data.get(f"v{i}-source", ""),
                    target=data.get(f"v{i}-target", ""),
                    temperature=data.get(f"v{i}-temperature", ""),
                    max_tokens=data.get(f"v{i}-max_tokens", ""),
                )
            )
        for j in range(min(_int(data.get("evaluator_count"), 0), 20)):
            kind = data.get(f"e{j}-type", "contains")
            spec = EVALUATOR_TYPES.get(kind) or EVALUATOR_TYPES["contains"]
            values: dict[str, Any] = {}
            for param in spec["params"]:
                key = f"e{j}-{param['name']}"
                values[param["name"]] = key in data if param["kind"] == "bool" else data.get(key)
            state.evaluators.append(EvaluatorInput(type=spec["type"], values=values))
        return state

    @classmethod
    def from_test(cls, test: Any, variants: list[Any]) -> BuilderState:
        state = cls(
            name=test.name,
            description=test.description,
            dataset=str(test.dataset_id or ""),
            repetitions=str(test.repetitions),
            pass_threshold=f"{test.pass_threshold:g}",
            concurrency=str(test.concurrency),
            cost_cap="" if test.cost_cap is None else f"{test.cost_cap.normalize():f}",
            control=str(next((i for i, v in enumerate(variants) if v.pk == test.control_id), 0)),
            variants=[],
        )
        for v in variants:
            source = (
                f"version:{v.prompt_version_id}"
                if v.prompt_version_id and not v.label
                else f"label:{v.prompt_id}:{v.label}"
            )
            state.variants.append(
                VariantInput(
                    name=v.name,
                    source=source,
                    target=f"{v.provider}|{v.model}",
                    temperature="" if v.params.get("temperature") is None else f"{v.params['temperature']:g}",
                    max_tokens="" if v.params.get("max_tokens") is None else str(v.params["max_tokens"]),
                )
            )
        for config in test.evaluators:
            values: dict[str, Any] = {}
            spec = EVALUATOR_TYPES.get(config.get("type")) or EVALUATOR_TYPES["contains"]
            for param in spec["params"]:
                value = config.get(param["name"])
                if param["kind"] == "bool":
                    values[param["name"]] = bool(value)
                elif value is None:
                    values[param["name"]] = ""
                elif param["kind"] == "strings":
                    values[param["name"]] = "\n".join(value)
                elif param["kind"] == "object":
                    values[param["name"]] = json.dumps(value, indent=2)
                elif isinstance(value, float):
                    values[param["name"]] = f"{value:g}"
                else:
                    values[param["name"]] = str(value)
            state.evaluators.append(EvaluatorInput(type=spec["type"], values=values))
        return state

    # --- editing actions (add/remove rows without losing anything typed) ---
    def apply(self, action: str) -> None:
        kind, _, arg = action.partition(":")
        index = _int(arg, -1)
        if kind == "add-variant":
            if len(self.variants) < MAX_VARIANTS:
                self.variants.append(VariantInput(name=_next_name(self.variants)))
            else:
                self.form_errors.append(TOO_MANY_VARIANTS)
        elif kind == "remove-variant" and 0 <= index < len(self.variants) and len(self.variants) > MIN_VARIANTS:
            del self.variants[index]
            control = _int(self.control, 0)
            if control == index:
                self.control = "0"
            elif control > index:
                self.control = str(control - 1)
        elif kind == "add-evaluator":
            self.evaluators.append(EvaluatorInput(type=arg if arg in EVALUATOR_TYPES else "contains"))
        elif kind == "remove-evaluator" and 0 <= index < len(self.evaluators):
            del self.evaluators[index]

    # --- checking and converting ---
    def clean(self) -> dict[str, Any] | None:
        """The keyword arguments for ``abtest_create``/``abtest_update``, or None (errors set)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset,
            "control": self.control,
        }
        if not self.name.strip():
            self.errors["name"] = "A test needs a name."
        if not self.dataset:
            self.errors["dataset"] = "Choose a dataset."
        reps = _int(self.repetitions, None)
        if reps is None or not 1 <= reps <= MAX_REPETITIONS:
            self.errors["repetitions"] = f"Repetitions must be a whole number from 1 to {MAX_REPETITIONS}."
        out["repetitions"] = reps
        concurrency = _int(self.concurrency, None)
        if concurrency is None or not 1 <= concurrency <= MAX_CONCURRENCY:
            self.errors["concurrency"] = f"Concurrency must be a whole number from 1 to {MAX_CONCURRENCY}."
        out["concurrency"] = concurrency
        try:
            threshold = float(self.pass_threshold)
            if not 0 <= threshold <= 1:
                raise ValueError
            out["pass_threshold"] = threshold
        except ValueError:
            self.errors["pass_threshold"] = THRESHOLD_RANGE
        if self.cost_cap.strip():
            try:
                cap = Decimal(self.cost_cap.strip().lstrip("$"))
                if not cap.is_finite() or cap <= 0:
                    raise InvalidOperation
                out["cost_cap"] = cap
            except InvalidOperation:
                self.errors["cost_cap"] = COST_CAP_INVALID
        else:
            out["cost_cap"] = None
        variants = []
        for v in self.variants:
            if not v.name.strip():
                v.field_errors["name"] = "A variant needs a name."
            if not v.source:
                v.field_errors["source"] = BAD_SOURCE
            if "|" not in v.target:
                v.field_errors["target"] = BAD_TARGET
            if v.temperature.strip():
                try:
                    if not 0 <= float(v.temperature) <= 2:
                        raise ValueError
                except ValueError:
                    v.field_errors["temperature"] = TEMPERATURE_RANGE
            if v.max_tokens.strip():
                n = _int(v.max_tokens, None)
                if n is None or not 1 <= n <= 200_000:
                    v.field_errors["max_tokens"] = MAX_TOKENS_RANGE
            if not v.field_errors:
                variants.append(v.as_service())
        out["variants"] = variants
        out["evaluators"] = [e.as_service() for e in self.evaluators]
        return None if self.has_errors else out

    def place_error(self, field_name: str, message: str) -> None:
        """Put a service's refusal next to the field (or the variant/evaluator) it names."""
        if field_name == "evaluators" and "; evaluators[" in message:
            for part in message.split("; "):
                self.place_error(field_name, part)
            return
        found = re.match(r"variants\[(\d+)\]\s*(?:\([^)]*\))?:\s*(.*)", message)
        if found and int(found.group(1)) < len(self.variants):
            self.variants[int(found.group(1))].errors.append(found.group(2))
            return
        found = re.match(r"evaluators\[(\d+)\](?:\.(\w+))?:\s*(.*)", message)
        if found and int(found.group(1)) < len(self.evaluators):
            evaluator = self.evaluators[int(found.group(1))]
            if found.group(2) and found.group(2) in {p["name"] for p in evaluator.spec["params"]}:
                evaluator.field_errors[found.group(2)] = found.group(3)
            else:
                evaluator.errors.append(found.group(3) if not found.group(2) else f"{found.group(2)}: {found.group(3)}")
            return
        if field_name in ("name", "dataset", "repetitions", "pass_threshold", "concurrency", "cost_cap", "control"):
            self.errors[field_name] = message
        else:
            self.form_errors.append(message)


def _int(value: Any, default: Any) -> Any:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _next_name(variants: list[VariantInput]) -> str:
    taken = {v.name for v in variants}
    for i in range(26):
        name = chr(ord("A") + i)
        if name not in taken:
            return name
    return f"Variant {len(variants) + 1}"


def dataset_choices(datasets: list[Dataset]) -> list[tuple[str, str]]:
    return [(str(d.pk), f"{d.name} ({d.row_count} rows)") for d in datasets]
