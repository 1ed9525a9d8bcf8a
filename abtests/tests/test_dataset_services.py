"""Dataset services: columns, rows and their cells, column changes, snapshots."""

from __future__ import annotations

import pytest

from abtests import services
from abtests.datasets import DatasetError
from abtests.models import Dataset, DatasetRow, DatasetSnapshot
from accounts.tests.factories import UserFactory, WorkspaceFactory
from conftest import Team
from prompts.models import AssetKind
from prompts.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

COLUMNS = [
    {"name": "question", "type": "text"},
    {"name": "score", "type": "number"},
    {"name": "meta", "type": "json"},
    {"name": "photo", "type": "image"},
]


def make(team: Team, **kwargs: object) -> Dataset:
    defaults: dict[str, object] = {"name": "Quiz", "columns": COLUMNS}
    defaults.update(kwargs)
    return services.dataset_create(workspace=team.workspace, user=team.editor, **defaults)  # type: ignore[arg-type]


def test_create_with_rows_normalises_media_and_fills_missing_cells(team: Team) -> None:
    asset = AssetFactory(workspace=team.workspace)
    dataset = make(
        team,
        rows=[
            {"question": "2+2?", "score": 4, "meta": {"k": [1]}, "photo": str(asset.pk).upper()},
            {"question": "Sky?", "photo": "https://example.com/sky.png"},
        ],
    )
    rows = list(dataset.rows.order_by("index").values_list("index", "values"))
    assert rows == [
        (0, {"question": "2+2?", "score": 4, "meta": {"k": [1]}, "photo": {"asset": str(asset.pk)}}),
        (1, {"question": "Sky?", "score": None, "meta": None, "photo": {"url": "https://example.com/sky.png"}}),
    ]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([{"name": "first name", "type": "text"}], "columns[0].name: 'first name' is not a valid variable name"),
        ([{"name": "a", "type": "video"}], "columns[0].type: unknown column type 'video'"),
        ([{"name": "a"}, {"name": "a"}], "columns[1].name: column 'a' appears twice"),
        ([{"name": "a", "type": "text", "extra": 1}], "columns[0]: must be an object with name and type"),
        ("a,b", "columns must be a list"),
    ],
)
def test_bad_columns_are_refused_with_their_position(team: Team, columns: object, message: str) -> None:
    with pytest.raises(DatasetError) as info:
        make(team, columns=columns)
    assert str(info.value).startswith(message)
    assert not Dataset.objects.exists()


def test_names_are_unique_per_workspace(team: Team) -> None:
    make(team)
    with pytest.raises(DatasetError, match="already exists"):
        make(team, name="  Quiz ")
    services.dataset_create(workspace=team.other_workspace, user=team.outsider, name="Quiz", columns=[])
    assert Dataset.objects.filter(name="Quiz").count() == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"score": "four"}, "column score: 'four' is not a number"),
        ({"score": True}, "column score: True is not a number"),
        ({"question": 5}, "column question: expected text, got a number"),
        ({"photo": "123"}, "column photo: unknown asset 123"),
        ({"photo": "ftp://example.com/a.png"}, "column photo: unknown asset ftp://example.com/a.png"),
        ({"photo": {"path": "/etc/passwd"}}, "column photo: {'path': '/etc/passwd'} is not an asset id"),
        ({"colour": "red"}, "unknown column 'colour'"),
    ],
)
def test_row_add_refuses_bad_cells_naming_the_column(team: Team, values: dict[str, object], message: str) -> None:
    dataset = make(team)
    with pytest.raises(DatasetError) as info:
        services.dataset_row_add(dataset=dataset, values=values)
    assert str(info.value).startswith(message)
    assert not DatasetRow.objects.exists()


def test_row_add_refuses_another_workspaces_asset_like_an_unknown_one(team: Team) -> None:
    dataset = make(team)
    foreign = AssetFactory(workspace=team.other_workspace)
    with pytest.raises(DatasetError) as info:
        services.dataset_row_add(dataset=dataset, values={"photo": str(foreign.pk)})
    assert str(info.value) == f"column photo: unknown asset {foreign.pk}"


def test_row_add_refuses_an_asset_of_the_wrong_kind(team: Team) -> None:
    dataset = make(team)
    audio = AssetFactory(workspace=team.workspace, kind=AssetKind.AUDIO, mime_type="audio/wav")
    with pytest.raises(DatasetError) as info:
        services.dataset_row_add(dataset=dataset, values={"photo": {"asset": str(audio.pk)}})
    assert str(info.value) == f"column photo: asset {audio.pk} is an audio, not image"


def test_rows_append_in_order_and_update_partially(team: Team) -> None:
    dataset = make(team)
    first = services.dataset_row_add(dataset=dataset, values={"question": "a"})
    second = services.dataset_row_add(dataset=dataset, values={"question": "b", "score": 2.5})
    assert (first.index, second.index) == (0, 1)
    services.dataset_row_update(row=second, values={"score": 3})
    second.refresh_from_db()
    assert second.values["question"] == "b" and second.values["score"] == 3
    services.dataset_row_delete(row=first)
    third = services.dataset_row_add(dataset=dataset, values={})
    assert third.index == 2


def test_row_limit(team: Team, settings: object) -> None:
    settings.DATASET_MAX_ROWS = 2  # type: ignore[attr-defined]
    dataset = make(team, rows=[{"question": "a"}, {"question": "b"}])
    with pytest.raises(DatasetError, match="at most 2 rows"):
        services.dataset_row_add(dataset=dataset, values={"question": "c"})
    with pytest.raises(DatasetError, match="at most 2 rows"):
        make(team, name="Big", rows=[{}, {}, {}])


def test_column_change_keeps_fitting_values_and_drops_removed_columns(team: Team) -> None:
    dataset = make(team, rows=[{"question": "q", "score": 1}])
    services.dataset_update(
        dataset=dataset, columns=[{"name": "question", "type": "text"}, {"name": "answer", "type": "text"}]
    )
    assert dataset.rows.get().values == {"question": "q", "answer": None}


def test_column_type_change_that_breaks_a_row_changes_nothing(team: Team) -> None:
    dataset = make(team, rows=[{"question": "12"}, {"question": "not a number"}])
    with pytest.raises(DatasetError) as info:
        services.dataset_update(dataset=dataset, name="Renamed", columns=[{"name": "question", "type": "number"}])
    assert str(info.value).startswith(
        "Changing the columns would break existing rows: row 2, column question: 'not a number' is not"
    )
    dataset.refresh_from_db()
    assert dataset.name == "Quiz"
    assert dataset.column_names == ["question", "score", "meta", "photo"]


def test_column_type_change_converts_values(team: Team) -> None:
    dataset = make(team, rows=[{"question": "12", "score": 3.5, "meta": {"a": 1}}])
    services.dataset_update(
        dataset=dataset,
        columns=[
            {"name": "question", "type": "number"},
            {"name": "score", "type": "text"},
            {"name": "meta", "type": "text"},
        ],
    )
    assert dataset.rows.get().values == {"question": 12, "score": "3.5", "meta": '{"a": 1}'}


def test_snapshot_freezes_rows_and_is_shared_while_unchanged(team: Team) -> None:
    dataset = make(team, rows=[{"question": "a"}, {"question": "b"}])
    snapshot = services.dataset_snapshot_create(dataset=dataset, user=team.editor)
    assert snapshot.row_count == 2
    assert snapshot.row_values(1)["question"] == "b"
    assert services.dataset_snapshot_create(dataset=dataset) == snapshot

    row = dataset.rows.get(index=1)
    services.dataset_row_update(row=row, values={"question": "changed"})
    services.dataset_row_add(dataset=dataset, values={"question": "c"})
    snapshot.refresh_from_db()
    assert [r["values"]["question"] for r in snapshot.rows] == ["a", "b"]

    newer = services.dataset_snapshot_create(dataset=dataset)
    assert newer != snapshot
    assert newer.row_count == 3 and newer.content_hash != snapshot.content_hash


def test_snapshot_outlives_its_dataset(team: Team) -> None:
    dataset = make(team, rows=[{"question": "a"}])
    snapshot = services.dataset_snapshot_create(dataset=dataset)
    services.dataset_delete(dataset=dataset)
    snapshot.refresh_from_db()
    assert snapshot.dataset is None
    assert snapshot.name == "Quiz" and snapshot.rows[0]["values"]["question"] == "a"


def test_snapshot_hash_depends_on_content_not_on_the_dataset(team: Team) -> None:
    user = UserFactory()
    a = services.dataset_create(
        workspace=team.workspace, user=user, name="A", columns=COLUMNS, rows=[{"question": "x"}]
    )
    b = services.dataset_create(
        workspace=WorkspaceFactory(), user=user, name="B", columns=COLUMNS, rows=[{"question": "x"}]
    )
    assert (
        services.dataset_snapshot_create(dataset=a).content_hash
        == services.dataset_snapshot_create(dataset=b).content_hash
    )
    assert DatasetSnapshot.objects.count() == 2
