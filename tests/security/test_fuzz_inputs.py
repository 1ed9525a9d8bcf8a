"""Input fuzzing with hypothesis: the content validator, the renderer, the upload checker and the importers.

Each property: whatever comes in, the only exception is the module's own clear refusal (a
ValidationError subclass with a non-empty message), and a refused upload or import stores nothing.
Examples are bounded and derandomized so CI stays fast and repeatable.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from abtests.datasets import DatasetError
from abtests.importers import import_dataset
from abtests.models import Dataset
from prompts.assets import AssetError, inspect_upload
from prompts.content import ContentError, validate_content
from prompts.models import Asset
from prompts.rendering import RenderError, render
from prompts.services import asset_create

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_DB = settings(FUZZ, max_examples=100)

# --- strategies ----------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
NAMES = st.sampled_from(["subject", "photo", "x", "_y", "1bad", "a.b", "", "name with space", "clip", "doc"])
PART_TYPES = st.sampled_from(["text", "image", "audio", "document", "video", 3, None])
TEXTS = st.sampled_from(
    ["plain", "Hi {{subject}}", "{{ photo }}", "{{a.b}}", "{{ x|upper }}", "{{", "}}", "{{{{x}}}}", "{% if %}", ""]
) | st.text(max_size=40)


@st.composite
def parts(draw: Any) -> Any:
    part: dict[str, Any] = {"type": draw(PART_TYPES)}
    for key, strategy in (
        ("text", TEXTS),
        ("asset", st.sampled_from(["00000000-0000-0000-0000-000000000000", "not-a-uuid", 5])),
        ("url", st.sampled_from(["https://example.com/a.png", "javascript:alert(1)", "ftp://x", "http://", 1])),
        ("variable", NAMES),
        ("detail", st.sampled_from(["auto", "low", "high", "huge", None])),
        ("extra", json_values),
    ):
        if draw(st.booleans()):
            part[key] = draw(strategy)
    return part if draw(st.integers(0, 9)) else draw(json_values)


@st.composite
def variables(draw: Any) -> Any:
    var: dict[str, Any] = {"name": draw(NAMES)}
    if draw(st.booleans()):
        var["type"] = draw(st.sampled_from(["text", "number", "json", "image", "audio", "document", "blob", None]))
    if draw(st.booleans()):
        var["default"] = draw(json_values)
    if draw(st.booleans()):
        var["description"] = draw(st.text(max_size=20))
    return var


@st.composite
def documents(draw: Any) -> Any:
    """Mostly well-shaped documents with wrong bits, sometimes arbitrary JSON."""
    if not draw(st.integers(0, 5)):
        return draw(json_values)
    document: dict[str, Any] = {
        "messages": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "role": st.sampled_from(["system", "user", "assistant", "tool", 1]),
                        "content": st.lists(parts(), max_size=4),
                    }
                )
                | json_values,
                max_size=3,
            )
        )
    }
    if draw(st.booleans()):
        document["variables"] = draw(st.lists(variables(), max_size=4) | json_values)
    if draw(st.booleans()):
        document["model"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "provider": st.sampled_from(["openai", "echo", "nope", 1]),
                    "name": st.text(max_size=10),
                    "temperature": json_scalars,
                    "max_tokens": json_scalars,
                    "response_format": json_values,
                },
            )
            | json_values
        )
    if draw(st.booleans()):
        document[draw(st.text(max_size=8))] = draw(json_values)
    return document


def assert_clear(error: Exception) -> None:
    assert str(error).strip(), f"{type(error).__name__} without a message"


# --- content schema and renderer ---------------------------------------------------------------------


@FUZZ
@given(document=documents())
def test_content_validator_only_raises_content_error(document: Any) -> None:
    try:
        validate_content(document, workspace_id=None)
    except ContentError as error:
        assert_clear(error)


def _text_doc() -> dict[str, Any]:
    return validate_content(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi {{subject}} and {{count}} {{blob}}"}]}
            ],
            "variables": [
                {"name": "subject", "type": "text", "default": "a cat"},
                {"name": "count", "type": "number"},
                {"name": "blob", "type": "json"},
                {"name": "photo", "type": "image"},
            ],
        },
        workspace_id=None,
    )


@FUZZ
@given(
    values=st.dictionaries(
        st.sampled_from(["subject", "count", "blob", "photo", "other", ""]) | st.text(max_size=5),
        json_values,
        max_size=5,
    )
    | json_values
)
def test_renderer_only_raises_render_error(values: Any) -> None:
    try:
        render(_text_doc(), values)
    except RenderError as error:
        assert_clear(error)


VAR_NAMES = st.sampled_from(["subject", "count", "blob", "photo", "_x"])


@st.composite
def valid_documents(draw: Any) -> dict[str, Any]:
    """Documents that pass the validator: text with {{ variables }}, declared text/number/json variables."""
    names = draw(st.lists(VAR_NAMES, unique=True, max_size=4))
    declared = []
    for name in names:
        kind = draw(st.sampled_from(["text", "number", "json"]))
        var: dict[str, Any] = {"name": name, "type": kind}
        if draw(st.booleans()):
            var["default"] = draw(
                {"text": st.text(max_size=10), "number": st.integers(-5, 5), "json": json_values}[kind]
            )
        declared.append(var)
    text = " ".join([draw(st.text(alphabet="ab {}<>&\"'", max_size=12))] + [f"{{{{ {n} }}}}" for n in names])
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": text or "hi"}]}], "variables": declared}


@FUZZ
@given(
    document=valid_documents() | documents(),
    values=st.dictionaries(NAMES | VAR_NAMES, json_values, max_size=4) | json_values,
)
def test_any_document_the_validator_accepts_renders_or_refuses_clearly(document: Any, values: Any) -> None:
    try:
        clean = validate_content(document, workspace_id=None)
    except ContentError:
        return
    try:
        render(clean, values)
    except RenderError as error:
        assert_clear(error)


# --- upload checker ------------------------------------------------------------------------------------


def _image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (24, 16), (10, 120, 200))
    image.save(buffer, format=fmt)
    return buffer.getvalue()


REAL_FILES = {fmt: _image_bytes(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP")}
HEADERS = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"ID3",
    b"\xff\xfb",
    b"%PDF-1.7\n",
    b"PK\x03\x04",
    b"<svg ",
    b"<html>",
]


@st.composite
def mutated_files(draw: Any) -> bytes:
    data = bytearray(REAL_FILES[draw(st.sampled_from(sorted(REAL_FILES)))])
    mode = draw(st.sampled_from(["truncate", "flip", "both", "splice"]))
    if mode in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    if mode in ("flip", "both") and data:
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if mode == "splice":
        data = bytearray(draw(st.sampled_from(HEADERS))) + data[draw(st.integers(0, len(data))) :]
    return bytes(data)


any_upload = (
    st.binary(max_size=2048)
    | st.builds(lambda h, b: h + b, st.sampled_from(HEADERS), st.binary(max_size=512))
    | mutated_files()
)


@FUZZ
@given(data=any_upload)
def test_upload_checker_only_raises_the_upload_error(data: bytes) -> None:
    try:
        checked = inspect_upload(data)
    except AssetError as error:
        assert_clear(error)
    else:
        assert checked.data


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.django_db
@FUZZ_DB
@given(data=any_upload)
def test_a_refused_upload_stores_nothing(data: bytes, team: Any, settings: Any, tmp_path: Path) -> None:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    before = (Asset.objects.count(), len(stored_files(root)) if root.exists() else 0)
    try:
        asset_create(workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile("f.png", data))
    except AssetError as error:
        assert_clear(error)
        assert (Asset.objects.count(), len(stored_files(root)) if root.exists() else 0) == before


# --- importers -----------------------------------------------------------------------------------------

_names = itertools.count()
CSV_LIKE = st.sampled_from(
    [
        b"",
        b"a,b\n1,2\n",
        b"a\n",
        b"\xff\xfe",
        b'"unclosed\n',
        b"a,a\n1,2\n",
        b"{}\n",
        b"[1]\n",
        b'{"a": 1}\n{"b": 2}\n',
        b"PK\x03\x04",
        b"\x00" * 10,
        b",\n,\n",
        b"a;b\r\n1;2",
    ]
)
import_bytes = st.binary(max_size=1024) | st.builds(lambda a, b: a + b, CSV_LIKE, st.binary(max_size=64)) | CSV_LIKE


@pytest.mark.django_db
@FUZZ_DB
@given(data=import_bytes, ext=st.sampled_from(["csv", "jsonl", "zip", "txt", "json", ""]))
def test_dataset_importer_refuses_clearly_and_keeps_nothing(data: bytes, ext: str, team: Any) -> None:
    before = Dataset.objects.count()
    name = f"fuzz {next(_names)}"
    upload = SimpleUploadedFile(f"data.{ext}" if ext else "data", data)
    try:
        result = import_dataset(workspace=team.workspace, user=team.editor, name=name, upload=upload)
    except DatasetError as error:
        assert_clear(error)
        assert Dataset.objects.count() == before
    else:
        assert result is not None
        assert Dataset.objects.filter(workspace=team.workspace, name=name).exists()


try:
    from exports.formats import ImportRefused
    from exports.services import bundle_import
except ImportError:  # pragma: no cover - the exports app is optional in this file
    bundle_import = None


EXPORT_LIKE = st.sampled_from(
    [
        b"",
        b"{}",
        b"[]",
        b'{"format": "mps-export", "version": 1}',
        b'{"format": "mps-export", "version": 99}',
        b"format: mps-export\nversion: 1\n",
        b"PK\x03\x04",
        b"- a\n- b\n",
        b"!!python/object:os.system\n",
        json.dumps({"format": "mps-export", "version": 1, "kind": "prompt", "prompts": [{"name": 1}]}).encode(),
        json.dumps({"format": "mps-export", "version": 1, "kind": "prompt", "prompts": "x"}).encode(),
    ]
)


@pytest.mark.django_db
@pytest.mark.skipif(bundle_import is None, reason="exports app not present")
@FUZZ_DB
@given(
    data=st.binary(max_size=1024) | EXPORT_LIKE | st.builds(lambda a, b: a + b, EXPORT_LIKE, st.binary(max_size=32)),
    name=st.sampled_from(["x.json", "x.yaml", "x.zip", "x"]),
)
def test_exports_importer_refuses_clearly_and_keeps_nothing(data: bytes, name: str, team: Any) -> None:
    from prompts.models import Prompt

    before = Prompt.objects.count()
    try:
        bundle_import(workspace=team.workspace, user=team.editor, upload=SimpleUploadedFile(name, data), dry_run=False)
    except ImportRefused as error:
        assert_clear(error)
        assert Prompt.objects.count() == before
