"""The playground page's reads and input handling (the page views in providers/views.py stay thin).

* ``playground_context``: what the page needs to render (prompts, the chosen version, its variables,
  the catalog grouped by provider with which providers have a key, credentials) in a fixed number of
  queries.
* ``run_request_parse``: the JSON the page posts (source, variables, targets) checked into a
  ``RunRequest``; ``RunRequest.resolve`` renders it through ``providers.selectors.run_input_resolve``.
* ``draft_content``: a draft (system text, user text, an attached image) laid over the version it
  started from, keeping every part the small draft editor does not show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from prompts.content import MEDIA_TYPES, placeholder_names
from prompts.models import Label, Prompt, PromptVersion
from providers.catalog import ECHO_MODEL
from providers.models import ModelInfo, Provider, ProviderCredential
from providers.services import MAX_TARGETS, NO_TARGETS, TOO_MANY_TARGETS, Target

BAD_BODY = "The request body must be a JSON object."
BAD_TARGET = "Each target needs a provider and a model."
BAD_NUMBER = "{name} must be a number."
BAD_VARIABLES = "Variables must be an object of name: value."
BAD_PROMPT = "Choose a prompt from the list."
DRAFT_EMPTY = "Write a system or user message for the draft."
IMAGE_NOT_IMAGE = "The attached file is not an image."
MAX_DRAFT_TEXT = 100_000


# --- the page ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelOption:
    value: str  # "provider:model_id"
    provider: str
    model_id: str
    label: str
    modalities: list[str]
    available: bool


@dataclass(frozen=True)
class ProviderGroup:
    provider: str
    label: str
    available: bool
    options: list[ModelOption]


@dataclass(frozen=True)
class VersionChoice:
    value: str  # "3" or "label:production"
    text: str


@dataclass
class VariableField:
    name: str
    type: str
    default: Any = None
    description: str = ""

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES

    @property
    def default_text(self) -> str:
        if self.default is None or self.is_media:
            return ""
        return str(self.default)

    @property
    def accept(self) -> str:
        return {
            "image": "image/png,image/jpeg,image/webp,image/gif",
            "audio": "audio/wav,audio/mpeg",
            "document": "application/pdf",
        }.get(self.type, "")


@dataclass
class DraftView:
    """What the small draft editor shows: the first system text, the first user text, and the rest."""

    system: str = ""
    user: str = ""
    other_parts: list[str] = field(default_factory=list)
    fixed_variables: list[str] = field(default_factory=list)


def model_groups(*, workspace_id: int, credentials: list[ProviderCredential]) -> list[ProviderGroup]:
    """The catalog (shared + the workspace's custom models) by provider; echo needs no key."""
    keyed = {c.provider for c in credentials}
    rows = list(ModelInfo.objects.for_workspace(workspace_id).active().order_by("provider", "display_name", "id"))
    groups = []
    order = [Provider.ECHO, Provider.OPENAI, Provider.ANTHROPIC, Provider.MISTRAL, Provider.OPENAI_COMPATIBLE]
    for provider in order:
        available = provider == Provider.ECHO or provider in keyed
        options = [
            ModelOption(
                value=f"{m.provider}:{m.model_id}",
                provider=m.provider,
                model_id=m.model_id,
                label=m.display_name + ("" if available else " (no key)"),
                modalities=sorted(m.modalities),
                available=available,
            )
            for m in rows
            if m.provider == provider
        ]
        if options:
            groups.append(ProviderGroup(provider, Provider(provider).label, available, options))
    return groups


def version_choices(prompt: Prompt, versions: list[PromptVersion]) -> list[VersionChoice]:
    choices = []
    labels = sorted(
        ((label.name, v.number) for v in versions for label in v.labels.all()),
        key=lambda pair: (pair[0] != "production", pair[0] != "staging", pair[0]),
    )
    for name, number in labels:
        choices.append(VersionChoice(f"label:{name}", f"{name} (v{number})"))
    for v in versions:
        note = f" · {v.message[:40]}" if v.message else ""
        choices.append(VersionChoice(str(v.number), f"v{v.number}{note}"))
    return choices


def prompts_for(workspace_id: int) -> list[Prompt]:
    return list(
        Prompt.objects.filter(workspace_id=workspace_id, archived=False)
        .order_by("name", "id")
        .only("id", "name", "workspace_id")
    )


def versions_for(prompt: Prompt) -> list[PromptVersion]:
    labels = Prefetch("labels", queryset=Label.objects.order_by("name"))
    return list(PromptVersion.objects.filter(prompt=prompt).prefetch_related(labels).order_by("-number"))


def pick_version(versions: list[PromptVersion], *, version: str | None, label: str | None) -> PromptVersion | None:
    if label:
        for v in versions:
            if any(lab.name == label for lab in v.labels.all()):
                return v
        return None
    if version:
        for v in versions:
            if str(v.number) == str(version):
                return v
        return None
    return versions[0] if versions else None


def variable_fields(content: dict[str, Any]) -> list[VariableField]:
    from prompts.rendering import declared_variables

    return [
        VariableField(
            name=v["name"], type=v.get("type", "text"), default=v.get("default"), description=v.get("description", "")
        )
        for v in declared_variables(content).values()
    ]


def draft_view(content: dict[str, Any] | None) -> DraftView:
    view = DraftView()
    if not content:
        return view
    seen_system = seen_user = False
    fixed: dict[str, None] = {}
    for message in content.get("messages") or []:
        for part in message.get("content") or []:
            kind = part.get("type")
            if kind == "text" and message["role"] == "system" and not seen_system:
                view.system, seen_system = part.get("text", ""), True
                continue
            if kind == "text" and message["role"] == "user" and not seen_user:
                view.user, seen_user = part.get("text", ""), True
                continue
            if kind == "text":
                view.other_parts.append(f"{message['role']} text: {part.get('text', '')[:60]}")
                for name in placeholder_names(part.get("text", "")):
                    fixed.setdefault(name, None)
            else:
                source = (part.get("variable") and f"variable {part['variable']}") or (
                    "uploaded file" if part.get("asset") else "URL"
                )
                view.other_parts.append(f"{message['role']} {kind} ({source})")
                if part.get("variable"):
                    fixed.setdefault(part["variable"], None)
    view.fixed_variables = list(fixed)
    return view


def default_target(content: dict[str, Any] | None, groups: list[ProviderGroup]) -> dict[str, Any]:
    """The version's own model when it is in the catalog and has a key, else echo."""
    model = (content or {}).get("model") or {}
    wanted = f"{model.get('provider')}:{model.get('name')}"
    for group in groups:
        for option in group.options:
            if option.value == wanted and option.available:
                return {"value": wanted, "temperature": model.get("temperature"), "max_tokens": model.get("max_tokens")}
    return {
        "value": f"echo:{ECHO_MODEL}",
        "temperature": model.get("temperature"),
        "max_tokens": model.get("max_tokens"),
    }


# --- the run request --------------------------------------------------------------------------------
@dataclass
class RunRequest:
    workspace_id: int
    prompt_id: int | None
    version: int | None
    label: str | None
    draft: dict[str, Any] | None
    variables: dict[str, Any]
    targets: list[Target]

    def content(self) -> dict[str, Any] | None:
        """The draft's content document (laid over its base version), or None to run the saved version."""
        if self.draft is None:
            return None
        base = None
        if self.prompt_id is not None:
            base = _base_version(self.prompt_id, self.workspace_id, self.version, self.label)
        return draft_content(
            base=base.content if base is not None else None,
            system=self.draft.get("system", ""),
            user=self.draft.get("user", ""),
            image=self.draft.get("image") or None,
        )

    def resolve(self) -> tuple[dict[str, Any], Any, Any, dict[str, Any]]:
        """(rendered, prompt, prompt_version, values used); raises ValidationError (with RenderError) naming the problem."""
        from prompts.rendering import declared_variables
        from providers.selectors import run_input_resolve

        content = self.content()
        if content is not None:
            declared = declared_variables(content)
        else:
            base = None
            if self.prompt_id is not None:
                base = _base_version(self.prompt_id, self.workspace_id, self.version, self.label)
            declared = declared_variables(base.content) if base is not None else {}
        # The page keeps inputs of variables a draft no longer uses; only the used ones are sent on.
        values = {k: v for k, v in self.variables.items() if k in declared and v is not None}
        rendered, prompt, version = run_input_resolve(
            workspace_id=self.workspace_id,
            prompt_id=self.prompt_id,
            version=self.version if content is None else None,
            label=self.label if content is None else None,
            content=content,
            variables=values,
        )
        return rendered, prompt, version, values


def _base_version(
    prompt_id: int | None, workspace_id: int, version: int | None, label: str | None
) -> PromptVersion | None:
    """The version a draft starts from (None for a prompt without versions)."""
    from providers.selectors import NO_LABEL, NO_VERSION

    if not Prompt.objects.filter(pk=prompt_id, workspace_id=workspace_id).exists():
        raise ValidationError({"prompt": [BAD_PROMPT]})
    qs = PromptVersion.objects.filter(prompt_id=prompt_id)
    if label:
        found = qs.filter(labels__name=label).first()
        if found is None:
            raise ValidationError({"label": [NO_LABEL.format(label=label)]})
        return found
    if version is not None:
        found = qs.filter(number=version).first()
        if found is None:
            raise ValidationError({"version": [NO_VERSION.format(version=version)]})
        return found
    return qs.order_by("-number").first()


def _number(raw: Any, name: str, *, integer: bool) -> int | float | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        raise ValidationError({"targets": [BAD_NUMBER.format(name=name)]})
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValidationError({"targets": [BAD_NUMBER.format(name=name)]}) from None
    if integer:
        if value != int(value):
            raise ValidationError({"targets": [BAD_NUMBER.format(name=name)]})
        return int(value)
    return value


def _optional_int(raw: Any, name: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: [BAD_NUMBER.format(name=name)]}) from None


def targets_parse(raw: Any) -> list[Target]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"targets": [NO_TARGETS]})
    if len(raw) > MAX_TARGETS:
        raise ValidationError({"targets": [TOO_MANY_TARGETS]})
    targets = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError({"targets": [BAD_TARGET]})
        provider, _, model = str(item.get("model") or "").partition(":")
        if not provider or not model:
            raise ValidationError({"targets": [BAD_TARGET]})
        params: dict[str, Any] = {}
        temperature = _number(item.get("temperature"), "Temperature", integer=False)
        if temperature is not None:
            params["temperature"] = temperature
        max_tokens = _number(item.get("max_tokens"), "Max tokens", integer=True)
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        credential = _optional_int(item.get("credential"), "credential")
        targets.append(Target(provider=provider, model=model, params=params, credential_id=credential))
    return targets


def run_request_parse(body: Any, *, workspace_id: int) -> RunRequest:
    """The page's JSON (``{prompt, version, draft, variables, targets}``) as a RunRequest."""
    if not isinstance(body, dict):
        raise ValidationError(BAD_BODY)
    prompt_id = _optional_int(body.get("prompt"), "prompt")
    version_raw = str(body.get("version") or "")
    label = version_raw[6:] if version_raw.startswith("label:") else None
    version = None if label else _optional_int(version_raw or None, "version")
    draft = body.get("draft")
    if draft is not None and not isinstance(draft, dict):
        raise ValidationError({"draft": [BAD_BODY]})
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValidationError({"variables": [BAD_VARIABLES]})
    if prompt_id is None and draft is None:
        raise ValidationError({"prompt": [BAD_PROMPT]})
    return RunRequest(
        workspace_id=workspace_id,
        prompt_id=prompt_id,
        version=version,
        label=label,
        draft=draft,
        variables=variables,
        targets=targets_parse(body.get("targets")),
    )


# --- drafts -----------------------------------------------------------------------------------------
def _set_first_text(messages: list[dict[str, Any]], role: str, text: str) -> None:
    for message in messages:
        if message["role"] != role:
            continue
        for part in message["content"]:
            if part.get("type") == "text":
                part["text"] = text
                return
        message["content"].insert(0, {"type": "text", "text": text})
        return
    if text:
        new = {"role": role, "content": [{"type": "text", "text": text}]}
        if role == "system":
            messages.insert(0, new)
        else:
            messages.append(new)


def draft_content(*, base: dict[str, Any] | None, system: Any, user: Any, image: Any) -> dict[str, Any]:
    """The draft editor's text (and an attached image) laid over ``base`` (or a blank document).

    Parts the draft editor doesn't show are kept; empty text parts and empty messages are dropped.
    Variable declarations of the base are kept for names still used; new names become text variables.
    """
    system = str(system or "")[:MAX_DRAFT_TEXT]
    user = str(user or "")[:MAX_DRAFT_TEXT]
    document = copy.deepcopy(base) if base else {"messages": [], "variables": [], "model": {}}
    messages: list[dict[str, Any]] = document.get("messages") or []
    _set_first_text(messages, "system", system)
    _set_first_text(messages, "user", user)
    if image:
        users = [m for m in messages if m["role"] == "user"]
        if not users:
            users = [{"role": "user", "content": []}]
            messages.append(users[0])
        users[0]["content"].append({"type": "image", "asset": str(image), "detail": "auto"})
    cleaned = []
    for message in messages:
        parts = [p for p in message["content"] if not (p.get("type") == "text" and not p.get("text", "").strip())]
        if parts:
            cleaned.append({**message, "content": parts})
    if not cleaned:
        raise ValidationError({"draft": [DRAFT_EMPTY]})
    document["messages"] = cleaned
    from prompts.content import extract_variables

    used = set(extract_variables(document))
    document["variables"] = [v for v in document.get("variables") or [] if v.get("name") in used]
    return document


def money(value: Decimal | None) -> str:
    return "$0" if not value else f"${value:.6f}".rstrip("0").rstrip(".")
