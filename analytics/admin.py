from __future__ import annotations

from django.contrib import admin

from analytics.models import Budget, BudgetAlert, DailyUsage, RollupState


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("workspace", "monthly_limit", "hard_stop", "updated_by", "updated_at")
    list_select_related = ("workspace", "updated_by")
    raw_id_fields = ("workspace", "updated_by")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    list_display = ("workspace", "month", "threshold", "spent", "monthly_limit", "created_at")
    list_filter = ("threshold",)
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace",)


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    list_display = ("day", "workspace", "provider", "model", "source", "status", "calls", "cost")
    list_filter = ("provider", "source", "status")
    date_hierarchy = "day"
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace", "prompt", "prompt_version", "user")


@admin.register(RollupState)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = ("through", "refreshed_at")
