"""What API fuzzing found and what now holds: JSON errors everywhere under /api/, documented in the schema."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from abtests.tests.factories import make_test
from prompts.services import PROMPT_IN_USE
from studio.errors import NO_SUCH_ENDPOINT
from studio.openapi import ERROR_RESPONSES

pytestmark = pytest.mark.django_db


def test_an_api_url_that_matches_no_route_is_a_json_404(team: Any, api: Any, client: Any) -> None:
    for path in ("/api/prompts/abc/", "/api/no-such-thing/", "/api/prompts/null,null/labels/"):
        response = api(team.owner).get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": NO_SUCH_ENDPOINT.format(path=path), "code": "not_found"}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_deleting_a_prompt_an_ab_test_uses_is_a_clear_409_not_a_500(team: Any, api: Any) -> None:
    test = make_test(team.workspace, rows=1)
    prompt = test.variants.first().prompt_version.prompt
    response = api(team.admin).delete(reverse("api:prompt-detail", args=[prompt.pk]))
    assert response.status_code == 409
    assert response.json()["detail"] == PROMPT_IN_USE.format(error="variants")


def test_the_schema_documents_error_answers_and_pages(client: Any) -> None:
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    assert set(schema["components"]["schemas"]["Error"]["properties"]) >= {"detail", "code", "errors"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert set(ERROR_RESPONSES) <= set(operation["responses"]), f"{method.upper()} {path}"
    prompts = schema["paths"]["/api/prompts/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert prompts["$ref"].endswith("/PaginatedPromptOutputList")
    conflict = schema["paths"]["/api/workspaces/{workspace_id}/"]["delete"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    download = schema["paths"]["/api/exports/datasets/{dataset_id}/"]["get"]["responses"]["200"]["content"]
    assert set(download) == {
        "text/csv",
        "application/x-ndjson",
        "application/json",
        "application/yaml",
        "application/zip",
    }
