"""Writes for prompts, versions, labels and assets. Pages and the API call these, never the ORM directly."""

from __future__ import annotations

import hashlib
import re
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User, Workspace
from audit.context import request_user
from audit.services import record
from prompts.assets import EMPTY_FILE, AssetError, human_size, inspect_upload, max_upload_bytes
from prompts.content import content_hash, validate_content
from prompts.models import Asset, Label, LabelMove, Prompt, PromptVersion, validate_label_name
from studio.exceptions import Conflict, UnknownReference

NAME_REQUIRED = "A prompt needs a name."
NAME_TOO_LONG = "A prompt name is at most 200 characters."
SLUG_INVALID = "A slug is 1-100 characters: lowercase letters, digits, '-' and '_'."
SLUG_TAKEN = "Another prompt in this workspace already uses this slug."
TAGS_INVALID = (
    "Tags are a list of at most 20 short words (letters, digits, spaces, '-', '_', '.', at most 32 characters each)."
)
MESSAGE_TOO_LONG = "A commit message is at most 500 characters."
NO_SUCH_VERSION = "This prompt has no version {number}."
NO_SUCH_LABEL = "This prompt has no label {name}."
NO_VERSIONS = "This prompt has no versions yet; save one first."
UPLOAD_TOO_LARGE = "The file is {size}; uploads may be at most {limit}."
PROMPT_IN_USE = "This prompt is still referenced ({error}); archive it instead."
RESTORE_MESSAGE = "Restore version {number}"
DUPLICATE_MESSAGE = "Duplicated from {name} v{number}"

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
# What _check_slug takes before trimming and lowercasing (the API schema's slug pattern).
SLUG_INPUT_PATTERN = r"^\s*[A-Za-z0-9][A-Za-z0-9_-]{0,99}\s*$"
TAG_RE = re.compile(r"^[\w][\w .-]{0,31}$")
MAX_TAGS = 20


# --- prompts ---------------------------------------------------------------------------------------


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": [NAME_REQUIRED]})
    name = " ".join(name.split())
    if len(name) > 200:
        raise ValidationError({"name": [NAME_TOO_LONG]})
    return name


def clean_tags(tags: Any) -> list[str]:
    """Lowercased, stripped, de-duplicated tags in their given order."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list | tuple):
        raise ValidationError({"tags": [TAGS_INVALID]})
    out: dict[str, None] = {}
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationError({"tags": [TAGS_INVALID]})
        tag = " ".join(tag.split()).lower()
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise ValidationError({"tags": [TAGS_INVALID]})
        out.setdefault(tag, None)
    if len(out) > MAX_TAGS:
        raise ValidationError({"tags": [TAGS_INVALID]})
    return list(out)


def unique_slug(*, workspace_id: int, name: str, exclude_pk: int | None = None) -> str:
    """A slug from ``name`` not yet used in the workspace (``name``, ``name-2``, ``name-3``, ...)."""
    base = (slugify(name) or "prompt")[:90].strip("-") or "prompt"
    taken = set(
        Prompt.objects.filter(workspace_id=workspace_id, slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _check_slug(*, workspace_id: int, slug: str, exclude_pk: int | None = None) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError({"slug": [SLUG_INVALID]})
    if Prompt.objects.filter(workspace_id=workspace_id, slug=slug).exclude(pk=exclude_pk).exists():
        raise Conflict({"slug": [SLUG_TAKEN]})
    return slug


@transaction.atomic
def prompt_create(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    description: str = "",
    tags: list[str] | None = None,
    slug: str | None = None,
    content: dict[str, Any] | None = None,
    message: str = "",
) -> Prompt:
    """A new prompt; with ``content``, its version 1 too (all or nothing)."""
    name = _clean_name(name)
    prompt = Prompt(
        workspace=workspace,
        name=name,
        description=(description or "").strip(),
        tags=clean_tags(tags),
        author=user,
        slug=_check_slug(workspace_id=workspace.pk, slug=slug)
        if slug
        else unique_slug(workspace_id=workspace.pk, name=name),
    )
    prompt.save()
    if content is not None:
        version_create(prompt=prompt, user=user, content=content, message=message or "First version")
    return prompt


@transaction.atomic
def prompt_update(
    *,
    prompt: Prompt,
    name: str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    archived: bool | None = None,
    slug: str | None = None,
) -> Prompt:
    """Change a prompt's details. The slug stays as it is on rename unless given (resolve keeps working)."""
    if name is not None:
        prompt.name = _clean_name(name)
    if description is not None:
        prompt.description = description.strip()
    if tags is not None:
        prompt.tags = clean_tags(tags)
    if archived is not None:
        prompt.archived = bool(archived)
    if slug is not None and slug != prompt.slug:
        prompt.slug = _check_slug(workspace_id=prompt.workspace_id, slug=slug, exclude_pk=prompt.pk)
    prompt.save()
    return prompt


@transaction.atomic
def prompt_delete(*, prompt: Prompt) -> None:
    """Delete a prompt with its versions, labels and label history."""
    record(
        action="prompt.deleted",
        actor=request_user(),
        workspace=prompt.workspace_id,
        target=prompt,
        details={"slug": prompt.slug, "versions": prompt.versions.count()},
    )
    try:
        prompt.delete()
    except (ProtectedError, RestrictedError) as exc:
        names = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects if hasattr(obj, "_meta")})
        raise Conflict(PROMPT_IN_USE.format(error=", ".join(names) or "in use")) from None


@transaction.atomic
def prompt_duplicate(*, prompt: Prompt, user: User | None, name: str | None = None) -> Prompt:
    """A copy of the prompt (details and latest version's content as version 1; no labels)."""
    latest = prompt.versions.order_by("-number").first()
    copy = prompt_create(
        workspace=prompt.workspace,
        user=user,
        name=name or f"Copy of {prompt.name}"[:200],
        description=prompt.description,
        tags=list(prompt.tags),
    )
    if latest is not None:
        version_create(
            prompt=copy,
            user=user,
            content=latest.content,
            message=DUPLICATE_MESSAGE.format(name=prompt.name, number=latest.number)[:500],
        )
    return copy


@transaction.atomic
def prompt_save(
    *,
    prompt: Prompt,
    user: User | None,
    name: str,
    description: str,
    tags: list[str] | str | None,
    content: dict[str, Any],
    message: str = "",
) -> tuple[PromptVersion, bool]:
    """The editor's save: new details and, when the content changed, version n+1 (all or nothing).

    Returns ``(version, created)`` like ``version_create``; raises ValidationError / ContentError.
    """
    prompt_update(prompt=prompt, name=name, description=description, tags=clean_tags(tags))
    return version_create(prompt=prompt, user=user, content=content, message=message)


# --- versions --------------------------------------------------------------------------------------


@transaction.atomic
def version_create(
    *, prompt: Prompt, user: User | None, content: dict[str, Any], message: str = ""
) -> tuple[PromptVersion, bool]:
    """Save content as version n+1, or return ``(latest, False)`` when it equals the latest version.

    Raises ``ContentError`` (a ValidationError naming the path) for invalid content; nothing is saved.
    """
    message = (message or "").strip()
    if len(message) > 500:
        raise ValidationError({"message": [MESSAGE_TOO_LONG]})
    normalised = validate_content(content, workspace_id=prompt.workspace_id)
    digest = content_hash(normalised)
    # Lock the prompt row so two saves can't take the same number (a no-op on SQLite, whose
    # IMMEDIATE transactions already serialise writers; the unique constraint is the backstop).
    locked = Prompt.objects.select_for_update().get(pk=prompt.pk)
    latest = locked.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == digest:
        return latest, False
    version = PromptVersion.objects.create(
        prompt=locked,
        number=(latest.number if latest else 0) + 1,
        content=normalised,
        variables=normalised["variables"],
        model_settings=normalised["model"],
        message=message,
        author=user,
        content_hash=digest,
    )
    now = timezone.now()
    Prompt.objects.filter(pk=prompt.pk).update(updated_at=now)
    prompt.updated_at = now
    version.prompt = prompt
    return version, True


def version_get_or_error(*, prompt: Prompt, number: Any) -> PromptVersion:
    try:
        return prompt.versions.get(number=int(number))
    except (TypeError, ValueError):
        raise ValidationError({"version": [NO_SUCH_VERSION.format(number=number)]}) from None
    except PromptVersion.DoesNotExist:
        raise UnknownReference({"version": [NO_SUCH_VERSION.format(number=number)]}) from None


@transaction.atomic
def version_restore(*, prompt: Prompt, number: int, user: User | None) -> tuple[PromptVersion, bool]:
    """An old version's content saved as a new version ("Restore version N")."""
    old = version_get_or_error(prompt=prompt, number=number)
    return version_create(
        prompt=prompt, user=user, content=old.content, message=RESTORE_MESSAGE.format(number=old.number)
    )


# --- labels ----------------------------------------------------------------------------------------


@transaction.atomic
def label_set(*, prompt: Prompt, name: str, version: PromptVersion | int, user: User | None) -> Label:
    """Point label ``name`` at a version (creating it if new) and record the move."""
    validate_label_name(name)
    if not isinstance(version, PromptVersion):
        version = version_get_or_error(prompt=prompt, number=version)
    elif version.prompt_id != prompt.pk:
        raise ValidationError({"version": [NO_SUCH_VERSION.format(number=version.number)]})
    Prompt.objects.select_for_update().filter(pk=prompt.pk).exists()
    label = Label.objects.filter(prompt=prompt, name=name).select_related("version").first()
    if label is not None and label.version_id == version.pk:
        return label
    previous = label.version if label is not None else None
    if label is None:
        label = Label.objects.create(prompt=prompt, name=name, version=version, updated_by=user)
    else:
        label.version = version
        label.updated_by = user
        label.save(update_fields=["version", "updated_by", "updated_at"])
    LabelMove.objects.create(prompt=prompt, label=name, from_version=previous, to_version=version, actor=user)
    record(
        action="label.moved",
        actor=user,
        workspace=prompt.workspace_id,
        target=prompt,
        details={"label": name, "from": previous.number if previous else None, "to": version.number},
    )
    return label


@transaction.atomic
def label_delete(*, prompt: Prompt, name: str, user: User | None) -> None:
    """Remove a label; the history keeps the move to nothing."""
    label = Label.objects.filter(prompt=prompt, name=name).select_related("version").first()
    if label is None:
        raise Http404(NO_SUCH_LABEL.format(name=name))
    LabelMove.objects.create(prompt=prompt, label=name, from_version=label.version, to_version=None, actor=user)
    record(
        action="label.deleted",
        actor=user,
        workspace=prompt.workspace_id,
        target=prompt,
        details={"label": name, "from": label.version.number},
    )
    label.delete()


# --- assets ----------------------------------------------------------------------------------------


def _read_upload(upload: IO[bytes] | Any) -> bytes:
    size = getattr(upload, "size", None)
    limit = max_upload_bytes()
    if size is not None and size > limit:
        raise AssetError(UPLOAD_TOO_LARGE.format(size=human_size(size), limit=human_size(limit)))
    if hasattr(upload, "seek"):
        upload.seek(0)
    if hasattr(upload, "chunks"):
        chunks, total = [], 0
        for chunk in upload.chunks():
            total += len(chunk)
            if total > limit:
                raise AssetError(UPLOAD_TOO_LARGE.format(size=f"over {human_size(limit)}", limit=human_size(limit)))
            chunks.append(chunk)
        return b"".join(chunks)
    data: bytes = upload.read(limit + 1)
    if len(data) > limit:
        raise AssetError(UPLOAD_TOO_LARGE.format(size=f"over {human_size(limit)}", limit=human_size(limit)))
    return data


def asset_path(workspace_id: int, sha256: str, extension: str) -> str:
    return f"assets/{workspace_id}/{sha256}.{extension}"


def asset_create(*, workspace: Workspace, user: User | None, upload: Any) -> tuple[Asset, bool]:
    """Check an upload by its content and store it once per content hash in the workspace.

    Returns ``(asset, created)``; the same bytes again return the existing asset. Raises
    ``AssetError`` (a ValidationError on ``file``) with a clear message; nothing is stored then.
    """
    from prompts.assets import clean_name

    data = _read_upload(upload)
    if not data:
        raise AssetError(EMPTY_FILE)
    checked = inspect_upload(data)
    digest = hashlib.sha256(checked.data).hexdigest()
    existing = Asset.objects.filter(workspace=workspace, sha256=digest).first()
    if existing is not None:
        return existing, False

    written: list[str] = []

    def store(name: str, payload: bytes) -> str:
        if default_storage.exists(name):  # same name = same content hash: an orphan from an earlier try
            return name
        saved = default_storage.save(name, ContentFile(payload))
        written.append(saved)
        return saved

    try:
        file_name = store(asset_path(workspace.pk, digest, checked.extension), checked.data)
        thumb_name = (
            store(asset_path(workspace.pk, digest, "thumb.webp"), checked.thumbnail) if checked.thumbnail else None
        )
        with transaction.atomic():
            asset = Asset.objects.create(
                workspace=workspace,
                kind=checked.kind,
                mime_type=checked.mime_type,
                sha256=digest,
                size=len(checked.data),
                file=file_name,
                thumbnail=thumb_name,
                width=checked.width,
                height=checked.height,
                page_count=checked.page_count,
                duration=checked.duration,
                original_name=clean_name(getattr(upload, "name", "")),
                created_by=user,
            )
    except IntegrityError:
        # Someone stored the same bytes at the same moment: theirs wins.
        existing = Asset.objects.get(workspace=workspace, sha256=digest)
        for name in written:
            if name not in (existing.file.name, existing.thumbnail.name if existing.thumbnail else None):
                default_storage.delete(name)
        return existing, False
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return asset, True
