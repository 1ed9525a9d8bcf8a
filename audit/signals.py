"""Log-ins and failed log-ins from Django's auth signals (the log-in page, the admin and the token API)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from audit.services import record


def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(action="auth.login", actor=user, workspace=None, details={"method": "session"}, request=request)


def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # ``credentials`` is already cleansed by Django (the password is masked); keep only the login name.
    User = get_user_model()
    email = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")[:254].strip().lower()
    user = User.objects.filter(email__iexact=email).first() if email else None
    # The account tried is the target (the person trying is unknown); no such account: only the email.
    record(
        action="auth.login_failed", actor=None, workspace=None, target=user, details={"email": email}, request=request
    )


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="audit_login")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit_login_failed")
