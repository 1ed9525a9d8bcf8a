"""Done when 3 (as far as the A/B test model exists): a hand-written promptfoo config maps to a spec,
the spec back to an equivalent config, and whatever can't be mapped is reported."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from abtests.evaluators import validate_evaluators
from abtests.models import Dataset
from exports.formats import ImportRefused, load_yaml
from exports.promptfoo import config_to_spec, dump_config, spec_to_config
from exports.services import promptfoo_import
from prompts.models import Prompt

CONFIG = """
description: Capital cities
prompts:
  - label: terse
    raw: "What is the capital of {{country}}? One word."
  - label: chatty
    raw: '[{"role": "system", "content": "You are a geography teacher."},
           {"role": "user", "content": [{"type": "text", "text": "Capital of {{country}}?"},
                                        {"type": "image_url", "image_url": {"url": "{{flag}}"}}]}]'
  - file://prompts/other.txt
providers:
  - openai:gpt-4o-mini
  - id: anthropic:messages:claude-haiku-4-5
    label: Haiku
    config:
      max_tokens: 64
      apiKeyEnvar: MY_KEY
  - vertex:gemini-pro
defaultTest:
  assert:
    - type: icontains
      value: "{{capital}}"
    - type: not-contains
      value: "I don't know"
    - type: regex
      value: "^[A-Z]"
    - type: contains-any
      value: [city, capital]
    - type: is-json
      weight: 0
    - type: latency
      threshold: 5000
    - type: llm-rubric
      value: Names the capital of {{country}} correctly.
      metric: correctness
    - type: javascript
      value: output.length < 100
tests:
  - vars: {country: France, capital: Paris, flag: "https://example.com/fr.png", population: 68}
    assert:
      - type: starts-with
        value: Paris
  - vars: {country: Japan, capital: Tokyo, flag: "https://example.com/jp.png", population: 125}
    assert:
      - type: starts-with
        value: Tokyo
"""


def test_config_maps_to_a_spec_with_everything_it_can_and_reports_the_rest() -> None:
    spec, report = config_to_spec(load_yaml(CONFIG))
    assert [p["label"] for p in spec["prompts"]] == ["terse", "chatty"]
    chatty = spec["prompts"][1]["content"]
    assert chatty["messages"][1]["content"][1] == {"type": "image", "variable": "flag"}
    assert chatty["variables"] == [{"name": "flag", "type": "image"}]
    assert [(p["provider"], p["model"], p["params"]) for p in spec["providers"]] == [
        ("openai", "gpt-4o-mini", {}),
        ("anthropic", "claude-haiku-4-5", {"max_tokens": 64}),
    ]
    assert len(spec["variants"]) == 4
    assert spec["dataset"]["columns"] == [
        {"name": "country", "type": "text"},
        {"name": "capital", "type": "text"},
        {"name": "flag", "type": "image"},
        {"name": "population", "type": "number"},
        {"name": "expected_1", "type": "text"},
    ]
    assert [row["expected_1"] for row in spec["dataset"]["rows"]] == ["Paris", "Tokyo"]
    types = [(e["type"], e.get("negate", False)) for e in spec["evaluators"]]
    assert types == [
        ("icontains", False),
        ("contains", True),
        ("regex", False),
        ("contains-any", False),
        ("latency", False),
        ("llm-judge", False),
        ("starts-with", False),
    ]
    assert spec["evaluators"][-1]["value"] == "{{ expected_1 }}"
    # The evaluators are valid studio evaluators for the dataset's columns.
    names = {c["name"] for c in spec["dataset"]["columns"]}
    assert validate_evaluators(spec["evaluators"], variables=names) == spec["evaluators"]
    unmapped = {(item["where"], item["item"]) for item in report.items}
    assert unmapped == {
        ("prompts[2]", "file://prompts/other.txt"),
        ("providers[1].config.apiKeyEnvar", "anthropic:messages:claude-haiku-4-5"),
        ("providers[2]", "vertex:gemini-pro"),
        ("defaultTest.assert[4]", "is-json"),  # weight 0 is refused by the studio (weights are > 0)
        ("defaultTest.assert[7]", "javascript"),
    }


def test_spec_exports_back_to_an_equivalent_config() -> None:
    spec, _ = config_to_spec(load_yaml(CONFIG))
    config, report = spec_to_config(spec)
    assert not report
    text = dump_config(config)
    again, report_again = config_to_spec(load_yaml(text))
    assert not report_again
    assert again == spec
    assert [a["type"] for a in config["defaultTest"]["assert"]] == [
        "icontains",
        "not-contains",
        "regex",
        "contains-any",
        "latency",
        "llm-rubric",
        "starts-with",
    ]
    assert config["providers"][1] == {
        "id": "anthropic:messages:claude-haiku-4-5",
        "label": "Haiku",
        "config": {"max_tokens": 64},
    }


def test_studio_evaluators_without_a_promptfoo_form_are_reported() -> None:
    spec, _ = config_to_spec(load_yaml(CONFIG))
    spec["evaluators"] = validate_evaluators(
        [
            {"type": "length", "max_chars": 10},
            {"type": "equals", "value": "x", "ignore_case": True},
            {"type": "human", "mode": "pairwise"},
            {"type": "contains-all", "values": ["a"], "ignore_case": True},
        ]
    )
    spec["variants"] = [{"prompt": 0, "provider": 1}]
    config, report = spec_to_config(spec)
    assert [item["item"] for item in report.items] == ["length", "equals", "human"]
    assert config["defaultTest"]["assert"] == [{"type": "icontains-all", "value": ["a"]}]
    assert config["providers"][0]["prompts"] == [] and config["providers"][1]["prompts"] == ["terse"]


def test_a_config_without_usable_providers_is_refused() -> None:
    with pytest.raises(ImportRefused, match="no provider the studio supports"):
        config_to_spec({"prompts": ["hi"], "providers": ["bedrock:x"], "tests": []})


@pytest.mark.django_db
def test_promptfoo_import_creates_the_dataset_and_prompts_in_one_transaction(team: Any) -> None:
    upload = SimpleUploadedFile("promptfooconfig.yaml", CONFIG.encode())
    preview = promptfoo_import(workspace=team.workspace, user=team.editor, upload=upload, dry_run=True)
    assert preview.as_dict()["counts"] == {"prompts": 2, "datasets": 1, "abtests": 1}
    assert not Prompt.objects.exists() and not Dataset.objects.exists()
    result = promptfoo_import(workspace=team.workspace, user=team.editor, upload=upload)
    dataset = Dataset.objects.get(workspace=team.workspace)
    assert dataset.rows.count() == 2 and dataset.column_names[-1] == "expected_1"
    assert Prompt.objects.filter(workspace=team.workspace).count() == 2
    assert {item["item"] for item in result.report} >= {"javascript", "vertex:gemini-pro"}


@pytest.mark.django_db
def test_promptfoo_config_imports_into_an_ab_test_and_exports_back_equivalent(team: Any) -> None:
    from abtests.models import ABTest
    from exports.promptfoo import spec_from_abtest

    upload = SimpleUploadedFile("promptfooconfig.yaml", CONFIG.encode())
    promptfoo_import(workspace=team.workspace, user=team.editor, upload=upload)
    test = ABTest.objects.get(workspace=team.workspace)
    assert test.variants.count() == 4
    assert {(v.provider, v.model) for v in test.variants.all()} == {
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5"),
    }
    assert [e["type"] for e in test.evaluators][:3] == ["icontains", "contains", "regex"]
    original, _ = spec_to_config(config_to_spec(load_yaml(CONFIG))[0])
    exported, report = spec_to_config(spec_from_abtest(test))
    assert not report
    assert exported == original
