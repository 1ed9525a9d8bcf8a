"""Builders for A/B test tests: prompts, datasets and tests made through the real services."""

from __future__ import annotations

import itertools
from typing import Any

from abtests.models import ABTest, Trial
from abtests.services import abtest_create, dataset_create
from prompts.models import PromptVersion
from prompts.services import prompt_create


def make_version(
    workspace: Any, text: str = "Variant A: answer {{question}} (cell {{marker}})", **kw: Any
) -> PromptVersion:
    """A prompt with one version whose user message is ``text`` (variables question and marker)."""
    content = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "variables": kw.pop("variables", [{"name": "question", "type": "text"}, {"name": "marker", "type": "text"}]),
        "model": {"provider": "echo", "name": "echo"},
    }
    prompt = prompt_create(workspace=workspace, user=None, name=kw.pop("name", text[:40]), content=content)
    return prompt.versions.get()


_numbers = itertools.count(1)


def make_dataset(workspace: Any, rows: int = 5, name: str = "", expected: Any = None) -> Any:
    """``rows`` rows with question, marker (unique per row) and expected (for evaluators)."""
    return dataset_create(
        workspace=workspace,
        user=None,
        name=name or f"questions {next(_numbers)}",
        columns=[
            {"name": "question", "type": "text"},
            {"name": "marker", "type": "text"},
            {"name": "expected", "type": "text"},
        ],
        rows=[
            {
                "question": f"question {i}",
                "marker": f"r{i}",
                "expected": expected(i) if callable(expected) else f"question {i}",
            }
            for i in range(rows)
        ],
    )


def make_test(
    workspace: Any,
    *,
    rows: int = 5,
    variants: int = 2,
    provider: str = "echo",
    model: str = "echo",
    credential: Any = None,
    texts: list[str] | None = None,
    dataset: Any = None,
    **kw: Any,
) -> ABTest:
    dataset = dataset or make_dataset(workspace, rows=rows)
    names = [chr(ord("A") + i) for i in range(variants)]
    texts = texts or [f"Variant {n}: answer {{{{question}}}} (cell {n}-{{{{marker}}}})" for n in names]
    versions = [
        make_version(workspace, text, name=f"prompt {n} {next(_numbers)}") for n, text in zip(names, texts, strict=True)
    ]
    return abtest_create(
        workspace=workspace,
        user=kw.pop("user", None),
        name=kw.pop("name", "a test"),
        dataset=dataset,
        variants=[
            {
                "name": n,
                "prompt_version": v.pk,
                "provider": provider,
                "model": model,
                "params": kw.pop("params", {}) if False else dict(kw.get("params", {})),
                "credential": getattr(credential, "pk", None),
            }
            for n, v in zip(names, versions, strict=True)
        ],
        **{k: v for k, v in kw.items() if k != "params"},
    )


def claim_first(test: ABTest) -> tuple[Any, Trial, Any]:
    """The started test's plan, its first Trial, and the claim of that Trial (an ``engine.Cell``, or why
    not), as a worker makes it before the call."""
    from abtests import engine

    plan = engine.load_plan(test.pk)
    assert plan is not None
    trial = Trial.objects.filter(test=test).first()
    assert trial is not None
    return plan, trial, engine.cell_prepare(plan, trial.pk, trial.variant_id, trial.row_index)
