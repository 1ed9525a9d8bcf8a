"""promptfoo configs to and from a plain A/B test spec (and, through it, datasets and A/B tests).

A spec is plain data, the shape an A/B test is made from::

    {"name": ..., "description": ...,
     "prompts": [{"label": ..., "content": <prompt content document>}],
     "providers": [{"provider": "openai", "model": "gpt-4o-mini", "params": {...}, "label": ...}],
     "variants": [{"prompt": <index>, "provider": <index>}],   # promptfoo runs every prompt x provider
     "dataset": {"name": ..., "columns": [{"name", "type"}], "rows": [{...}]},
     "evaluators": [<abtests.evaluators configs>]}

``config_to_spec(config)`` and ``spec_to_config(spec)`` map one to one what both sides have:
prompts (plain text or OpenAI-style chat JSON, with ``{{ var }}`` variables and image parts), the
providers the studio supports (``openai:<model>``, ``openai:chat:<model>``, ``anthropic:messages:<model>``,
``mistral:<model>``, ``echo``) with their sampling settings, test vars (the dataset) and the assertion
types both have (equals, contains, icontains, regex, starts-with, contains-any/all, icontains-any/all,
is-json (+ schema), latency, cost, llm-rubric <-> llm-judge, each negatable with ``not-``). Whatever
cannot be mapped is returned in a report (where, what, why), never dropped silently.

Per-test assertions become evaluators too: an assertion every test has with the same value is one
evaluator; one every test has at the same place with different values becomes a dataset column
(``expected_<n>``) that the evaluator reads as ``{{ expected_<n> }}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from exports.formats import ImportRefused, dump_yaml

# promptfoo assertion type -> (studio type, the studio field its ``value`` goes to, extra config)
ASSERT_TO_STUDIO: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "equals": ("equals", "value", {}),
    "contains": ("contains", "value", {}),
    "icontains": ("icontains", "value", {}),
    "starts-with": ("starts-with", "value", {}),
    "regex": ("regex", "pattern", {}),
    "contains-any": ("contains-any", "values", {}),
    "contains-all": ("contains-all", "values", {}),
    "icontains-any": ("contains-any", "values", {"ignore_case": True}),
    "icontains-all": ("contains-all", "values", {"ignore_case": True}),
    "is-json": ("is-json", None, {}),
    "latency": ("latency", None, {}),
    "cost": ("cost", None, {}),
    "llm-rubric": ("llm-judge", "rubric", {}),
}
TEMPLATED = {"equals", "contains", "icontains", "starts-with"}  # studio evaluators whose value may use {{ var }}
PARAM_KEYS = ("temperature", "max_tokens", "top_p", "top_k", "seed", "stop", "response_format")
DEFAULT_JUDGE = ("openai", "gpt-4o-mini")
PROVIDER_PREFIXES = {
    "openai": "openai",
    "openai:chat": "openai",
    "anthropic": "anthropic",
    "anthropic:messages": "anthropic",
    "mistral": "mistral",
    "mistral:chat": "mistral",
}
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NUNJUCKS_LOGIC_RE = re.compile(r"\{%|\{\{[^}]*[|(.\[][^}]*\}\}")

NOT_A_CONFIG = "The promptfoo config must be a mapping with prompts, providers and tests."
NO_PROMPTS = "The config has no prompt the studio can use."
NO_PROVIDERS = "The config has no provider the studio supports (openai:, anthropic:messages:, mistral:, echo)."


@dataclass
class Report:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, where: str, what: str, reason: str) -> None:
        self.items.append({"where": where, "item": what, "reason": reason})

    def __bool__(self) -> bool:
        return bool(self.items)


# --- promptfoo -> spec -------------------------------------------------------------------------------


def _prompt_content(text: str, where: str, report: Report, media_vars: dict[str, str]) -> dict[str, Any] | None:
    """Neutral content from a promptfoo prompt (plain text, or OpenAI-style chat messages as JSON)."""
    if text.startswith("file://"):
        report.add(where, text, "prompts read from files are not supported; paste the prompt into the config")
        return None
    if NUNJUCKS_LOGIC_RE.search(text):
        report.add(where, text[:60], "template logic (filters, tags, attribute access) is not supported")
        return None
    messages: list[dict[str, Any]]
    stripped = text.strip()
    chat = None
    if stripped.startswith("["):
        try:
            chat = json.loads(stripped)
        except ValueError:
            chat = None
    if isinstance(chat, list) and all(isinstance(m, dict) and "role" in m for m in chat):
        messages = []
        for i, message in enumerate(chat):
            parts = _chat_parts(message.get("content"), f"{where}[{i}]", report, media_vars)
            if parts is None:
                return None
            messages.append({"role": message["role"], "content": parts})
    else:
        messages = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    variables = [{"name": name, "type": kind} for name, kind in media_vars.items() if _uses(messages, name)]
    return {"messages": messages, "variables": variables}


def _uses(messages: list[dict[str, Any]], name: str) -> bool:
    return any(p.get("variable") == name for m in messages for p in m["content"])


def _chat_parts(content: Any, where: str, report: Report, media_vars: dict[str, str]) -> list[dict[str, Any]] | None:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        report.add(where, repr(content)[:60], "message content must be text or a list of parts")
        return None
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            match = PLACEHOLDER_RE.fullmatch((url or "").strip())
            if match:
                media_vars[match.group(1)] = "image"
                parts.append({"type": "image", "variable": match.group(1)})
            elif isinstance(url, str) and url.startswith(("http://", "https://")):
                parts.append({"type": "image", "url": url})
            else:
                report.add(f"{where}.content[{j}]", str(url)[:60], "images must be a URL or a {{ variable }}")
                return None
        else:
            report.add(f"{where}.content[{j}]", str(kind), "only text and image_url parts are supported")
            return None
    return parts


def _provider(raw: Any, where: str, report: Report) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    label = ""
    if isinstance(raw, dict):
        ident = raw.get("id")
        config = raw.get("config") or {}
        label = str(raw.get("label") or "")
    else:
        ident = raw
    if not isinstance(ident, str):
        report.add(where, repr(raw)[:60], "a provider is an id such as openai:gpt-4o-mini")
        return None
    if ident == "echo":
        provider, model = "echo", "echo"
    else:
        prefix, _, model = ident.rpartition(":")
        provider = PROVIDER_PREFIXES.get(prefix, "")
        if not provider or not model:
            report.add(where, ident, "the studio supports openai:, anthropic:messages:, mistral: and echo providers")
            return None
    params: dict[str, Any] = {}
    for key, value in config.items() if isinstance(config, dict) else []:
        if key in PARAM_KEYS:
            params[key] = value
        else:
            report.add(f"{where}.config.{key}", ident, "this provider setting has no studio equivalent")
    return {"provider": provider, "model": model, "params": params, "label": label}


def _assertion(raw: Any, where: str, report: Report, variables: set[str]) -> dict[str, Any] | None:
    """A studio evaluator config from one promptfoo assertion (None + a report entry when it can't map)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        report.add(where, repr(raw)[:60], "an assertion needs a type")
        return None
    kind = raw["type"]
    negate = kind.startswith("not-")
    base = kind[4:] if negate else kind
    if base not in ASSERT_TO_STUDIO:
        report.add(where, kind, "the studio has no evaluator of this type")
        return None
    studio_type, target, extra = ASSERT_TO_STUDIO[base]
    config: dict[str, Any] = {"type": studio_type, **extra}
    value = raw.get("value")
    if target in ("value", "pattern", "rubric"):
        if not isinstance(value, str):
            report.add(where, kind, "the value must be text")
            return None
        config[target] = value
    elif target == "values":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            report.add(where, kind, "the value must be a list of text")
            return None
        config["values"] = list(value)
    elif studio_type == "is-json" and value is not None:
        if not isinstance(value, dict):
            report.add(where, kind, "a JSON schema must be an object (schemas from files are not supported)")
            return None
        config = {"type": "json-schema", "schema": value}
    if studio_type in ("latency", "cost"):
        threshold = raw.get("threshold")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            report.add(where, kind, "needs a numeric threshold")
            return None
        config["max_ms" if studio_type == "latency" else "max_usd"] = threshold
    if studio_type == "llm-judge":
        judge = raw.get("provider")
        provider, model = DEFAULT_JUDGE
        if judge is not None:
            mapped = _provider(judge, f"{where}.provider", report)
            if mapped is None:
                return None
            provider, model = mapped["provider"], mapped["model"]
        config.update(provider=provider, model=model)
        if isinstance(raw.get("threshold"), int | float):
            config["pass_score"] = round(1 + 4 * float(raw["threshold"]), 4)
    if negate:
        if studio_type == "llm-judge":
            report.add(where, kind, "an LLM judge can't be negated in the studio")
            return None
        config["negate"] = True
    if isinstance(raw.get("weight"), int | float) and not isinstance(raw.get("weight"), bool):
        config["weight"] = raw["weight"]
    if isinstance(raw.get("metric"), str):
        config["name"] = raw["metric"][:100]
    for key in raw:
        if key not in ("type", "value", "threshold", "weight", "metric", "provider"):
            report.add(f"{where}.{key}", kind, "this assertion option has no studio equivalent")
    from abtests.evaluators import EvaluatorConfigError, validate_evaluators

    try:
        (clean,) = validate_evaluators([config], variables=variables)
    except EvaluatorConfigError as exc:
        report.add(where, kind, "; ".join(exc.errors).replace("evaluators[0].", ""))
        return None
    return clean


def _column_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    if present and all(isinstance(v, dict | list) for v in present):
        return "json"
    return "text"


def config_to_spec(config: Any, *, name: str = "promptfoo import") -> tuple[dict[str, Any], Report]:
    """A spec and a report of what could not be mapped. Raises ImportRefused when nothing usable is left."""
    if not isinstance(config, dict):
        raise ImportRefused(NOT_A_CONFIG)
    report = Report()
    for key in config:
        if key not in ("description", "prompts", "providers", "tests", "defaultTest"):
            report.add(key, key, "this part of the config has no studio equivalent")
    media_vars: dict[str, str] = {}
    raw_prompts = config.get("prompts") or []
    if isinstance(raw_prompts, str):
        raw_prompts = [raw_prompts]
    prompts = []
    for i, raw in enumerate(raw_prompts if isinstance(raw_prompts, list) else []):
        where = f"prompts[{i}]"
        text, label = (raw.get("raw"), raw.get("label") or raw.get("id")) if isinstance(raw, dict) else (raw, None)
        if not isinstance(text, str):
            report.add(where, repr(raw)[:60], "a prompt is text (or {raw, label})")
            continue
        content = _prompt_content(text, where, report, media_vars)
        if content is not None:
            prompts.append({"label": str(label or f"Prompt {i + 1}"), "content": content})
    if not prompts:
        raise ImportRefused(NO_PROMPTS)
    providers = []
    raw_providers = config.get("providers") or []
    for i, raw in enumerate(raw_providers if isinstance(raw_providers, list) else [raw_providers]):
        mapped = _provider(raw, f"providers[{i}]", report)
        if mapped is not None:
            providers.append(mapped)
    if not providers:
        raise ImportRefused(NO_PROVIDERS)

    default = config.get("defaultTest") or {}
    tests = [t for t in (config.get("tests") or []) if isinstance(t, dict)]
    default_vars = default.get("vars") or {} if isinstance(default, dict) else {}
    rows = [{**default_vars, **(t.get("vars") or {})} for t in tests]
    names: list[str] = []
    for row in rows:
        for key in row:
            if key not in names:
                names.append(key)
    for i, row in enumerate(rows):
        for key, value in list(row.items()):
            if isinstance(value, str) and value.startswith("file://"):
                report.add(f"tests[{i}].vars.{key}", value, "values read from files are not supported; left empty")
                row[key] = None
    columns = [{"name": n, "type": media_vars.get(n) or _column_type([r.get(n) for r in rows])} for n in names]
    variables = set(names)

    evaluators: list[dict[str, Any]] = []
    for j, raw in enumerate((default.get("assert") or []) if isinstance(default, dict) else []):
        mapped = _assertion(raw, f"defaultTest.assert[{j}]", report, variables)
        if mapped is not None:
            evaluators.append(mapped)
    evaluators += _per_test_assertions(tests, rows, columns, report, variables)
    for i, test in enumerate(tests):
        for key in test:
            if key not in ("vars", "assert", "description"):
                report.add(f"tests[{i}].{key}", key, "this test option has no studio equivalent")

    spec = {
        "name": str(config.get("description") or name)[:200],
        "description": str(config.get("description") or ""),
        "prompts": prompts,
        "providers": providers,
        "variants": [{"prompt": p, "provider": q} for p in range(len(prompts)) for q in range(len(providers))],
        "dataset": {"name": str(config.get("description") or name)[:200], "columns": columns, "rows": rows},
        "evaluators": evaluators,
    }
    return spec, report


def _per_test_assertions(
    tests: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    columns: list[dict[str, str]],
    report: Report,
    variables: set[str],
) -> list[dict[str, Any]]:
    lists = [t.get("assert") or [] for t in tests]
    if not any(lists):
        return []
    evaluators: list[dict[str, Any]] = []
    same_shape = all(
        len(a) == len(lists[0])
        and all(
            isinstance(x, dict) and isinstance(y, dict) and x.get("type") == y.get("type")
            for x, y in zip(a, lists[0], strict=True)
        )
        for a in lists
    )
    if same_shape:
        for j, first in enumerate(lists[0]):
            values = [a[j].get("value") for a in lists]
            others = [{k: v for k, v in a[j].items() if k != "value"} for a in lists]
            if all(v == values[0] for v in values) and all(o == others[0] for o in others):
                mapped = _assertion(first, f"tests[*].assert[{j}]", report, variables)
                if mapped is not None:
                    evaluators.append(mapped)
                continue
            base = str(first.get("type", "")).removeprefix("not-")
            if base in TEMPLATED and all(isinstance(v, str) for v in values) and all(o == others[0] for o in others):
                column = f"expected_{j + 1}"
                mapped = _assertion(
                    {**first, "value": f"{{{{ {column} }}}}"}, f"tests[*].assert[{j}]", report, variables | {column}
                )
                if mapped is not None:
                    columns.append({"name": column, "type": "text"})
                    for row, value in zip(rows, values, strict=True):
                        row[column] = value
                    evaluators.append(mapped)
                continue
            for i in range(len(tests)):
                report.add(
                    f"tests[{i}].assert[{j}]",
                    str(first.get("type")),
                    "differs from test to test in a way the studio's per-test evaluators can't express",
                )
        return evaluators
    for i, assertions in enumerate(lists):
        for j, raw in enumerate(assertions):
            report.add(
                f"tests[{i}].assert[{j}]",
                str(raw.get("type") if isinstance(raw, dict) else raw),
                "tests have different assertions; the studio applies the same evaluators to every row "
                "(put shared assertions in defaultTest)",
            )
    return evaluators


# --- spec -> promptfoo -------------------------------------------------------------------------------


def _prompt_text(content: dict[str, Any], where: str, report: Report) -> str | None:
    messages = content.get("messages") or []
    if (
        len(messages) == 1
        and messages[0]["role"] == "user"
        and all(p["type"] == "text" for p in messages[0]["content"])
    ):
        return "".join(p["text"] for p in messages[0]["content"])
    chat = []
    for i, message in enumerate(messages):
        parts: list[dict[str, Any]] = []
        for j, part in enumerate(message["content"]):
            if part["type"] == "text":
                parts.append({"type": "text", "text": part["text"]})
            elif part["type"] == "image" and part.get("variable"):
                parts.append({"type": "image_url", "image_url": {"url": f"{{{{{part['variable']}}}}}"}})
            elif part["type"] == "image" and part.get("url"):
                parts.append({"type": "image_url", "image_url": {"url": part["url"]}})
            elif part["type"] == "image" and part.get("data_url"):
                parts.append({"type": "image_url", "image_url": {"url": part["data_url"]}})
            else:
                report.add(
                    f"{where}.messages[{i}].content[{j}]",
                    part["type"],
                    "promptfoo's chat format here carries text and images only",
                )
                return None
        if all(p["type"] == "text" for p in parts):
            chat.append({"role": message["role"], "content": "".join(p["text"] for p in parts)})
        else:
            chat.append({"role": message["role"], "content": parts})
    return json.dumps(chat, ensure_ascii=False)


def _provider_id(provider: str, model: str) -> str | None:
    return {
        "openai": f"openai:{model}",
        "anthropic": f"anthropic:messages:{model}",
        "mistral": f"mistral:{model}",
        "echo": "echo",
    }.get(provider)


def _studio_to_assert(config: dict[str, Any], where: str, report: Report) -> dict[str, Any] | None:
    kind = config["type"]
    out: dict[str, Any]
    ignore = bool(config.get("ignore_case"))
    if kind in ("equals", "contains", "icontains", "starts-with"):
        if ignore and kind != "icontains":
            report.add(where, kind, "promptfoo has no case-insensitive form of this assertion")
            return None
        out = {"type": kind, "value": config["value"]}
    elif kind == "regex":
        if config.get("ignore_case") or config.get("multiline") or config.get("dotall"):
            report.add(where, kind, "promptfoo's regex assertion takes no flags")
            return None
        out = {"type": "regex", "value": config["pattern"]}
    elif kind in ("contains-any", "contains-all"):
        out = {"type": f"i{kind}" if ignore else kind, "value": list(config["values"])}
    elif kind == "is-json":
        out = {"type": "is-json"}
    elif kind == "json-schema":
        out = {"type": "is-json", "value": config["schema"]}
    elif kind == "latency":
        out = {"type": "latency", "threshold": config["max_ms"]}
    elif kind == "cost":
        out = {"type": "cost", "threshold": config["max_usd"]}
    elif kind == "llm-judge":
        out = {"type": "llm-rubric", "value": config["rubric"]}
        judge = _provider_id(config["provider"], config["model"])
        if judge is None:
            report.add(where, kind, f"promptfoo has no provider id for {config['provider']}")
            return None
        if (config["provider"], config["model"]) != DEFAULT_JUDGE:
            out["provider"] = judge
        if config.get("pass_score") not in (None, 4.0):
            out["threshold"] = round((float(config["pass_score"]) - 1) / 4, 4)
    else:
        report.add(where, kind, "promptfoo has no assertion of this type without custom code")
        return None
    if config.get("negate"):
        out["type"] = f"not-{out['type']}"
    if config.get("weight") not in (None, 1, 1.0):
        out["weight"] = config["weight"]
    if config.get("name"):
        out["metric"] = config["name"]
    return out


def spec_to_config(spec: dict[str, Any]) -> tuple[dict[str, Any], Report]:
    """A promptfoo config for the spec, and what it could not carry."""
    report = Report()
    prompts: list[dict[str, Any]] = []
    prompt_labels: dict[int, str] = {}
    for i, prompt in enumerate(spec["prompts"]):
        text = _prompt_text(prompt["content"], f"prompts[{i}]", report)
        if text is not None:
            prompts.append({"label": prompt["label"], "raw": text})
            prompt_labels[i] = prompt["label"]
    providers: list[dict[str, Any]] = []
    provider_index: dict[int, dict[str, Any]] = {}
    for i, provider in enumerate(spec["providers"]):
        ident = _provider_id(provider["provider"], provider["model"])
        if ident is None:
            report.add(f"providers[{i}]", provider["provider"], "promptfoo has no provider id for it")
            continue
        entry: dict[str, Any] = {"id": ident}
        if provider.get("label"):
            entry["label"] = provider["label"]
        if provider.get("params"):
            entry["config"] = dict(provider["params"])
        providers.append(entry)
        provider_index[i] = entry
    pairs = {(v["prompt"], v["provider"]) for v in spec["variants"]}
    full = {(p, q) for p in prompt_labels for q in provider_index}
    if pairs != full:  # not every prompt with every provider: restrict each provider to its prompts
        for q, entry in provider_index.items():
            entry["prompts"] = [prompt_labels[p] for p, qq in sorted(pairs) if qq == q and p in prompt_labels]
    asserts = []
    for i, evaluator in enumerate(spec["evaluators"]):
        mapped = _studio_to_assert(evaluator, f"evaluators[{i}]", report)
        if mapped is not None:
            asserts.append(mapped)
    config: dict[str, Any] = {
        "description": spec.get("description") or spec["name"],
        "prompts": prompts,
        "providers": providers,
    }
    if asserts:
        config["defaultTest"] = {"assert": asserts}
    config["tests"] = [{"vars": {k: v for k, v in row.items() if v is not None}} for row in spec["dataset"]["rows"]]
    return config, report


def dump_config(config: dict[str, Any]) -> str:
    header = "# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json\n# Exported by Prompt Studio.\n"
    return header + dump_yaml(config)


# --- the A/B test model ------------------------------------------------------------------------------


def _plain_cell(value: Any, assets: dict[str, Any]) -> Any:
    """A dataset cell as a promptfoo var: URLs as text, uploaded media as data URLs."""
    import base64

    if isinstance(value, dict) and "url" in value:
        return value["url"]
    if isinstance(value, dict) and "asset" in value:
        asset = assets.get(str(value["asset"]))
        if asset is not None:
            return f"data:{asset.mime_type};base64,{base64.b64encode(asset.read_bytes()).decode('ascii')}"
    return value


def spec_from_abtest(test: Any) -> dict[str, Any]:
    """The spec of an A/B test: its variants' prompt versions and models, its rows and evaluators."""
    from exports.registry import ExportContext
    from prompts.models import Asset

    variants = list(test.variants.select_related("prompt_version__prompt").order_by("order", "id"))
    prompts: list[dict[str, Any]] = []
    prompt_index: dict[int, int] = {}
    providers: list[dict[str, Any]] = []
    provider_index: dict[str, int] = {}
    pairs = []
    prefix = f"{test.name}: "
    for variant in variants:
        version = variant.prompt_version
        if version is None:
            continue
        if version.pk not in prompt_index:
            prompt_index[version.pk] = len(prompts)
            label = version.prompt.name.removeprefix(prefix)
            content = {k: v for k, v in version.content.items() if k != "model"}
            prompts.append({"label": label, "content": content})
        key = json.dumps([variant.provider, variant.model, variant.params], sort_keys=True)
        if key not in provider_index:
            provider_index[key] = len(providers)
            suffix = variant.name.rpartition(" / ")[2]
            providers.append(
                {
                    "provider": variant.provider,
                    "model": variant.model,
                    "params": dict(variant.params or {}),
                    "label": suffix if suffix and suffix != variant.model else "",
                }
            )
        pairs.append({"prompt": prompt_index[version.pk], "provider": provider_index[key]})
    if test.snapshot_id:
        columns = test.snapshot.columns
        rows = [row["values"] for row in test.snapshot.rows]
    elif test.dataset_id:
        columns = test.dataset.columns
        rows = [row.values for row in test.dataset.rows.order_by("index")]
    else:
        columns, rows = [], []
    ctx = ExportContext(workspace_id=test.workspace_id)
    ctx.collect(rows)
    assets = {str(a.pk): a for a in Asset.objects.filter(workspace_id=test.workspace_id, pk__in=list(ctx.asset_ids))}
    return {
        "name": test.name,
        "description": test.description,
        "prompts": prompts,
        "providers": providers,
        "variants": pairs,
        "dataset": {
            "name": test.dataset.name if test.dataset_id else test.name,
            "columns": columns,
            "rows": [{k: _plain_cell(v, assets) for k, v in row.items()} for row in rows],
        },
        "evaluators": list(test.evaluators or []),
    }
