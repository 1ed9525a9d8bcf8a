from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from prompts import assets as a
from prompts.models import Asset
from prompts.tests import media
from prompts.tests.conftest import stored_files

pytestmark = pytest.mark.django_db


def post_file(client: Any, workspace: int, data: bytes, name: str, content_type: str = "image/png") -> Any:
    return client.post(
        reverse("api:asset-list"),
        {"workspace": workspace, "file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def test_upload_image_then_read_it_back(team: Any, api: Any) -> None:
    client = api(team.editor)
    response = post_file(client, team.workspace.pk, media.image_bytes("PNG", size=(400, 200)), "chart.png")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["mime_type"], body["width"], body["height"]) == ("image", "image/png", 400, 200)
    assert body["workspace"] == team.workspace.pk and body["original_name"] == "chart.png"
    again = post_file(client, team.workspace.pk, media.image_bytes("PNG", size=(400, 200)), "copy.png")
    assert again.status_code == 200 and again.json()["id"] == body["id"]

    viewer = api(team.viewer)
    assert viewer.get(reverse("api:asset-detail", args=[body["id"]])).json()["sha256"] == body["sha256"]
    content = viewer.get(body["content_url"], HTTP_ACCEPT="image/png")
    assert content.status_code == 200
    assert content["Content-Type"] == "image/png"
    assert content["X-Content-Type-Options"] == "nosniff"
    assert content["Content-Disposition"].startswith("inline")
    assert b"".join(content.streaming_content) == Asset.objects.get(pk=body["id"]).read_bytes()
    thumb = viewer.get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    listing = viewer.get(reverse("api:asset-list"), {"workspace": team.workspace.pk, "kind": "image"}).json()
    assert [x["id"] for x in listing["results"]] == [body["id"]]


def test_non_images_are_served_as_attachments(team: Any, api: Any) -> None:
    client = api(team.editor)
    pdf = post_file(client, team.workspace.pk, media.pdf_bytes(pages=2), "report.html", "text/html")
    assert pdf.status_code == 201 and pdf.json()["mime_type"] == "application/pdf" and pdf.json()["page_count"] == 2
    response = client.get(pdf.json()["content_url"])
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"].startswith("attachment")
        and 'filename="report.pdf"' in response["Content-Disposition"]
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(pdf.json()["content_url"], {"thumbnail": 1}).status_code == 404
    wav = post_file(client, team.workspace.pk, media.wav_bytes(), "voice.wav", "audio/wav")
    assert wav.json()["kind"] == "audio" and wav.json()["duration"] == 0.5
    assert client.get(wav.json()["content_url"])["Content-Disposition"].startswith("attachment")
    mp3 = post_file(client, team.workspace.pk, media.mp3_bytes(), "song.mp3", "audio/mpeg")
    assert mp3.status_code == 201 and mp3.json()["mime_type"] == "audio/mpeg"


BAD = [
    ("bomb.png", media.solid_huge_png, a.DECOMPRESSION_BOMB),
    ("html.png", media.html_with_png_header, a.ACTIVE_CONTENT_REFUSED),
    ("logo.svg", lambda: media.SVG, a.SVG_REFUSED),
    ("photo.jpg", media.truncated_jpeg, a.DAMAGED_IMAGE.format(format="JPEG")),
    ("empty.png", lambda: b"", a.EMPTY_FILE),
    ("report.pdf", media.zip_bytes, a.ZIP_REFUSED),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_get_a_400_with_a_clear_message_and_store_nothing(
    team: Any, api: Any, media_root: Path, name: str, make: Any, message: str
) -> None:
    response = post_file(api(team.editor), team.workspace.pk, make(), name)
    assert response.status_code == 400
    assert response.json()["detail"] == f"file: {message}"
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []


def test_oversize_upload_is_refused(team: Any, api: Any, settings: Any, media_root: Path) -> None:
    settings.ASSET_MAX_IMAGE_BYTES = 1000
    big = media.noisy_png()
    assert len(big) > 1000
    response = post_file(api(team.editor), team.workspace.pk, big, "big.png")
    assert response.status_code == 400
    assert response.json()["detail"] == "file: " + a.TOO_LARGE.format(
        size=a.human_size(len(big)), kind="image", limit=a.human_size(1000)
    )
    assert Asset.objects.count() == 0 and stored_files(media_root) == []
