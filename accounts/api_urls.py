from __future__ import annotations

from django.urls import path

from accounts import api

auth_urlpatterns = [
    path("register/", api.RegisterView.as_view(), name="register"),
    path("token/", api.ThrottledTokenObtainView.as_view(), name="token"),
    path("token/refresh/", api.ThrottledTokenRefreshView.as_view(), name="token-refresh"),
    path("token/verify/", api.ThrottledTokenVerifyView.as_view(), name="token-verify"),
    path("logout/", api.LogoutView.as_view(), name="logout"),
    path("me/", api.MeView.as_view(), name="me"),
]

workspace_urlpatterns = [
    path("", api.WorkspaceListView.as_view(), name="workspace-list"),
    path("<id:workspace_id>/", api.WorkspaceDetailView.as_view(), name="workspace-detail"),
    path("<id:workspace_id>/members/", api.MemberListView.as_view(), name="member-list"),
    path("<id:workspace_id>/members/<id:user_id>/", api.MemberDetailView.as_view(), name="member-detail"),
    path("<id:workspace_id>/transfer/", api.TransferOwnershipView.as_view(), name="workspace-transfer"),
]
