"""Done when 2: generated snippets are executed against the fake provider server and get an answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from exports import snippets
from exports.snippets import SnippetError, snippet_for
from prompts.services import version_create
from providers.fake_server import FakeProvider

PYTHON = str(Path(django_settings.BASE_DIR) / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():  # pragma: no cover - a venv elsewhere
    PYTHON = sys.executable
KEY = "sk-snippet-test"


def env_for(fake: FakeProvider) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake.base_url("openai"),
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake.base_url("anthropic"),
        "MISTRAL_API_KEY": KEY,
        "MISTRAL_SERVER_URL": fake.base_url("mistral"),
        "OPENAI_MAX_RETRIES": "0",
    }


def run(snippet: snippets.Snippet, argv: list[str], fake: FakeProvider, folder: Path) -> str:
    for item in snippet.files:
        from prompts.models import Asset

        (folder / item["name"]).write_bytes(Asset.objects.get(pk=item["asset"]).read_bytes())
    path = folder / snippet.filename
    path.write_text(snippet.code)
    done = subprocess.run(
        [*argv, str(path)], cwd=folder, env=env_for(fake), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def anthropic_version(filled: Any) -> Any:
    """A version Anthropic can take (image + PDF, no audio), with a temperature the SDK must not send."""
    content = dict(filled.prompt.versions.get(number=2).content)
    user = content["messages"][1]
    content["messages"] = [
        content["messages"][0],
        {**user, "content": [p for p in user["content"] if p["type"] != "audio"]},
    ]
    content["model"] = {"provider": "anthropic", "name": "claude-haiku-4-5", "temperature": 0.7, "max_tokens": 300}
    version, _ = version_create(prompt=filled.prompt, user=None, content=content)
    return version


@pytest.mark.django_db
@pytest.mark.parametrize("media", ["data-url", "file"])
def test_python_openai_snippet_runs_and_gets_an_answer(
    filled: Any, fake_provider: FakeProvider, tmp_path: Path, media: str
) -> None:
    version = filled.prompt.versions.get(number=2)
    snippet = snippet_for(version=version, lang="python-openai", variables={"subject": "invoice"}, media=media)
    assert KEY not in snippet.code and "OPENAI_API_KEY" in snippet.code
    out = run(snippet, [PYTHON], fake_provider, tmp_path)
    assert out.startswith("Echo: Describe the invoice in the picture")
    assert "[image image/png" in out and "[audio wav" in out and "[document invoice.pdf application/pdf" in out
    sent = fake_provider.last("openai").body
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.5
    assert sent["messages"][0] == {"role": "system", "content": "You are a careful analyst."}
    if media == "file":
        assert {f["name"] for f in snippet.files} == {"chart.png", "clip.wav", "invoice.pdf"}
        assert "iVBOR" not in snippet.code  # the PNG is read from the file, not pasted in


@pytest.mark.django_db
@pytest.mark.parametrize("media", ["data-url", "file"])
def test_python_anthropic_snippet_runs_without_sampling_params(
    anthropic_version: Any, fake_provider: FakeProvider, tmp_path: Path, media: str
) -> None:
    snippet = snippet_for(version=anthropic_version, lang="python-anthropic", media=media)
    assert "temperature" not in snippet.code.split("client = Anthropic()")[1]
    assert any("temperature" in w for w in snippet.warnings)
    out = run(snippet, [PYTHON], fake_provider, tmp_path)
    assert out.startswith("Echo: Describe the receipt") and "[image image/png" in out and "[document" in out
    sent = fake_provider.last("anthropic")
    assert sent.body["model"] == "claude-haiku-4-5" and sent.body["max_tokens"] == 300
    assert sent.body["system"] == "You are a careful analyst."
    assert sent.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.django_db
@pytest.mark.parametrize("media", ["data-url", "file"])
def test_python_mistral_snippet_runs(filled: Any, fake_provider: FakeProvider, tmp_path: Path, media: str) -> None:
    snippet = snippet_for(version=filled.prompt.versions.get(number=2), lang="python-mistral", media=media)
    assert "from mistralai.client import Mistral" in snippet.code
    assert snippet.model == "mistral-small-latest"  # the version is for OpenAI: Mistral's default model
    out = run(snippet, [PYTHON], fake_provider, tmp_path)
    assert out.startswith("Echo: Describe the receipt") and "[image image/png" in out
    assert fake_provider.last("mistral").body["model"] == "mistral-small-latest"


@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("media", ["data-url", "file"])
def test_curl_snippet_runs(filled: Any, fake_provider: FakeProvider, tmp_path: Path, media: str) -> None:
    snippet = snippet_for(
        version=filled.prompt.versions.get(number=2),
        lang="curl",
        media=media,
        variables={"subject": "a $HOME `pwd` \\n test"},
    )
    out = run(snippet, ["bash"], fake_provider, tmp_path)
    assert '"content": "Echo: Describe the a $HOME `pwd` \\\\n test in the picture' in out
    assert "[audio wav" in out and "[document invoice.pdf application/pdf" in out


@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_snippet_for_anthropic_sends_the_version_header(
    anthropic_version: Any, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    snippet = snippet_for(version=anthropic_version, lang="curl", media="file")
    out = run(snippet, ["bash"], fake_provider, tmp_path)
    assert "Echo: Describe the receipt" in out
    assert fake_provider.last("anthropic").headers["anthropic-version"] == snippets.ANTHROPIC_VERSION


@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("media", ["data-url", "file"])
def test_javascript_snippet_passes_node_check_and_runs(
    filled: Any, anthropic_version: Any, fake_provider: FakeProvider, tmp_path: Path, media: str
) -> None:
    for version, needle in ((filled.prompt.versions.get(number=2), "[audio wav"), (anthropic_version, "[document")):
        snippet = snippet_for(version=version, lang="javascript", media=media)
        path = tmp_path / snippet.filename
        path.write_text(snippet.code)
        check = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        out = run(snippet, ["node"], fake_provider, tmp_path)
        assert out.startswith("Echo: Describe the receipt") and needle in out


@pytest.mark.django_db
def test_resolve_snippet_compiles_and_names_the_label(filled: Any) -> None:
    snippet = snippet_for(version=filled.prompt.versions.get(number=2), lang="python-resolve", label="production")
    compile(snippet.code, snippet.filename, "exec")
    assert "label=production" in snippet.code and f'PROMPT = "{filled.prompt.slug}"' in snippet.code
    assert "STUDIO_TOKEN" in snippet.code


@pytest.mark.django_db(transaction=True)
def test_resolve_snippet_fetches_the_labelled_version_from_the_studio_and_runs(
    filled: Any, team: Any, live_server: Any, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    from rest_framework_simplejwt.tokens import RefreshToken

    snippet = snippet_for(
        version=filled.prompt.versions.get(number=2),
        lang="python-resolve",
        label="production",
        variables={"subject": "menu"},
        studio_url=live_server.url,
    )
    path = tmp_path / snippet.filename
    path.write_text(snippet.code)
    env = {**env_for(fake_provider), "STUDIO_TOKEN": str(RefreshToken.for_user(team.viewer).access_token)}
    done = subprocess.run([PYTHON, str(path)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{filled.prompt.slug} v2: Echo: Describe the menu in the picture")
    assert "[image image/png" in done.stdout and "[audio wav" in done.stdout


@pytest.mark.django_db
def test_snippet_errors_are_clear(filled: Any) -> None:
    version = filled.prompt.versions.get(number=2)
    with pytest.raises(SnippetError) as caught:
        snippet_for(version=version, lang="python-anthropic")
    assert caught.value.text.startswith("messages[1].content[2] is an audio (audio/wav), which Anthropic model")
    with pytest.raises(SnippetError, match="Unknown variable: nope"):
        snippet_for(version=version, lang="python-openai", variables={"nope": 1})
    with pytest.raises(SnippetError, match="lang must be one of"):
        snippet_for(version=version, lang="cobol")
