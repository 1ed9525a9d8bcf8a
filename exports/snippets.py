"""Ready-to-run code snippets for one prompt version.

``snippet_for(version=..., lang=..., variables=..., media=...)`` renders the version with the chosen
variable values and builds the request body with the same provider adapters the studio itself uses
(so a snippet sends exactly what the playground sends), then writes it as code:

* ``python-openai`` (the ``openai`` SDK), ``python-anthropic`` (``anthropic``; no sampling parameters,
  the SDK and the API refuse them), ``python-mistral`` (``from mistralai.client import Mistral``);
* ``javascript`` (``fetch``, Node 18+, an ES module) and ``curl`` (bash) for the version's provider;
* ``python-resolve``: fetches the prompt from the studio's resolve API at run time, renders it there,
  and calls OpenAI, so a label move (deploy/rollback) changes what the script sends without editing it.

Keys and base URLs come from environment variables (OPENAI_API_KEY / OPENAI_BASE_URL,
ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL, MISTRAL_API_KEY / MISTRAL_SERVER_URL, STUDIO_URL / STUDIO_TOKEN);
no secret is ever written into a snippet. Media go in as data URLs (``media="data-url"``) or are read
from files next to the script at run time (``media="file"``; ``Snippet.files`` lists them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

LANGS = ("python-openai", "python-anthropic", "python-mistral", "javascript", "curl", "python-resolve")
LANG_LABELS = {
    "python-openai": "Python (openai)",
    "python-anthropic": "Python (anthropic)",
    "python-mistral": "Python (mistralai)",
    "javascript": "JavaScript (fetch)",
    "curl": "curl",
    "python-resolve": "Python (resolve at run time)",
}
SNIPPET_MEDIA = ("data-url", "file")
FLAVOURS = ("openai", "anthropic", "mistral")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "mistral": "mistral-small-latest"}
ANTHROPIC_VERSION = "2026-10-21"
ENV = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_SERVER_URL", "https://api.mistral.ai"),
}
# Variables the generated scripts read (the studio itself reads none of them).
MISTRAL_KEY, MISTRAL_URL = ENV["mistral"][0], ENV["mistral"][1]
STUDIO_URL_VAR, STUDIO_TOKEN_VAR = "STUDIO_URL", "STUDIO_TOKEN"
PATHS = {"openai": "/chat/completions", "anthropic": "/v1/messages", "mistral": "/v1/chat/completions"}

BAD_LANG = "lang must be one of " + ", ".join(LANGS) + "."
BAD_MEDIA = "media must be data-url or file."
BAD_PROVIDER = "provider must be openai, anthropic or mistral."
URL_NOT_FETCHED = (
    "{where} is {kind} given by URL, which {provider} does not fetch itself; upload it as an asset to use it in "
    "a snippet."
)
ASSET_MISSING = "{where} refers to an asset that is not in this workspace."


class SnippetError(ValidationError):
    def __init__(self, message: str) -> None:
        self.text = message
        super().__init__({"detail": [message]})

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class FileRef:
    """A media file read at run time: ``form`` is "b64" (bare base64) or "data_url"."""

    name: str
    mime_type: str
    form: str


@dataclass
class Snippet:
    lang: str
    provider: str
    model: str
    code: str
    filename: str
    files: list[dict[str, str]] = field(default_factory=list)  # {"name", "asset", "mime_type"}
    warnings: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)


# --- literals -------------------------------------------------------------------------------------


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def py_literal(value: Any, indent: int = 0) -> str:
    pad, inner = "    " * indent, "    " * (indent + 1)
    if isinstance(value, FileRef):
        return f"{'data_url' if value.form == 'data_url' else 'b64'}({_string(value.name)}, {_string(value.mime_type)})"
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_string(str(k))}: {py_literal(v, indent + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{inner}{py_literal(v, indent + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    raise TypeError(type(value).__name__)


def js_literal(value: Any, indent: int = 0) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, FileRef):
        return f"{'dataUrl' if value.form == 'data_url' else 'b64'}({_string(value.name)}, {_string(value.mime_type)})"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_string(str(k))}: {js_literal(v, indent + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [f"{inner}{js_literal(v, indent + 1)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def _substitute(value: Any, refs: dict[str, FileRef]) -> Any:
    if isinstance(value, str) and value in refs:
        return refs[value]
    if isinstance(value, dict):
        return {k: _substitute(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs) for v in value]
    return value


def _has_refs(value: Any) -> bool:
    if isinstance(value, FileRef):
        return True
    if isinstance(value, dict):
        return any(_has_refs(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_refs(v) for v in value)
    return False


# --- building the request --------------------------------------------------------------------------


def _flavour(lang: str, provider: str | None, version_provider: str) -> str:
    fixed = {"python-openai": "openai", "python-anthropic": "anthropic", "python-mistral": "mistral"}.get(lang)
    if fixed:
        return fixed
    if lang == "python-resolve":
        return "openai"
    if provider:
        if provider not in FLAVOURS:
            raise SnippetError(BAD_PROVIDER)
        return provider
    return version_provider if version_provider in FLAVOURS else "openai"


def _file_name(asset: Any, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "_", asset.original_name or "") or f"{asset.kind}.{asset.extension}"
    if "." not in base:
        base = f"{base}.{asset.extension}"
    name, n = base, 2
    while name in used:
        stem, ext = base.rsplit(".", 1)
        name = f"{stem}-{n}.{ext}"
        n += 1
    used.add(name)
    return name


def build_request(
    *, version: Any, flavour: str, variables: dict[str, Any] | None
) -> tuple[dict[str, Any], list[tuple[Any, str]], list[str]]:
    """The wire body for ``flavour``, the assets it embeds (asset, base64) and the adapter's warnings."""
    import base64

    from prompts.models import Asset
    from prompts.rendering import RenderError, render
    from providers.adapters import get_adapter
    from providers.services import PROMPT_MODEL_KEYS
    from providers.types import CompletionRequest, MediaPart, Message, ProviderError, TextPart

    try:
        rendered = render(version.content, variables or {})
    except RenderError as exc:
        raise SnippetError(exc.text) from None
    adapter = get_adapter(flavour)
    model_settings = rendered.get("model") or {}
    same = model_settings.get("provider") == flavour or (
        flavour == "openai" and model_settings.get("provider") == "openai_compatible"
    )
    model = model_settings.get("name") if same and model_settings.get("name") else DEFAULT_MODELS[flavour]
    params = {k: model_settings[k] for k in PROMPT_MODEL_KEYS if model_settings.get(k) is not None}

    ids = {str(part["asset"]) for message in rendered["messages"] for part in message["content"] if part.get("asset")}
    assets = {str(a.pk): a for a in Asset.objects.filter(workspace_id=version.prompt.workspace_id, pk__in=list(ids))}
    embedded: list[tuple[Any, str]] = []
    messages = []
    for m_index, message in enumerate(rendered["messages"]):
        parts: list[Any] = []
        for p_index, part in enumerate(message["content"]):
            where = f"messages[{m_index}].content[{p_index}]"
            kind = part["type"]
            if kind == "text":
                parts.append(TextPart(part["text"]))
            elif part.get("asset"):
                asset = assets.get(str(part["asset"]))
                if asset is None:
                    raise SnippetError(ASSET_MISSING.format(where=where))
                data = asset.read_bytes()
                embedded.append((asset, base64.b64encode(data).decode("ascii")))
                parts.append(
                    MediaPart(
                        kind=kind,
                        mime_type=asset.mime_type,
                        data=data,
                        filename=asset.original_name or f"{kind}.{asset.extension}",
                        detail=part.get("detail"),
                        asset_id=str(asset.pk),
                    )
                )
            else:
                if kind not in adapter.url_kinds:
                    raise SnippetError(
                        URL_NOT_FETCHED.format(
                            where=where, kind=f"an {kind}" if kind == "audio" else f"a {kind}", provider=adapter.label
                        )
                    )
                parts.append(MediaPart(kind=kind, url=part["url"], detail=part.get("detail")))
        messages.append(Message(role=message["role"], parts=tuple(parts)))
    request = CompletionRequest(model=model, messages=messages, params=params, api_key="(from the environment)")
    try:
        adapter.check(request)  # a part this provider cannot take is refused here, as in the playground
    except ProviderError as exc:
        raise SnippetError(exc.message) from None
    if flavour == "mistral":
        body, warnings = adapter.build(request)  # type: ignore[call-arg]
    else:
        body, warnings = adapter.build(request, stream=False)  # type: ignore[call-arg]
    return body, embedded, list(warnings)


# --- writers -----------------------------------------------------------------------------------------


PY_FILE_HELPERS = '''import base64


def b64(path, mime_type):
    """The file next to this script, base64-encoded."""
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode("ascii")


def data_url(path, mime_type):
    return f"data:{mime_type};base64,{b64(path, mime_type)}"

'''

JS_FILE_HELPERS = """import { readFileSync } from "node:fs";

const b64 = (path, mimeType) => readFileSync(path).toString("base64");
const dataUrl = (path, mimeType) => `data:${mimeType};base64,${b64(path, mimeType)}`;

"""


def _header(comment: str, version: Any, lines: list[str]) -> str:
    title = f"{version.prompt.name} v{version.number}"
    body = [f"{comment} {title}: generated by Prompt Studio.", *[f"{comment} {line}" for line in lines]]
    return "\n".join(body) + "\n"


def _python_openai(body: dict[str, Any]) -> str:
    kwargs = "\n".join(f"    {key}={py_literal(value, 1)}," for key, value in body.items())
    return (
        "from openai import OpenAI\n\n"
        "client = OpenAI()  # reads OPENAI_API_KEY, and OPENAI_BASE_URL for another server\n\n"
        f"response = client.chat.completions.create(\n{kwargs}\n)\n"
        "print(response.choices[0].message.content)\n"
    )


def _python_anthropic(body: dict[str, Any]) -> str:
    kwargs = "\n".join(f"    {key}={py_literal(value, 1)}," for key, value in body.items())
    return (
        "from anthropic import Anthropic\n\n"
        "client = Anthropic()  # reads ANTHROPIC_API_KEY, and ANTHROPIC_BASE_URL for another server\n\n"
        f"message = client.messages.create(\n{kwargs}\n)\n"
        'print("".join(block.text for block in message.content if block.type == "text"))\n'
    )


def _python_mistral(body: dict[str, Any]) -> str:
    kwargs = "\n".join(f"    {key}={py_literal(value, 1)}," for key, value in body.items())
    return (
        "import os\n\n"
        "from mistralai.client import Mistral\n\n"
        "# Mistral has no base-URL variable of its own: MISTRAL_SERVER_URL is passed as server_url.\n"
        f'options = {{"api_key": os.environ["{MISTRAL_KEY}"]}}\n'
        f'if os.environ.get("{MISTRAL_URL}"):\n'
        f'    options["server_url"] = os.environ["{MISTRAL_URL}"]\n'
        "client = Mistral(**options)\n\n"
        f"response = client.chat.complete(\n{kwargs}\n)\n"
        "print(response.choices[0].message.content)\n"
    )


def _js_request(flavour: str) -> tuple[str, str, str]:
    key_var, url_var, default = ENV[flavour]
    headers = ['"Content-Type": "application/json"', f"Authorization: `Bearer ${{process.env.{key_var}}}`"]
    if flavour == "anthropic":
        headers.append(f'"anthropic-version": "{ANTHROPIC_VERSION}"')
    url = f'`${{process.env.{url_var} ?? "{default}"}}{PATHS[flavour]}`'
    answer = {
        "anthropic": 'data.content.filter((block) => block.type === "text").map((block) => block.text).join("")',
    }.get(flavour, "data.choices[0].message.content")
    return url, "{ " + ", ".join(headers) + " }", answer


def _javascript(body: dict[str, Any], flavour: str) -> str:
    url, headers, answer = _js_request(flavour)
    return (
        f"const body = {js_literal(body)};\n\n"
        f"const response = await fetch({url}, {{\n"
        '  method: "POST",\n'
        f"  headers: {headers},\n"
        "  body: JSON.stringify(body),\n"
        "});\n"
        "if (!response.ok) {\n"
        "  throw new Error(`${response.status}: ${await response.text()}`);\n"
        "}\n"
        "const data = await response.json();\n"
        f"console.log({answer});\n"
    )


def _shell_var(name: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9]", "_", name).upper().strip("_") or "FILE"
    if base[0].isdigit():
        base = f"F_{base}"
    var, n = base, 2
    while var in used:
        var = f"{base}_{n}"
        n += 1
    used.add(var)
    return var


def _curl(body: dict[str, Any], flavour: str) -> str:
    key_var, url_var, default = ENV[flavour]
    headers = ['-H "Content-Type: application/json"', f'-H "Authorization: Bearer ${key_var}"']
    if flavour == "anthropic":
        headers.append(f'-H "anthropic-version: {ANTHROPIC_VERSION}"')
    lines = [f'curl -sS --fail-with-body "${{{url_var}:-{default}}}{PATHS[flavour]}" \\']
    lines += [f"  {h} \\" for h in headers]
    if not _has_refs(body):
        lines.append("  --data-binary @- <<'JSON'")
        lines.append(json.dumps(body, ensure_ascii=False, indent=2))
        lines.append("JSON")
        return "\n".join(lines) + "\n"
    # Files read at run time: base64 them into shell variables, then expand them in an unquoted heredoc.
    used: set[str] = set()
    variables: dict[tuple[str, str], str] = {}
    prelude: list[str] = []
    marker = "__SNIPPET_FILE_{}__"
    tokens: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, FileRef):
            var = variables.get((value.name, value.mime_type))
            if var is None:
                var = _shell_var(value.name, used)
                variables[(value.name, value.mime_type)] = var
                prelude.append(f"{var}=$(base64 < {_shell_quote(value.name)} | tr -d '\\n')")
            text = f"${{{var}}}" if value.form == "b64" else f"data:{value.mime_type};base64,${{{var}}}"
            token = marker.format(len(tokens))
            tokens[token] = text
            return token
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=False, indent=2)
    text = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
    for token, replacement in tokens.items():
        text = text.replace(token, replacement)
    lines.append("  --data-binary @- <<JSON")
    lines.append(text)
    lines.append("JSON")
    return "\n".join(prelude) + "\n" + "\n".join(lines) + "\n"


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _python_resolve(version: Any, variables: dict[str, Any], label: str | None, studio_url: str) -> str:
    prompt = version.prompt
    selector = f"label={label}" if label else f"version={version.number}"
    return f"""import base64
import json
import os
import urllib.parse
import urllib.request

from openai import OpenAI

STUDIO_URL = os.environ.get("{STUDIO_URL_VAR}", {_string(studio_url)}).rstrip("/")
STUDIO_TOKEN = os.environ["{STUDIO_TOKEN_VAR}"]  # an access token for the studio's API (/api/auth/token/)
WORKSPACE = {prompt.workspace_id}
PROMPT = {_string(prompt.slug)}
VARIABLES = {py_literal(variables)}


def studio(path, body=None):
    request = urllib.request.Request(
        STUDIO_URL + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={{"Authorization": f"Bearer {{STUDIO_TOKEN}}", "Content-Type": "application/json"}},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), response.headers.get_content_type()


# The version the {"label" if label else "number"} points at now, rendered by the studio with our variables.
query = urllib.parse.urlencode({{"workspace": WORKSPACE, "name": PROMPT}}) + "&{selector}"
resolved = json.loads(studio("/api/prompts/resolve/?" + query)[0])
rendered = json.loads(
    studio(f"/api/prompts/{{resolved['prompt']}}/render/", {{"version": resolved["number"], "variables": VARIABLES}})[0]
)


def openai_part(part):
    if part["type"] == "text":
        return {{"type": "text", "text": part["text"]}}
    if part.get("asset"):
        data, mime_type = studio(f"/api/assets/{{part['asset']}}/content/")
        encoded = base64.b64encode(data).decode("ascii")
    else:
        data, mime_type, encoded = None, None, None
    if part["type"] == "image":
        url = f"data:{{mime_type}};base64,{{encoded}}" if encoded else part["url"]
        return {{"type": "image_url", "image_url": {{"url": url, "detail": part.get("detail", "auto")}}}}
    if part["type"] == "audio":
        return {{"type": "input_audio", "input_audio": {{"data": encoded, "format": "mp3" if mime_type == "audio/mpeg" else "wav"}}}}
    return {{"type": "file", "file": {{"filename": "document.pdf", "file_data": f"data:{{mime_type}};base64,{{encoded}}"}}}}


def openai_message(message):
    if message["role"] != "user" or all(part["type"] == "text" for part in message["content"]):
        return {{"role": message["role"], "content": "".join(part.get("text", "") for part in message["content"])}}
    return {{"role": message["role"], "content": [openai_part(part) for part in message["content"]]}}


model = rendered["model"]
client = OpenAI()  # reads OPENAI_API_KEY, and OPENAI_BASE_URL for another server
response = client.chat.completions.create(
    model=model.get("name") if model.get("provider") in ("openai", "openai_compatible") else "gpt-4o-mini",
    messages=[openai_message(message) for message in rendered["messages"]],
    **{{key: model[key] for key in ("temperature", "top_p", "max_tokens", "seed", "stop") if model.get(key) is not None}},
)
print(f"{{PROMPT}} v{{resolved['number']}}:", response.choices[0].message.content)
"""


# --- entry point ---------------------------------------------------------------------------------------


def snippet_for(
    *,
    version: Any,
    lang: str,
    variables: dict[str, Any] | None = None,
    media: str = "data-url",
    provider: str | None = None,
    label: str | None = None,
    studio_url: str = "http://localhost:8000",
) -> Snippet:
    """A snippet for ``version`` in ``lang``; raises ``SnippetError`` with a clear message."""
    if lang not in LANGS:
        raise SnippetError(BAD_LANG)
    if media not in SNIPPET_MEDIA:
        raise SnippetError(BAD_MEDIA)
    variables = dict(variables or {})
    version_provider = (version.content.get("model") or {}).get("provider", "")
    flavour = _flavour(lang, provider, version_provider)

    if lang == "python-resolve":
        from prompts.rendering import RenderError, render

        try:
            render(version.content, variables)  # the same check the studio will do at run time
        except RenderError as exc:
            raise SnippetError(exc.text) from None
        code = (
            _header(
                "#",
                version,
                ["Needs STUDIO_TOKEN (and STUDIO_URL), OPENAI_API_KEY (and OPENAI_BASE_URL for another server)."],
            )
            + "\n"
            + _python_resolve(version, variables, label, studio_url)
        )
        model = (version.content.get("model") or {}).get("name") or DEFAULT_MODELS["openai"]
        return Snippet(
            lang=lang,
            provider="openai",
            model=model,
            code=code,
            filename="resolve_prompt.py",
            env=["STUDIO_URL", "STUDIO_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"],
        )

    body, embedded, warnings = build_request(version=version, flavour=flavour, variables=variables)
    files: list[dict[str, str]] = []
    if media == "file" and embedded:
        used: set[str] = set()
        refs: dict[str, FileRef] = {}
        names: dict[str, str] = {}
        for asset, encoded in embedded:
            key = str(asset.pk)
            if key not in names:
                names[key] = _file_name(asset, used)
                files.append({"name": names[key], "asset": key, "mime_type": asset.mime_type})
            refs[encoded] = FileRef(names[key], asset.mime_type, "b64")
            refs[f"data:{asset.mime_type};base64,{encoded}"] = FileRef(names[key], asset.mime_type, "data_url")
        body = _substitute(body, refs)

    key_var, url_var, _ = ENV[flavour]
    notes = [f"Needs {key_var} (and {url_var} for another server)."]
    if files:
        notes.append("Reads " + ", ".join(f["name"] for f in files) + " from the current folder.")
    notes += [f"Note: {w}" for w in warnings]
    python_helpers = PY_FILE_HELPERS if files else ""
    if lang == "python-openai":
        code, filename = python_helpers + _python_openai(body), "prompt_openai.py"
    elif lang == "python-anthropic":
        code, filename = python_helpers + _python_anthropic(body), "prompt_anthropic.py"
    elif lang == "python-mistral":
        code, filename = python_helpers + _python_mistral(body), "prompt_mistral.py"
    elif lang == "javascript":
        notes.insert(0, "Run with Node 18+ as an ES module: node prompt.mjs")
        code, filename = (JS_FILE_HELPERS if files else "") + _javascript(body, flavour), "prompt.mjs"
    else:
        code, filename = _curl(body, flavour), "prompt.sh"
    comment = "//" if lang == "javascript" else "#"
    shebang = "#!/usr/bin/env bash\n" if lang == "curl" else ""
    return Snippet(
        lang=lang,
        provider=flavour,
        model=str(body.get("model", "")),
        code=shebang + _header(comment, version, notes) + "\n" + code,
        filename=filename,
        files=files,
        warnings=warnings,
        env=[key_var, url_var],
    )
