from __future__ import annotations

from django.contrib import admin

from abtests.models import Dataset, DatasetRow, DatasetSnapshot


class DatasetRowInline(admin.TabularInline):
    model = DatasetRow
    extra = 0
    fields = ["index", "values"]
    ordering = ["index"]
    show_change_link = False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "created_by", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "description"]
    list_select_related = ["workspace", "created_by"]
    raw_id_fields = ["workspace", "created_by"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [DatasetRowInline]


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are frozen: operators may look, not change."""

    list_display = ["name", "workspace", "row_count", "content_hash", "created_at"]
    list_select_related = ["workspace"]
    search_fields = ["name", "content_hash"]
    readonly_fields = [f.name for f in DatasetSnapshot._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
