"""The request being served, for audit events written deep inside services.

``AuditContextMiddleware`` keeps the current request in a context variable so that ``record`` can
note the client's address and user agent, and services that don't take the acting user (deletes)
can name it with ``request_user()``. Outside a request (Celery, commands) both are empty.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def current_request() -> HttpRequest | None:
    return _request.get()


def request_user() -> Any:
    """The authenticated user of the request being served, or None."""
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


def request_channel() -> str:
    """How the request being served came in: ``api`` (under /api/), ``page`` (any other URL), or ``""``."""
    request = _request.get()
    if request is None:
        return ""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return "api" if "api" in match.namespaces else "page"
    return "api" if request.path.startswith("/api/") else "page"


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
