from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from prompts import content as c
from prompts.models import VERSION_IMMUTABLE, Label, LabelMove, Prompt, PromptVersion
from prompts.services import prompt_create, version_create
from prompts.tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


def doc(text: str = "Describe {{subject}}", **extra: Any) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
            {"role": "user", "content": [{"type": "text", "text": text}]},
        ],
        "model": {"provider": "echo", "name": "echo-1"},
        **extra,
    }


def make_prompt(team: Any, name: str = "Captioner", versions: int = 1) -> Prompt:
    prompt = prompt_create(workspace=team.workspace, user=team.editor, name=name, tags=["vision"])
    for n in range(versions):
        version_create(
            prompt=prompt, user=team.editor, content=doc(f"Describe {{{{subject}}}} v{n + 1}"), message=f"v{n + 1}"
        )
    return prompt


def test_create_prompt_with_first_version(team: Any, api: Any) -> None:
    response = api(team.editor).post(
        reverse("api:prompt-list"),
        {
            "workspace": team.workspace.pk,
            "name": "Image captioner",
            "tags": ["Vision", "vision", "demo"],
            "content": doc(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["workspace"] == team.workspace.pk
    assert body["slug"] == "image-captioner"
    assert body["tags"] == ["vision", "demo"]
    assert body["latest_version"] == 1
    version = PromptVersion.objects.get(prompt_id=body["id"])
    assert version.variables == [{"name": "subject", "type": "text"}]
    assert version.author == team.editor and version.message == "First version"


def test_slugs_are_deduplicated_per_workspace(team: Any, api: Any) -> None:
    client = api(team.editor)
    slugs = [
        client.post(reverse("api:prompt-list"), {"workspace": team.workspace.pk, "name": "Same"}, format="json").json()[
            "slug"
        ]
        for _ in range(3)
    ]
    assert slugs == ["same", "same-2", "same-3"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"messages": [{"role": "robot", "content": "hi"}]}, f"messages[0].role: {c.UNKNOWN_ROLE}"),
        (
            {"messages": [{"role": "user", "content": [{"type": "video", "url": "https://a.b/v.mp4"}]}]},
            f"messages[0].content[0].type: {c.UNKNOWN_PART_TYPE}",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "variables": [{"name": "bad name"}]},
            f"variables[0].name: {c.BAD_VARIABLE_NAME}",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "a"},
                            {"type": "image", "url": "https://a.b/c.png"},
                            {"type": "image", "asset": "00000000-0000-4000-8000-000000000000"},
                        ],
                    },
                ]
            },
            "messages[1].content[2].asset: unknown asset",
        ),
    ],
)
def test_malformed_content_is_a_400_naming_the_path_and_saves_nothing(
    team: Any, api: Any, content: Any, message: str
) -> None:
    response = api(team.editor).post(
        reverse("api:prompt-list"),
        {"workspace": team.workspace.pk, "name": "Broken", "content": content},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert not Prompt.objects.exists() and not PromptVersion.objects.exists()


def test_asset_from_another_workspace_is_unknown(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    theirs = AssetFactory(workspace=team.other_workspace)
    content = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image", "asset": str(theirs.pk)}]}
        ]
    }
    response = api(team.editor).post(reverse("api:version-list", args=[prompt.pk]), {"content": content}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "messages[0].content[1].asset: unknown asset"
    assert prompt.versions.count() == 1
    mine = AssetFactory(workspace=team.workspace)
    content["messages"][0]["content"][1]["asset"] = str(mine.pk)
    response = api(team.editor).post(reverse("api:version-list", args=[prompt.pk]), {"content": content}, format="json")
    assert response.status_code == 201


def test_list_filters_and_detail(team: Any, api: Any) -> None:
    a = make_prompt(team, "Receipt reader")
    b = make_prompt(team, "Chart QA")
    Prompt.objects.filter(pk=b.pk).update(tags=["charts"], description="answers questions about charts")
    make_prompt(team, "Old one").__class__.objects.filter(name="Old one").update(archived=True)
    Label.objects.create(prompt=a, name="production", version=a.versions.get())
    client = api(team.viewer)
    url = reverse("api:prompt-list")

    def names(**params: Any) -> list[str]:
        response = client.get(url, {"workspace": team.workspace.pk, **params})
        assert response.status_code == 200
        return sorted(p["name"] for p in response.json()["results"])

    assert names() == ["Chart QA", "Receipt reader"]
    assert names(search="questions") == ["Chart QA"]
    assert names(tag="charts") == ["Chart QA"]
    assert names(tag="vision") == ["Receipt reader"]
    assert names(label="production") == ["Receipt reader"]
    assert names(archived="true") == ["Old one"]
    assert names(archived="all") == ["Chart QA", "Old one", "Receipt reader"]
    assert names(sort="name") == ["Chart QA", "Receipt reader"]
    detail = client.get(reverse("api:prompt-detail", args=[a.pk])).json()
    assert detail["labels"] == {"production": 1} and detail["workspace"] == team.workspace.pk
    assert client.get(url, {"archived": "maybe"}).status_code == 400


def test_patch_and_delete_prompt(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    response = api(team.editor).patch(
        reverse("api:prompt-detail", args=[prompt.pk]),
        {"name": "Renamed", "archived": True, "tags": ["x"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed" and response.json()["slug"] == "captioner"  # the slug stays
    assert response.json()["archived"] is True and response.json()["tags"] == ["x"]
    assert api(team.editor).delete(reverse("api:prompt-detail", args=[prompt.pk])).status_code == 403
    assert api(team.admin).delete(reverse("api:prompt-detail", args=[prompt.pk])).status_code == 204
    assert not Prompt.objects.exists() and not PromptVersion.objects.exists()


def test_duplicate_copies_the_latest_version(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    response = api(team.editor).post(reverse("api:prompt-duplicate", args=[prompt.pk]), {}, format="json")
    assert response.status_code == 201
    copy = Prompt.objects.get(pk=response.json()["id"])
    assert copy.name == "Copy of Captioner" and copy.slug == "copy-of-captioner"
    assert copy.versions.get().content == prompt.versions.get(number=2).content


def test_versions_list_create_and_identical_content(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    client = api(team.editor)
    url = reverse("api:version-list", args=[prompt.pk])
    response = client.post(url, {"content": doc("changed {{subject}}"), "message": "second"}, format="json")
    assert response.status_code == 201
    assert response.json()["created"] is True and response.json()["version"]["number"] == 2
    same = client.post(url, {"content": doc("changed {{subject}}"), "message": "again"}, format="json")
    assert same.status_code == 200 and same.json()["created"] is False and same.json()["version"]["number"] == 2
    assert prompt.versions.count() == 2
    listing = client.get(url).json()
    assert [v["number"] for v in listing["results"]] == [2, 1]
    assert listing["results"][0]["workspace"] == team.workspace.pk
    detail = client.get(reverse("api:version-detail", args=[prompt.pk, 2])).json()
    assert detail["content"]["messages"][1]["content"][0]["text"] == "changed {{subject}}"
    assert detail["message"] == "second"
    assert client.get(reverse("api:version-detail", args=[prompt.pk, 9])).status_code == 404


def test_versions_are_immutable(team: Any, api: Any) -> None:
    prompt = make_prompt(team)
    client = api(team.owner)
    url = reverse("api:version-detail", args=[prompt.pk, 1])
    assert client.put(url, {"content": doc("x")}, format="json").status_code == 405
    assert client.patch(url, {"message": "x"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    version = prompt.versions.get()
    version.message = "rewritten"
    with pytest.raises(ValidationError, match=VERSION_IMMUTABLE):
        version.save()
    assert PromptVersion.objects.get(pk=version.pk).message == "v1"


def test_restore_creates_a_new_version(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    response = api(team.editor).post(reverse("api:version-restore", args=[prompt.pk, 1]))
    assert response.status_code == 201
    v3 = prompt.versions.get(number=3)
    assert v3.message == "Restore version 1" and v3.content_hash == prompt.versions.get(number=1).content_hash


def test_diff(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    response = api(team.viewer).get(reverse("api:prompt-diff", args=[prompt.pk]), {"from": 1, "to": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["changed"]) == (1, 2, True)
    assert [m["status"] for m in body["messages"]] == ["unchanged", "changed"]
    part = body["messages"][1]["parts"][0]
    assert part["status"] == "changed"
    assert part["words"] == [
        {"op": "equal", "text": "Describe {{subject}} "},
        {"op": "delete", "text": "v1"},
        {"op": "insert", "text": "v2"},
    ]
    assert "-Describe {{subject}} v1" in part["unified"] and "+Describe {{subject}} v2" in part["unified"]
    assert api(team.viewer).get(reverse("api:prompt-diff", args=[prompt.pk])).status_code == 400
    assert api(team.viewer).get(reverse("api:prompt-diff", args=[prompt.pk]), {"from": 1, "to": 7}).status_code == 404


def test_labels_move_and_delete_with_history(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    client = api(team.editor)
    url = reverse("api:label-detail", args=[prompt.pk, "production"])
    assert client.put(url, {"version": 1}, format="json").json()["version"] == 1
    assert client.put(url, {"version": 2}, format="json").json()["version"] == 2
    assert client.put(url, {"version": 2}, format="json").status_code == 200  # no move: same version
    assert client.put(url, {"version": 5}, format="json").status_code == 404  # no such version
    bad = client.put(reverse("api:label-detail", args=[prompt.pk, "Not Valid!"]), {"version": 1}, format="json")
    assert bad.status_code == 400
    assert client.delete(url).status_code == 204
    assert client.delete(url).status_code == 404
    moves = list(
        LabelMove.objects.order_by("id").values_list("label", "from_version__number", "to_version__number", "actor")
    )
    assert moves == [
        ("production", None, 1, team.editor.pk),
        ("production", 1, 2, team.editor.pk),
        ("production", 2, None, team.editor.pk),
    ]
    history = client.get(reverse("api:label-list", args=[prompt.pk])).json()
    assert history["labels"] == []
    assert [(h["from_version"], h["to_version"]) for h in history["history"]] == [(2, None), (1, 2), (None, 1)]


def test_resolve_follows_labels_and_supports_etags(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    client = api(team.viewer)
    url = reverse("api:prompt-resolve")
    params = {"workspace": team.workspace.pk, "name": prompt.slug, "label": "production"}
    assert client.get(url, params).status_code == 404
    Label.objects.create(prompt=prompt, name="production", version=prompt.versions.get(number=1))
    response = client.get(url, params)
    assert response.status_code == 200
    assert response.json()["number"] == 1 and response.json()["content"]["messages"][1]["content"][0]["text"].endswith(
        "v1"
    )
    etag = response["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    not_modified = client.get(url, params, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified["ETag"] == etag and not not_modified.content
    assert client.get(url, params, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    api(team.editor).put(reverse("api:label-detail", args=[prompt.pk, "production"]), {"version": 2}, format="json")
    moved = client.get(url, params, HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and moved.json()["number"] == 2 and moved["ETag"] != etag
    assert client.get(url, {"workspace": team.workspace.pk, "name": prompt.slug, "version": 1}).json()["number"] == 1
    assert client.get(url, {"workspace": team.workspace.pk, "name": prompt.slug}).json()["number"] == 2
    assert client.get(url, {"workspace": team.workspace.pk, "name": "nope"}).status_code == 404
    assert client.get(url, {"workspace": team.workspace.pk}).status_code == 400


def test_render(team: Any, api: Any) -> None:
    prompt = make_prompt(team, versions=2)
    client = api(team.viewer)
    url = reverse("api:prompt-render", args=[prompt.pk])
    response = client.post(url, {"version": 1, "variables": {"subject": "a cat"}}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1 and body["model"] == {"provider": "echo", "name": "echo-1"}
    assert body["messages"][1] == {"role": "user", "content": [{"type": "text", "text": "Describe a cat v1"}]}
    latest = client.post(url, {"variables": {"subject": "x"}}, format="json").json()
    assert latest["version"] == 2
    missing = client.post(url, {"variables": {"colour": "red"}}, format="json")
    assert missing.status_code == 400
    assert missing.json()["detail"] == "Missing variable: subject. Unknown variable: colour."
    draft = client.post(
        url,
        {"content": {"messages": [{"role": "user", "content": "Hi {{who}}"}]}, "variables": {"who": "you"}},
        format="json",
    )
    assert draft.json()["messages"][0]["content"][0]["text"] == "Hi you" and draft.json()["version"] is None
    assert client.post(url, {"label": "production"}, format="json").status_code == 404


def test_render_refuses_another_workspaces_asset_as_a_value(team: Any, api: Any) -> None:
    prompt = prompt_create(
        workspace=team.workspace,
        user=team.editor,
        name="Photo",
        content={
            "messages": [{"role": "user", "content": [{"type": "image", "variable": "photo"}]}],
            "variables": [{"name": "photo", "type": "image"}],
        },
    )
    theirs = AssetFactory(workspace=team.other_workspace)
    mine = AssetFactory(workspace=team.workspace)
    url = reverse("api:prompt-render", args=[prompt.pk])
    refused = api(team.viewer).post(url, {"variables": {"photo": str(theirs.pk)}}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"] == "Variable photo: unknown asset."
    ok = api(team.viewer).post(url, {"variables": {"photo": str(mine.pk)}}, format="json")
    assert ok.json()["messages"][0]["content"][0] == {"type": "image", "asset": str(mine.pk), "detail": "auto"}
