from __future__ import annotations

from abtests.evaluators import validate_evaluators
from abtests.templatetags.abtests_tags import evaluator_setting


def test_evaluator_setting_names_what_each_evaluator_checks() -> None:
    configs = validate_evaluators(
        [
            {"type": "icontains", "value": "{{ expected }}"},
            {"type": "length", "max_chars": 2000},
            {"type": "length", "min_chars": 10, "max_chars": 20},
            {"type": "contains-any", "values": ["yes", "no"]},
            {"type": "regex", "pattern": "^ok"},
        ]
    )
    assert [evaluator_setting(c) for c in configs] == [
        "{{ expected }}",
        "at most 2000 characters",
        "10 to 20 characters",
        "yes, no",
        "^ok",
    ]
