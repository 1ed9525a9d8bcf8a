from __future__ import annotations

from django.contrib import admin

from studio.models import HealthPing


@admin.register(HealthPing)
class HealthPingAdmin(admin.ModelAdmin):
    list_display = ("token", "worker", "created_at")
    list_filter = ("created_at",)
    search_fields = ("token", "worker")
    readonly_fields = ("token", "worker", "created_at")
    date_hierarchy = "created_at"
