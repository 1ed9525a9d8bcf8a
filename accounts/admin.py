from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from accounts.forms import AdminUserChangeForm, AdminUserCreationForm
from accounts.models import Membership, User, Workspace


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ("workspace", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("workspace",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserCreationForm
    list_display = ("email", "display_name", "workspace_count", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "date_joined")
    search_fields = ("email", "display_name")
    ordering = ("email",)
    readonly_fields = ("date_joined", "last_login")
    inlines = (UserMembershipInline,)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "display_name", "usable_password", "password1", "password2")},
        ),
    )

    def get_inline_instances(self, request: HttpRequest, obj: User | None = None) -> list[Any]:
        # Memberships are edited once the user exists (the add page stays email + password).
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(_workspace_count=Count("memberships", distinct=True))

    @admin.display(description="workspaces", ordering="_workspace_count")
    def workspace_count(self, obj: User) -> int:
        return obj._workspace_count  # type: ignore[attr-defined,no-any-return]


class WorkspaceMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "workspace"
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "personal", "member_count", "created_by", "created_at")
    list_filter = ("personal", "created_at")
    search_fields = ("name", "created_by__email", "members__email")
    list_select_related = ("created_by",)
    readonly_fields = ("created_at",)
    autocomplete_fields = ("created_by",)
    inlines = (WorkspaceMembershipInline,)
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        return super().get_queryset(request).annotate(_member_count=Count("memberships", distinct=True))

    @admin.display(description="members", ordering="_member_count")
    def member_count(self, obj: Workspace) -> int:
        return obj._member_count  # type: ignore[attr-defined,no-any-return]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", "workspace__personal", "created_at")
    search_fields = ("user__email", "user__display_name", "workspace__name")
    list_select_related = ("user", "workspace")
    autocomplete_fields = ("user", "workspace")
    readonly_fields = ("created_at",)
