from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.tests.factories import UserFactory, WorkspaceFactory
from prompts import assets as a
from prompts.assets import AssetError, inspect_upload, sniff
from prompts.models import Asset
from prompts.services import UPLOAD_TOO_LARGE, asset_create
from prompts.tests import media
from prompts.tests.conftest import stored_files


def upload(data: bytes, name: str = "file.bin", content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
@pytest.mark.django_db
def test_images_are_stored_reencoded_with_a_thumbnail(fmt: str, mime: str, media_root: Path) -> None:
    workspace = WorkspaceFactory()
    asset, created = asset_create(
        workspace=workspace, user=None, upload=upload(media.image_bytes(fmt, size=(640, 480)), f"x.{fmt.lower()}")
    )
    assert created
    assert (asset.kind, asset.mime_type, asset.width, asset.height) == ("image", mime, 640, 480)
    assert asset.file.name == f"assets/{workspace.pk}/{asset.sha256}.{asset.extension}"
    with Image.open(io.BytesIO(asset.read_bytes())) as stored:
        assert stored.format == fmt
    with Image.open(asset.thumbnail.open("rb")) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 320
    assert sorted(stored_files(media_root)) == sorted([asset.file.name, asset.thumbnail.name])


@pytest.mark.django_db
def test_same_bytes_are_stored_once_per_workspace(media_root: Path) -> None:
    workspace, other = WorkspaceFactory(), WorkspaceFactory()
    data = media.image_bytes()
    first, created = asset_create(workspace=workspace, user=None, upload=upload(data, "a.png"))
    again, created_again = asset_create(workspace=workspace, user=None, upload=upload(data, "b.png"))
    elsewhere, _ = asset_create(workspace=other, user=None, upload=upload(data, "c.png"))
    assert created and not created_again
    assert again.pk == first.pk and elsewhere.pk != first.pk
    assert Asset.objects.filter(workspace=workspace).count() == 1
    assert len(stored_files(media_root)) == 4  # file + thumbnail per workspace


def test_jpeg_metadata_is_stripped() -> None:
    original = media.jpeg_with_exif()
    assert b"SecretCam" in original
    checked = inspect_upload(original)
    assert b"SecretCam" not in checked.data and b"Leaky" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as image:
        assert not image.getexif()


def test_animated_gif_keeps_its_first_frame() -> None:
    checked = inspect_upload(media.animated_gif())
    with Image.open(io.BytesIO(checked.data)) as image:
        assert getattr(image, "n_frames", 1) == 1


def test_audio_and_pdf_are_recognised_by_content() -> None:
    wav = inspect_upload(media.wav_bytes(seconds=0.5))
    assert (wav.kind, wav.mime_type, wav.duration) == ("audio", "audio/wav", 0.5)
    mp3 = inspect_upload(media.mp3_bytes(frames=10))
    assert (mp3.kind, mp3.mime_type) == ("audio", "audio/mpeg")
    assert mp3.data.startswith(media.MP3_HEADER)  # the ID3 tag is removed
    assert mp3.duration == pytest.approx(10 * 1152 / 44100, abs=0.01)
    pdf = inspect_upload(media.pdf_bytes(pages=3))
    assert (pdf.kind, pdf.mime_type, pdf.page_count) == ("document", "application/pdf", 3)


BAD_UPLOADS: list[tuple[str, Any, str]] = [
    ("bomb-real.png", media.solid_huge_png, a.DECOMPRESSION_BOMB),
    ("bomb-crafted.png", media.crafted_bomb_png, a.DECOMPRESSION_BOMB),
    ("html.png", media.html_with_png_header, a.ACTIVE_CONTENT_REFUSED),
    ("drawing.svg", lambda: media.SVG, a.SVG_REFUSED),
    ("picture.png", lambda: media.SVG, a.SVG_REFUSED),
    ("page.jpg", lambda: b"<!DOCTYPE html><html><script>x()</script></html>", a.ACTIVE_CONTENT_REFUSED),
    ("truncated.jpg", media.truncated_jpeg, a.DAMAGED_IMAGE.format(format="JPEG")),
    ("empty.png", lambda: b"", a.EMPTY_FILE),
    ("report.pdf", media.zip_bytes, a.ZIP_REFUSED),
    ("cut.pdf", lambda: media.pdf_bytes()[:-8], a.PDF_NO_EOF),
    (
        "active.pdf",
        lambda: media.pdf_bytes().replace(
            b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>"
        ),
        a.PDF_ACTIVE,
    ),
    ("noise.mp3", lambda: b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x12\x34" * 500, a.DAMAGED_MP3),
    ("cut.wav", lambda: media.wav_bytes()[:200], a.DAMAGED_WAV),
    ("script.png", lambda: b"#!/bin/sh\nrm -rf /\n", a.ACTIVE_CONTENT_REFUSED),
    ("data.bin", lambda: b"\x00\x01\x02 just some bytes", a.UNKNOWN_TYPE),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
@pytest.mark.django_db
def test_bad_uploads_are_refused_and_nothing_is_stored(name: str, make: Any, message: str, media_root: Path) -> None:
    with pytest.raises(AssetError) as info:
        asset_create(workspace=WorkspaceFactory(), user=UserFactory(), upload=upload(make(), name, "image/png"))
    assert str(info.value) == message
    assert info.value.message_dict == {"file": [message]}
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.django_db
def test_pixel_limit_is_checked_before_decoding(settings: Any, media_root: Path) -> None:
    settings.ASSET_MAX_IMAGE_PIXELS = 1000
    with pytest.raises(AssetError) as info:
        asset_create(workspace=WorkspaceFactory(), user=None, upload=upload(media.image_bytes(size=(50, 30))))
    assert str(info.value) == a.TOO_MANY_PIXELS.format(width=50, height=30, limit="0.001")
    assert Asset.objects.count() == 0 and stored_files(media_root) == []


@pytest.mark.django_db
def test_oversize_files_are_refused(settings: Any, media_root: Path) -> None:
    settings.ASSET_MAX_IMAGE_BYTES = 100
    data = media.image_bytes(size=(300, 300), color=(1, 2, 3))
    with pytest.raises(AssetError) as info:
        asset_create(workspace=WorkspaceFactory(), user=None, upload=upload(data, "big.png"))
    assert str(info.value) == a.TOO_LARGE.format(size=a.human_size(len(data)), kind="image", limit="100 bytes")
    settings.ASSET_MAX_AUDIO_BYTES = settings.ASSET_MAX_DOCUMENT_BYTES = 100
    with pytest.raises(AssetError) as info:
        asset_create(workspace=WorkspaceFactory(), user=None, upload=upload(data, "big.png"))
    assert str(info.value) == UPLOAD_TOO_LARGE.format(size=a.human_size(len(data)), limit="100 bytes")
    assert Asset.objects.count() == 0 and stored_files(media_root) == []


def test_sniffing_ignores_names_and_finds_markup() -> None:
    assert sniff(media.image_bytes("WEBP")) == "WEBP"
    assert sniff(media.wav_bytes()) == "WAV"
    assert sniff(b"  <svg xmlns='http://www.w3.org/2000/svg'/>") == "SVG"
    assert sniff(b"<html><body>hi</body></html>") == "MARKUP"
    assert sniff(b"plain text") is None
