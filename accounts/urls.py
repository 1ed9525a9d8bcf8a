from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change, name="password-change"),
    path("switch/", views.switch_workspace, name="switch-workspace"),
    path("settings/", views.settings_page, name="settings"),
    path("workspaces/new/", views.workspace_create, name="workspace-create"),
    path("workspaces/<id:workspace_id>/rename/", views.workspace_rename, name="workspace-rename"),
    path("workspaces/<id:workspace_id>/members/invite/", views.member_invite, name="member-invite"),
    path("workspaces/<id:workspace_id>/members/<id:user_id>/role/", views.member_role, name="member-role"),
    path("workspaces/<id:workspace_id>/members/<id:user_id>/remove/", views.member_remove, name="member-remove"),
    path("workspaces/<id:workspace_id>/transfer/", views.ownership_transfer, name="transfer"),
    path("workspaces/<id:workspace_id>/leave/", views.leave, name="leave"),
    path("workspaces/<id:workspace_id>/delete/", views.workspace_delete, name="workspace-delete"),
]
