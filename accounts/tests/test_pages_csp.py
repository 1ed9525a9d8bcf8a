"""The CSP is strict (script-src 'self'; style-src 'self'): no page may rely on inline code or styles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Role
from accounts.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son(click|change|submit|load|input|keydown|keyup|error|focus|blur)\s*=", re.IGNORECASE)


def assert_csp_clean(html: str, where: str) -> None:
    assert ' style="' not in html, f"inline style attribute in {where}"
    assert "<style" not in html, f"inline <style> in {where}"
    assert "onclick=" not in html, f"onclick in {where}"
    assert not INLINE_HANDLER.search(html), f"inline event handler in {where}"
    assert not INLINE_SCRIPT.search(html), f"inline <script> in {where}"


def test_assert_csp_clean_catches_violations() -> None:
    for bad in ('<div style="color:red">', "<script>alert(1)</script>", '<a onclick="x()">', '<b onChange="y">'):
        with pytest.raises(AssertionError):
            assert_csp_clean(bad, "sample")
    assert_csp_clean('<script src="/static/js/studio.js" defer></script>', "sample")


def test_anonymous_pages_are_csp_clean(client: Any) -> None:
    for name in ("accounts:login", "accounts:signup"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert_csp_clean(response.content.decode(), name)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_csp_clean(response.content.decode(), "404 (anonymous)")


def test_signed_in_pages_are_csp_clean(client: Any, team: Any) -> None:
    MembershipFactory(user=team.owner, workspace=WorkspaceFactory(name="Second"), role=Role.VIEWER)
    client.force_login(team.owner)
    for name in ("home", "accounts:settings", "accounts:password-change", "accounts:workspace-create"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'src="/static/django_htmx/htmx-2.min.js"' in html or "htmx" in html
        assert_csp_clean(html, name)
    # pages showing errors and toasts
    response = client.post(reverse("accounts:leave", args=[team.workspace.pk]), follow=True)
    assert_csp_clean(response.content.decode(), "settings with an error toast")
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_csp_clean(response.content.decode(), "404")


def test_error_pages_are_csp_clean(client: Any, team: Any) -> None:
    client.force_login(team.viewer)
    response = client.post(reverse("accounts:workspace-delete", args=[team.workspace.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role in this workspace is viewer" in html
    assert_csp_clean(html, "403")
    assert_csp_clean(render_to_string("500.html"), "500")
    assert_csp_clean(render_to_string("403_csrf.html"), "403_csrf")


def test_htmx_fragments_are_csp_clean(client: Any, team: Any) -> None:
    client.force_login(team.owner)
    response = client.post(
        reverse("accounts:member-role", args=[team.workspace.pk, team.viewer.pk]),
        {"role": "editor"},
        HTTP_HX_REQUEST="true",
    )
    assert_csp_clean(response.content.decode(), "member row")
    response = client.post(
        reverse("accounts:member-invite", args=[team.workspace.pk]),
        {"email": "x@y.test", "role": "viewer"},
        HTTP_HX_REQUEST="true",
    )
    assert_csp_clean(response.content.decode(), "members section")
