"""The shared API pieces say in the schema what they take: strict strings, decimals, page sizes, 409s."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.urls import reverse
from rest_framework import serializers

from accounts.models import Membership
from studio.api import (
    BAD_PAGE_SIZE,
    NO_NUL_PATTERN,
    NOT_BLANK_PATTERN,
    DecimalInput,
    StrictCharField,
    exception_handler,
)
from studio.exceptions import Conflict, UnknownReference


@pytest.mark.parametrize("value", [0, 1.5, True, ["a"], {"a": 1}])
def test_strict_char_field_refuses_what_is_not_a_string(value: Any) -> None:
    with pytest.raises(serializers.ValidationError):
        StrictCharField().run_validation(value)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({}, NOT_BLANK_PATTERN), ({"allow_blank": True}, NO_NUL_PATTERN), ({"trim_whitespace": False}, NO_NUL_PATTERN)],
)
def test_strict_char_field_pattern_agrees_with_its_validation(kwargs: dict[str, Any], pattern: str) -> None:
    field = StrictCharField(**kwargs)
    for value in ["a", " a ", "   ", "a\x00b", "\x00", "é"]:
        try:
            field.run_validation(value)
            accepted = True
        except serializers.ValidationError:
            accepted = False
        # allow_blank: drf-spectacular documents "" as a second branch beside the pattern.
        documented = bool(re.match(pattern, value)) or (field.allow_blank and value.strip() == "")
        assert accepted == documented, value


def test_decimal_input_pattern_agrees_with_its_validation() -> None:
    field = DecimalInput(max_digits=12, decimal_places=6, min_value=Decimal(0))
    pattern = field.schema_pattern()
    for value in [
        *["0", "1.5", " 2 ", "+3", "-0", "-1", "", ".", "-", "1234567", "0001234.5", "1.1234567", ".5", "5."],
        *["-.000000", "-.0000000", "-0.0000000", "-000.000000"],  # negative zero, within and past 6 places
    ]:
        try:
            field.run_validation(value)
            accepted = True
        except serializers.ValidationError:
            accepted = False
        assert accepted == bool(re.match(pattern, value)), value


def test_a_refusal_of_a_state_conflict_is_a_409_and_an_unknown_reference_a_404() -> None:
    conflict = exception_handler(Conflict({"name": ["Taken."]}), {})
    assert conflict is not None and conflict.status_code == 409
    assert conflict.data == {"detail": "name: Taken.", "code": "conflict", "errors": {"name": ["Taken."]}}
    unknown = exception_handler(UnknownReference("No such thing."), {})
    assert unknown is not None and unknown.status_code == 404 and unknown.data["code"] == "not_found"
    plain = exception_handler(DjangoValidationError("Bad."), {})
    assert plain is not None and plain.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["abc", "0", "-3", ""])
def test_a_malformed_page_size_is_a_400(api: Any, user: Any, page_size: str) -> None:
    response = api(user).get(reverse("api:prompt-list"), {"page_size": page_size})
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": [BAD_PAGE_SIZE]}


@pytest.mark.django_db
def test_a_page_size_above_the_maximum_is_capped(api: Any, user: Any) -> None:
    response = api(user).get(reverse("api:prompt-list"), {"page_size": "5000"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_an_id_filter_beyond_the_ids_range_matches_nothing_instead_of_failing(api: Any, team: Any) -> None:
    from abtests.tests.factories import make_test

    user, workspace = team.owner, team.workspace
    test = make_test(workspace, rows=1)
    huge = str(2**80)
    trials = api(user).get(reverse("api:test-trials", args=[test.pk]), {"variant": huge})
    assert trials.status_code == 200 and trials.json()["count"] == 0
    runs = api(user).get(reverse("api:testing-runs"), {"workspace": workspace.pk, "prompt": huge})
    assert runs.status_code == 200 and runs.json()["count"] == 0


@pytest.mark.django_db
def test_an_id_in_the_path_beyond_the_ids_range_is_a_404(api: Any, team: Any) -> None:
    huge = 2**70
    for path in (f"/api/prompts/{huge}/", f"/api/workspaces/{team.workspace.pk}/members/{huge}/"):
        response = api(team.owner).get(path)
        assert response.status_code == 404, (path, response.status_code)
    assert api(team.owner).delete(f"/api/workspaces/{team.workspace.pk}/members/{huge}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_whole_number_past_64_bits_in_a_body_is_a_400(api: Any, team: Any) -> None:
    url = reverse("api:workspace-transfer", args=[team.workspace.pk])
    response = api(team.owner).post(url, {"user_id": 2**70}, format="json")
    # SQLite can't bind the number (400, out of range); PostgreSQL compares it and finds no member (404)
    expected = (400, "out of range") if connection.vendor == "sqlite" else (404, "")
    assert response.status_code == expected[0] and expected[1] in response.json()["detail"]
    assert Membership.objects.get(workspace=team.workspace, user=team.owner).role == "owner"  # nothing changed


@pytest.mark.django_db
def test_a_nul_in_a_runs_filter_matches_nothing(api: Any, team: Any) -> None:
    runs = api(team.owner).get(reverse("api:testing-runs"), {"workspace": team.workspace.pk, "model": "gpt\x00"})
    assert runs.status_code == 200 and runs.json()["count"] == 0
