"""Dataset pages: list (search, empty state, queries), create, rows (add/edit/delete inline), import
with a preview step, delete; roles (viewer reads, editor writes, outsider 404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from abtests import views
from abtests.models import Dataset, DatasetRow
from abtests.services import dataset_create
from abtests.tests.factories import make_dataset

pytestmark = pytest.mark.django_db

LIST = reverse("abtests:datasets")
HTMX = {"HTTP_HX_REQUEST": "true"}


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fragment(target: str) -> dict[str, str]:
    return {**HTMX, "HTTP_HX_TARGET": target}


def test_list_shows_the_workspaces_datasets_with_row_counts(team: Any) -> None:
    make_dataset(team.workspace, rows=3, name="Receipts")
    make_dataset(team.other_workspace, rows=2, name="Theirs")
    response = browser(team.viewer).get(LIST)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "Receipts" in html and "Theirs" not in html
    assert '<td class="num">3</td>' in html
    assert "New dataset" not in html  # a viewer can't create


def test_empty_list_explains_and_offers_the_first_action(team: Any) -> None:
    html = browser(team.editor).get(LIST).content.decode()
    assert "Make your first dataset" in html
    assert reverse("abtests:dataset-import") in html and reverse("abtests:dataset-new") in html


def test_search_returns_the_fragment_only_for_htmx(team: Any) -> None:
    make_dataset(team.workspace, name="Invoices")
    make_dataset(team.workspace, name="Charts")
    part = browser(team.viewer).get(LIST, {"q": "invo"}, **fragment("dataset-results")).content.decode()
    assert "Invoices" in part and "Charts" not in part and "<html" not in part
    full = browser(team.viewer).get(LIST, {"q": "invo"}, **HTMX, HTTP_HX_BOOSTED="true").content.decode()
    assert "<html" in full and 'value="invo"' in full


@pytest.mark.parametrize("count", [5, 50])
def test_list_query_count_is_constant(team: Any, count: int, django_assert_max_num_queries: Any) -> None:
    for i in range(count):
        make_dataset(team.workspace, rows=2, name=f"set {i}")
    client = browser(team.viewer)
    client.get(LIST)  # warm the session
    with django_assert_max_num_queries(9):
        response = client.get(LIST)
    assert response.status_code == 200


def test_editor_creates_a_dataset_with_typed_columns(team: Any) -> None:
    response = browser(team.editor).post(
        reverse("abtests:dataset-new"),
        {
            "name": "Photos",
            "description": "",
            "col_name": ["caption", "photo", ""],
            "col_type": ["text", "image", "text"],
        },
    )
    dataset = Dataset.objects.get(name="Photos")
    assert response.status_code == 302 and response["Location"] == reverse("abtests:dataset-detail", args=[dataset.pk])
    assert dataset.columns == [{"name": "caption", "type": "text"}, {"name": "photo", "type": "image"}]


def test_bad_column_name_is_refused_and_everything_typed_is_kept(team: Any) -> None:
    response = browser(team.editor).post(
        reverse("abtests:dataset-new"),
        {"name": "Mine", "description": "notes", "col_name": ["good", "bad name"], "col_type": ["text", "number"]},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "not a valid variable name" in html
    assert 'value="bad name"' in html and 'value="Mine"' in html and "notes" in html
    assert not Dataset.objects.filter(name="Mine").exists()


def test_viewer_cannot_create_and_outsider_cannot_see(team: Any) -> None:
    dataset = make_dataset(team.workspace)
    assert browser(team.viewer).post(reverse("abtests:dataset-new"), {"name": "x"}).status_code == 403
    assert browser(team.viewer).post(reverse("abtests:dataset-delete", args=[dataset.pk])).status_code == 403
    for name in ("abtests:dataset-detail", "abtests:dataset-edit"):
        assert browser(team.outsider).get(reverse(name, args=[dataset.pk])).status_code == 404
    assert browser(team.outsider).post(reverse("abtests:dataset-delete", args=[dataset.pk])).status_code == 404


def test_detail_shows_rows_and_media_as_thumbnails(team: Any) -> None:
    from prompts.services import asset_create
    from prompts.tests.media import image_bytes

    asset, _ = asset_create(
        workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("a.png", image_bytes())
    )
    dataset = dataset_create(
        workspace=team.workspace,
        user=team.editor,
        name="Pics",
        columns=[{"name": "caption", "type": "text"}, {"name": "photo", "type": "image"}],
        rows=[{"caption": "a cat", "photo": str(asset.pk)}, {"caption": "no photo", "photo": None}],
    )
    viewer_html = browser(team.viewer).get(reverse("abtests:dataset-detail", args=[dataset.pk])).content.decode()
    assert "a cat" in viewer_html and 'class="ab-thumb"' in viewer_html
    assert reverse("api:asset-content", args=[asset.pk]) in viewer_html
    assert "Add a row" not in viewer_html and "Edit columns" not in viewer_html
    editor_html = browser(team.editor).get(reverse("abtests:dataset-detail", args=[dataset.pk])).content.decode()
    assert "Add a row" in editor_html and "data-confirm" in editor_html


def test_add_row_inline_returns_the_row_and_a_fresh_form(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=1)
    url = reverse("abtests:row-add", args=[dataset.pk])
    response = browser(team.editor).post(
        url, {"cell-question": "why?", "cell-marker": "m", "cell-expected": "because"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "why?" in html and 'hx-swap-oob="outerHTML"' in html and "Added row 2" in response["HX-Trigger"]
    assert DatasetRow.objects.filter(dataset=dataset).count() == 2


def test_add_row_error_sits_next_to_the_field_and_keeps_input(team: Any) -> None:
    dataset = dataset_create(
        workspace=team.workspace,
        user=team.editor,
        name="Nums",
        columns=[{"name": "n", "type": "number"}, {"name": "note", "type": "text"}],
    )
    response = browser(team.editor).post(
        reverse("abtests:row-add", args=[dataset.pk]), {"cell-n": "twelve", "cell-note": "keep me"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 400 and response["HX-Retarget"] == "#add-row"
    assert "is not a number" in html and "keep me" in html and 'value="twelve"' in html
    assert not DatasetRow.objects.filter(dataset=dataset).exists()


def test_edit_and_delete_a_row_inline(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=2)
    row = dataset.rows.order_by("index").first()
    client = browser(team.editor)
    url = reverse("abtests:row-edit", args=[dataset.pk, row.pk])
    form = client.get(url, **fragment(f"row-{row.pk}")).content.decode()
    assert 'name="cell-question"' in form and "question 0" in form and "<html" not in form
    assert "<html" in client.get(url).content.decode()  # opened directly: a whole page
    saved = client.post(url, {"cell-question": "changed", "cell-marker": "r0", "cell-expected": "x"}, **HTMX)
    assert saved.status_code == 200 and "changed" in saved.content.decode()
    row.refresh_from_db()
    assert row.values["question"] == "changed"
    deleted = client.post(reverse("abtests:row-delete", args=[dataset.pk, row.pk]), **HTMX)
    assert deleted.status_code == 200 and "Deleted row 1" in deleted["HX-Trigger"]
    assert not DatasetRow.objects.filter(pk=row.pk).exists()
    assert browser(team.viewer).post(url, {"cell-question": "no"}).status_code == 403


def test_import_previews_then_confirms(team: Any) -> None:
    client = browser(team.editor)
    url = reverse("abtests:dataset-import")
    csv = b"question,expected,score\nwhat is 2+2?,4,1\nname a colour,red,2\n"
    preview = client.post(url, {"action": "preview", "file": SimpleUploadedFile("quiz.csv", csv), "name": ""})
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Preview: quiz.csv" in html and "what is 2+2?" in html and "Import 2 rows" in html
    assert 'name="type-score"' in html
    assert not Dataset.objects.filter(name="quiz").exists()  # nothing saved yet
    token = html.split('name="token" value="')[1].split('"')[0]
    done = client.post(url, {"action": "confirm", "token": token, "name": "quiz", "type-score": "text"})
    dataset = Dataset.objects.get(name="quiz")
    assert done.status_code == 302 and done["Location"] == reverse("abtests:dataset-detail", args=[dataset.pk])
    assert dataset.rows.count() == 2 and dataset.column_types()["score"] == "text"
    again = client.post(url, {"action": "confirm", "token": token, "name": "quiz2"})
    assert again.status_code == 400 and views.PREVIEW_EXPIRED in again.content.decode()


def test_import_refuses_a_bad_file_naming_row_and_column(team: Any) -> None:
    csv = b"question,expected\nok,1\nonly one cell\n"
    response = browser(team.editor).post(
        reverse("abtests:dataset-import"),
        {"action": "preview", "file": SimpleUploadedFile("bad.csv", csv), "name": "bad"},
        **fragment("import-panel"),
    )
    html = response.content.decode()
    assert response.status_code == 400 and "<html" not in html
    assert "row 2: expected 2 cells" in html


def test_viewer_cannot_import(team: Any) -> None:
    assert browser(team.viewer).get(reverse("abtests:dataset-import")).status_code == 403


def test_delete_dataset_needs_an_admin(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=3, name="Old")
    url = reverse("abtests:dataset-delete", args=[dataset.pk])
    assert browser(team.editor).post(url).status_code == 403
    assert url not in browser(team.editor).get(reverse("abtests:dataset-detail", args=[dataset.pk])).content.decode()
    assert url in browser(team.admin).get(reverse("abtests:dataset-detail", args=[dataset.pk])).content.decode()
    response = browser(team.admin).post(url)
    assert response.status_code == 302 and response["Location"] == LIST
    assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_edit_columns_adds_an_empty_column(team: Any) -> None:
    dataset = make_dataset(team.workspace, rows=2)
    url = reverse("abtests:dataset-edit", args=[dataset.pk])
    assert 'value="question"' in browser(team.editor).get(url).content.decode()
    response = browser(team.editor).post(
        url,
        {
            "name": dataset.name,
            "col_name": ["question", "marker", "expected", "extra"],
            "col_type": ["text", "text", "text", "number"],
        },
    )
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.column_names == ["question", "marker", "expected", "extra"]
    assert all(r.values["extra"] is None for r in dataset.rows.all())
