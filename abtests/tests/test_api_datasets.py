"""/api/datasets/: role matrix, other workspaces, validation errors, pagination, imports, query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from abtests import services
from abtests.models import Dataset, DatasetRow
from accounts.models import Role
from accounts.tests.factories import MembershipFactory
from conftest import Team
from prompts.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "editor", "viewer", "outsider"]
COLUMNS = [{"name": "question", "type": "text"}, {"name": "photo", "type": "image"}]


def _expect(actor: str, allowed: set[str], ok: int) -> int:
    if actor == "outsider":
        return 404
    return ok if actor in allowed else 403


def make(team: Team, name: str = "Quiz", rows: int = 2, workspace: Any = None) -> Dataset:
    return services.dataset_create(
        workspace=workspace or team.workspace,
        user=team.editor,
        name=name,
        columns=COLUMNS,
        rows=[{"question": f"q{i}"} for i in range(rows)],
    )


# --- role matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ROLES)
def test_list_datasets_of_a_workspace(team: Team, api: Any, actor: str) -> None:
    make(team)
    response = api(team.user(actor)).get(reverse("api:dataset-list"), {"workspace": team.workspace.pk})
    assert response.status_code == _expect(actor, {"owner", "admin", "editor", "viewer"}, 200)
    if response.status_code == 200:
        (item,) = response.json()["results"]
        assert item["name"] == "Quiz" and item["row_count"] == 2 and item["columns"] == COLUMNS


@pytest.mark.parametrize("actor", ROLES)
def test_create_dataset(team: Team, api: Any, actor: str) -> None:
    response = api(team.user(actor)).post(
        reverse("api:dataset-list"),
        {"workspace": team.workspace.pk, "name": "New", "columns": COLUMNS, "rows": [{"question": "hi"}]},
        format="json",
    )
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 201)
    assert Dataset.objects.filter(name="New").exists() == (response.status_code == 201)
    if response.status_code == 201:
        body = response.json()
        assert body["row_count"] == 1 and body["created_by"] == team.user(actor).email
        assert body["workspace"] == team.workspace.pk


@pytest.mark.parametrize("actor", ROLES)
def test_read_dataset(team: Team, api: Any, actor: str) -> None:
    dataset = make(team)
    response = api(team.user(actor)).get(reverse("api:dataset-detail", args=[dataset.pk]))
    assert response.status_code == _expect(actor, {"owner", "admin", "editor", "viewer"}, 200)


@pytest.mark.parametrize("actor", ROLES)
def test_change_dataset(team: Team, api: Any, actor: str) -> None:
    dataset = make(team)
    response = api(team.user(actor)).patch(
        reverse("api:dataset-detail", args=[dataset.pk]), {"name": "Renamed", "description": "d"}, format="json"
    )
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 200)
    dataset.refresh_from_db()
    assert (dataset.name == "Renamed") == (response.status_code == 200)


@pytest.mark.parametrize("actor", ROLES)
def test_delete_dataset_needs_admin(team: Team, api: Any, actor: str) -> None:
    dataset = make(team)
    response = api(team.user(actor)).delete(reverse("api:dataset-detail", args=[dataset.pk]))
    assert response.status_code == _expect(actor, {"owner", "admin"}, 204)
    assert Dataset.objects.filter(pk=dataset.pk).exists() == (response.status_code != 204)


@pytest.mark.parametrize("actor", ROLES)
def test_list_rows(team: Team, api: Any, actor: str) -> None:
    dataset = make(team, rows=3)
    response = api(team.user(actor)).get(reverse("api:dataset-rows", args=[dataset.pk]))
    assert response.status_code == _expect(actor, {"owner", "admin", "editor", "viewer"}, 200)
    if response.status_code == 200:
        body = response.json()
        assert body["count"] == 3
        assert [r["values"]["question"] for r in body["results"]] == ["q0", "q1", "q2"]
        assert [r["index"] for r in body["results"]] == [0, 1, 2]


@pytest.mark.parametrize("actor", ROLES)
def test_add_row(team: Team, api: Any, actor: str) -> None:
    dataset = make(team, rows=0)
    response = api(team.user(actor)).post(
        reverse("api:dataset-rows", args=[dataset.pk]), {"values": {"question": "new"}}, format="json"
    )
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 201)
    assert DatasetRow.objects.filter(dataset=dataset).count() == (1 if response.status_code == 201 else 0)
    if response.status_code == 201:
        assert response.json()["values"] == {"question": "new", "photo": None}


@pytest.mark.parametrize("actor", ROLES)
def test_change_and_delete_row(team: Team, api: Any, actor: str) -> None:
    dataset = make(team, rows=1)
    row = dataset.rows.get()
    url = reverse("api:dataset-row-detail", args=[dataset.pk, row.pk])
    client = api(team.user(actor))
    response = client.patch(url, {"values": {"question": "edited"}}, format="json")
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 200)
    response = client.delete(url)
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 204)
    assert DatasetRow.objects.filter(pk=row.pk).exists() == (response.status_code != 204)


@pytest.mark.parametrize("actor", ROLES)
def test_import_dataset(team: Team, api: Any, actor: str) -> None:
    response = api(team.user(actor)).post(
        reverse("api:dataset-import"),
        {"workspace": team.workspace.pk, "name": "Imported", "file": SimpleUploadedFile("q.csv", b"q,n\na,1\n")},
        format="multipart",
    )
    assert response.status_code == _expect(actor, {"owner", "admin", "editor"}, 201)
    assert Dataset.objects.filter(name="Imported").exists() == (response.status_code == 201)


def test_anonymous_requests_are_refused(team: Team, api: Any) -> None:
    dataset = make(team)
    client = api(None)
    assert client.get(reverse("api:dataset-list")).status_code == 401
    assert client.get(reverse("api:dataset-rows", args=[dataset.pk])).status_code == 401


# --- other workspaces ----------------------------------------------------------------------------


def test_another_workspaces_dataset_is_not_found_everywhere(team: Team, api: Any) -> None:
    theirs = make(team, workspace=team.other_workspace, name="Theirs")
    row = theirs.rows.first()
    assert row is not None
    client = api(team.owner)
    urls = [
        ("get", reverse("api:dataset-detail", args=[theirs.pk])),
        ("patch", reverse("api:dataset-detail", args=[theirs.pk])),
        ("delete", reverse("api:dataset-detail", args=[theirs.pk])),
        ("get", reverse("api:dataset-rows", args=[theirs.pk])),
        ("post", reverse("api:dataset-rows", args=[theirs.pk])),
        ("patch", reverse("api:dataset-row-detail", args=[theirs.pk, row.pk])),
        ("delete", reverse("api:dataset-row-detail", args=[theirs.pk, row.pk])),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"values": {}, "name": "x"}, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "not_found"
    assert client.get(reverse("api:dataset-list"), {"workspace": team.other_workspace.pk}).status_code == 404
    mine = client.get(reverse("api:dataset-list")).json()
    assert mine["count"] == 0
    assert Dataset.objects.get(pk=theirs.pk).name == "Theirs"


def test_row_of_another_dataset_is_not_found(team: Team, api: Any) -> None:
    first, second = make(team, name="A"), make(team, name="B")
    row = second.rows.first()
    assert row is not None
    response = api(team.editor).get(reverse("api:dataset-row-detail", args=[first.pk, row.pk]))
    assert response.status_code == 404


def test_create_in_another_workspace_is_not_found(team: Team, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:dataset-list"), {"workspace": team.other_workspace.pk, "name": "X"}, format="json"
    )
    assert response.status_code == 404
    response = api(team.editor).post(
        reverse("api:dataset-import"),
        {"workspace": team.other_workspace.pk, "file": SimpleUploadedFile("q.csv", b"q\na\n")},
        format="multipart",
    )
    assert response.status_code == 404
    assert not Dataset.objects.exists()


# --- validation errors ---------------------------------------------------------------------------


def test_row_with_another_workspaces_asset_is_refused_clearly(team: Team, api: Any) -> None:
    dataset = make(team, rows=0)
    theirs = AssetFactory(workspace=team.other_workspace)
    response = api(team.editor).post(
        reverse("api:dataset-rows", args=[dataset.pk]), {"values": {"photo": str(theirs.pk)}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"column photo: unknown asset {theirs.pk}"
    assert not DatasetRow.objects.exists()


def test_bad_columns_are_400_and_duplicate_names_409_with_a_clear_detail(team: Team, api: Any) -> None:
    make(team)
    client = api(team.editor)
    response = client.post(
        reverse("api:dataset-list"),
        {"workspace": team.workspace.pk, "name": "Bad", "columns": [{"name": "a b"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("columns.0.name: 'a b' is not a valid variable name")
    response = client.post(reverse("api:dataset-list"), {"workspace": team.workspace.pk, "name": "Quiz"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "name: A dataset named 'Quiz' already exists in this workspace."


def test_patch_columns_changes_rows(team: Team, api: Any) -> None:
    dataset = make(team, rows=1)
    response = api(team.editor).patch(
        reverse("api:dataset-detail", args=[dataset.pk]),
        {"columns": [{"name": "question", "type": "text"}, {"name": "answer", "type": "number"}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["columns"][1] == {"name": "answer", "type": "number"}
    assert dataset.rows.get().values == {"question": "q0", "answer": None}


# --- import endpoint -----------------------------------------------------------------------------


def test_import_dry_run_returns_a_preview_and_saves_nothing(team: Team, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:dataset-import"),
        {
            "workspace": team.workspace.pk,
            "name": "Preview",
            "dry_run": "true",
            "columns": '{"n": "text"}',
            "file": SimpleUploadedFile("q.jsonl", b'{"q": "a", "n": 1}\n{"q": "b", "n": 2}\n'),
        },
        format="multipart",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["dataset"] is None
    assert body["columns"] == [{"name": "q", "type": "text"}, {"name": "n", "type": "text"}]
    assert body["row_count"] == 2
    assert not Dataset.objects.exists()


def test_import_dry_run_reports_the_first_problem(team: Team, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:dataset-import"),
        {"workspace": team.workspace.pk, "dry_run": "true", "file": SimpleUploadedFile("q.csv", b"a,b\n1,2\n3\n")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "row 2: expected 2 cells (like the header), found 1"


def test_import_creates_the_dataset_and_returns_it(team: Team, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:dataset-import"),
        {"workspace": team.workspace.pk, "file": SimpleUploadedFile("Support tickets.csv", b"q,n\na,1\nb,2\n")},
        format="multipart",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["dataset"]["name"] == "Support tickets"
    assert body["dataset"]["row_count"] == 2
    assert body["preview"] == [{"q": "a", "n": 1}, {"q": "b", "n": 2}]


def test_import_without_a_file_is_400(team: Team, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:dataset-import"), {"workspace": team.workspace.pk}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("file: ")


# --- pagination and query counts -----------------------------------------------------------------


def test_rows_are_paginated(team: Team, api: Any) -> None:
    dataset = make(team, rows=7)
    body = api(team.viewer).get(reverse("api:dataset-rows", args=[dataset.pk]), {"page_size": 3, "page": 3}).json()
    assert body["count"] == 7
    assert [r["index"] for r in body["results"]] == [6]


@pytest.mark.parametrize("count", [5, 50])
def test_dataset_list_query_count_is_constant(team: Team, api: Any, django_assert_num_queries: Any, count: int) -> None:
    for i in range(count):
        make(team, name=f"Set {i}", rows=2)
    # another member created some, so the created_by join is exercised with more than one user
    other = MembershipFactory(workspace=team.workspace, role=Role.EDITOR).user
    services.dataset_create(workspace=team.workspace, user=other, name="By other", columns=[])
    client = api(team.viewer)
    # user (JWT) + memberships + count + page
    with django_assert_num_queries(4):
        response = client.get(reverse("api:dataset-list"), {"workspace": team.workspace.pk, "page_size": 100})
    assert response.json()["count"] == count + 1
    assert {d["row_count"] for d in response.json()["results"]} == {0, 2}


@pytest.mark.parametrize("count", [5, 50])
def test_row_list_query_count_is_constant(team: Team, api: Any, django_assert_num_queries: Any, count: int) -> None:
    dataset = make(team, rows=count)
    client = api(team.viewer)
    # user (JWT) + memberships + dataset + count + page
    with django_assert_num_queries(5):
        response = client.get(reverse("api:dataset-rows", args=[dataset.pk]), {"page_size": 100})
    assert len(response.json()["results"]) == count
