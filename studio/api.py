"""Shared API pieces: pagination, the JSON error format and workspace-scoped view helpers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def _first_message(detail: Any, prefix: str = "") -> str:
    """A readable one-line message from DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            label = "" if key in ("non_field_errors", "detail", "__all__") else str(key)
            path = f"{prefix}.{label}" if prefix and label else (label or prefix)
            return _first_message(value, path)
        return "Invalid input."
    if isinstance(detail, list):
        if not detail:
            return "Invalid input."
        return _first_message(detail[0], prefix)
    return f"{prefix}: {detail}" if prefix else str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error is JSON: ``{"detail": "<one clear sentence>", "code": "...", "errors": {...}}``.

    ``errors`` carries the field-by-field detail for validation errors.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        data: dict[str, Any] = {"detail": _first_message(exc.detail), "code": code}
        if isinstance(exc, exceptions.ValidationError):
            data["errors"] = exc.detail
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            data["retry_after"] = int(exc.wait)
        response.data = data
    return response


def error_response(message: str, *, code: str = "invalid", status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message, "code": code}, status=status_code)
