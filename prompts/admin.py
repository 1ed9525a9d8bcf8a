"""django-admin for operators. Versions, label history and assets are read-only here:
versions are immutable, and uploads must go through the content checks in prompts.assets."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from prompts.models import Asset, Label, LabelMove, Prompt, PromptVersion


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionInline(ReadOnlyMixin, admin.TabularInline):
    model = PromptVersion
    extra = 0
    fields = ("number", "message", "author", "created_at", "content_hash")
    readonly_fields = fields
    show_change_link = True
    ordering = ("-number",)


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ("name", "version", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")
    raw_id_fields = ("version",)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "workspace", "author", "archived", "updated_at")
    list_filter = ("archived",)
    search_fields = ("name", "slug", "description")
    list_select_related = ("workspace", "author")
    raw_id_fields = ("workspace", "author")
    readonly_fields = ("created_at", "updated_at")
    inlines = [LabelInline, VersionInline]


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("prompt", "number", "message", "author", "created_at")
    search_fields = ("prompt__name", "message", "content_hash")
    list_select_related = ("prompt", "author")
    readonly_fields = (
        "prompt",
        "number",
        "content",
        "variables",
        "model_settings",
        "message",
        "author",
        "created_at",
        "content_hash",
    )


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("name", "prompt", "version", "updated_by", "updated_at")
    search_fields = ("name", "prompt__name")
    list_select_related = ("prompt", "version", "updated_by")
    raw_id_fields = ("prompt", "version", "updated_by")


@admin.register(LabelMove)
class LabelMoveAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("prompt", "label", "from_version", "to_version", "actor", "at")
    list_select_related = ("prompt", "from_version", "to_version", "actor")
    search_fields = ("prompt__name", "label")
    readonly_fields = ("prompt", "label", "from_version", "to_version", "actor", "at")


@admin.register(Asset)
class AssetAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("original_name", "kind", "mime_type", "size", "workspace", "created_at")
    list_filter = ("kind",)
    search_fields = ("original_name", "sha256")
    list_select_related = ("workspace",)
    readonly_fields = (
        "id",
        "workspace",
        "kind",
        "mime_type",
        "sha256",
        "size",
        "file",
        "width",
        "height",
        "page_count",
        "duration",
        "original_name",
        "thumbnail",
        "preview",
        "created_by",
        "created_at",
    )

    @admin.display(description="preview")
    def preview(self, asset: Asset) -> str:
        if not asset.thumbnail:
            return "-"
        url = reverse("api:asset-content", args=[asset.pk]) + "?thumbnail=1"
        return format_html('<img src="{}" alt="" style="max-width:160px">', url)
