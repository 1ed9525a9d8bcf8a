from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from templates_app.models import Category, Template


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order"]
    list_editable = ["order"]
    prepopulated_fields = {"slug": ["name"]}


class TemplateAdminForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ["workspace", "category", "name", "slug", "description", "content", "tags", "author"]

    def clean_content(self) -> Any:
        """Operators edit content through the same schema as everyone else."""
        from prompts.content import validate_content

        workspace = self.cleaned_data.get("workspace")
        return validate_content(self.cleaned_data.get("content"), workspace_id=workspace.pk if workspace else None)


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateAdminForm
    list_display = ["name", "slug", "category", "workspace", "is_starter", "updated_at"]
    list_filter = ["is_starter", "category"]
    search_fields = ["name", "slug", "description"]
    list_select_related = ["category", "workspace"]
    raw_id_fields = ["workspace", "author"]
    readonly_fields = ["is_starter", "created_at", "updated_at"]
