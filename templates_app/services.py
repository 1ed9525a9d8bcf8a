"""Writes for templates: create, change, delete, use (make a prompt) and save a prompt version as one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from accounts.models import User, Workspace
from audit.context import request_user
from audit.services import record
from studio.exceptions import Conflict, UnknownReference
from templates_app.models import Category, Template
from templates_app.starters import STARTERS, load_starters

if TYPE_CHECKING:
    from prompts.models import Prompt, PromptVersion

STARTER_READ_ONLY = (
    "Starter templates are read-only. Use the template to make a prompt, or save a copy in your workspace."
)
NAME_REQUIRED = "A template needs a name."
SLUG_INVALID = "Use letters, numbers, hyphens or underscores for the slug."
# The slugs _unique_slug takes: what slugify() leaves unchanged (once trimmed and lowercased): ASCII letters,
# digits, "_" and single "-", starting and ending with a letter or digit.
SLUG_PATTERN = r"^\s*[A-Za-z0-9](?:_*(?:-_+)*-?_*[A-Za-z0-9])*\s*$"
SLUG_TAKEN = "This workspace already has a template with the slug “{slug}”."
UNKNOWN_CATEGORY = "There is no category “{category}”."
STARTER_INVALID = "Starter template “{slug}” is not valid: {error}"
INSTANTIATED_MESSAGE = "Created from the template “{name}”"


def _content_module() -> Any:
    from prompts import content

    return content


def _clean_content(content: Any, *, workspace_id: int | None) -> dict[str, Any]:
    """The prompts' one content schema; errors come back under ``content`` with the exact path."""
    module = _content_module()
    try:
        return module.validate_content(content, workspace_id=workspace_id)  # type: ignore[no-any-return]
    except module.ContentError as exc:
        raise ValidationError({"content": [str(exc)]}) from exc


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": NAME_REQUIRED})
    return name[: Template._meta.get_field("name").max_length]  # type: ignore[union-attr]


def _clean_tags(tags: Any) -> list[str]:
    """The same tag rules as prompts (a template's tags become its prompts' tags)."""
    from prompts.services import clean_tags

    return clean_tags(tags)  # type: ignore[no-any-return]


def _category(category: Category | str | None) -> Category:
    if isinstance(category, Category):
        return category
    slug = (category or "other").strip()
    found = Category.objects.filter(slug=slug).first()
    if found is None:
        raise UnknownReference({"category": UNKNOWN_CATEGORY.format(category=slug)})
    return found


def _slug_taken(workspace: Workspace, slug: str, *, exclude: int | None = None) -> bool:
    queryset = Template.objects.filter(workspace=workspace, slug=slug)
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.exists()


def _unique_slug(workspace: Workspace, name: str, slug: str | None, *, exclude: int | None = None) -> str:
    """An explicit slug must be free; one made from the name gets a -2, -3... suffix when needed."""
    max_length = Template._meta.get_field("slug").max_length or 140
    if slug:
        candidate = slugify(slug)
        if not candidate or candidate != slug.strip().lower():
            raise ValidationError({"slug": SLUG_INVALID})
        if _slug_taken(workspace, candidate, exclude=exclude):
            raise Conflict({"slug": SLUG_TAKEN.format(slug=candidate)})
        return candidate[:max_length]
    base = (slugify(name) or "template")[: max_length - 6]
    candidate, n = base, 1
    while _slug_taken(workspace, candidate, exclude=exclude):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _refuse_starter(template: Template) -> None:
    if template.is_starter:
        raise PermissionDenied(STARTER_READ_ONLY)


@transaction.atomic
def template_create(
    *,
    workspace: Workspace,
    user: User | None,
    name: str,
    content: Any,
    category: Category | str | None = None,
    description: str = "",
    slug: str | None = None,
    tags: list[str] | None = None,
) -> Template:
    """A workspace template. Content is validated by the prompts' schema; nothing is saved on an error."""
    name = _clean_name(name)
    cleaned = _clean_content(content, workspace_id=workspace.pk)
    template = Template(
        workspace=workspace,
        author=user,
        name=name,
        slug=_unique_slug(workspace, name, slug),
        description=(description or "").strip(),
        category=_category(category),
        content=cleaned,
        tags=_clean_tags(tags),
        is_starter=False,
    )
    template.save()
    return template


@transaction.atomic
def template_update(*, template: Template, **changes: Any) -> Template:
    """Change name, slug, description, category, content or tags. Starters refuse."""
    _refuse_starter(template)
    assert template.workspace is not None
    allowed = {"name", "slug", "description", "category", "content", "tags"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if "name" in changes:
        template.name = _clean_name(changes["name"])
    if "slug" in changes and changes["slug"] != template.slug:
        template.slug = _unique_slug(template.workspace, template.name, changes["slug"] or None, exclude=template.pk)
    if "description" in changes:
        template.description = (changes["description"] or "").strip()
    if "category" in changes:
        template.category = _category(changes["category"])
    if "content" in changes:
        template.content = _clean_content(changes["content"], workspace_id=template.workspace_id)
    if "tags" in changes:
        template.tags = _clean_tags(changes["tags"])
    template.save()
    return template


@transaction.atomic
def template_delete(*, template: Template) -> None:
    _refuse_starter(template)
    record(action="template.deleted", actor=request_user(), workspace=template.workspace_id, target=template)
    template.delete()


@transaction.atomic
def template_instantiate(*, template: Template, workspace: Workspace, user: User, name: str | None = None) -> Prompt:
    """Use a template: a new prompt in ``workspace`` whose version 1 holds the template's content.

    Without a name the prompt takes the template's (its slug is made unique by the prompts service).
    The content is checked against ``workspace`` first, so a workspace template that refers to its own
    uploaded assets can't be used elsewhere; the error names the path.
    """
    from prompts import services as prompt_services

    cleaned = _clean_content(template.content, workspace_id=workspace.pk)
    return prompt_services.prompt_create(  # type: ignore[no-any-return]
        workspace=workspace,
        user=user,
        name=(name or "").strip() or template.name,
        description=template.description,
        tags=list(template.tags),
        content=cleaned,
        message=INSTANTIATED_MESSAGE.format(name=template.name),
    )


@transaction.atomic
def template_from_version(
    *,
    version: PromptVersion,
    user: User | None,
    name: str,
    category: Category | str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    slug: str | None = None,
) -> Template:
    """Save as template: a template in the version's workspace with that version's content."""
    prompt: Prompt = version.prompt
    return template_create(
        workspace=prompt.workspace,
        user=user,
        name=name,
        content=version.content,
        category=category,
        description=prompt.description if description is None else description,
        slug=slug,
        tags=list(prompt.tags or []) if tags is None else tags,
    )


def starter_templates_validate() -> None:
    """Check every shipped starter against the content schema; raises naming the starter and the path."""
    module = _content_module()
    for data in STARTERS:
        try:
            module.validate_content(data["content"], workspace_id=None)
        except module.ContentError as exc:
            raise ValidationError(STARTER_INVALID.format(slug=data["slug"], error=str(exc))) from exc


@transaction.atomic
def starter_templates_load() -> tuple[int, int]:
    """Validate, then create or refresh the starters. Returns (created, updated)."""
    starter_templates_validate()
    return load_starters(Category, Template)
