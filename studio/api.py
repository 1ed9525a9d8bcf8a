"""Shared API pieces: pagination, the JSON error format and workspace-scoped view helpers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import DataError
from django.http import Http404
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

BAD_PAGE_SIZE = "page_size must be a whole number of at least 1."


class Pagination(PageNumberPagination):
    """Page-number pagination; a malformed ``page_size`` is a 400 (DRF would quietly use the default)."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if size < 1:
                raise exceptions.ValidationError({self.page_size_query_param: [BAD_PAGE_SIZE]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


# What DRF's CharField refuses besides the length, as schema patterns: NUL characters always, and a value
# that is blank once trimmed unless blank is allowed (so "   " is outside the schema too). For allow_blank
# drf-spectacular adds the empty string as a second ``oneOf`` branch, so the pattern must not match "".
NO_NUL_PATTERN = r"^[^\x00]+$"
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


class DecimalInput(serializers.DecimalField):
    """A DecimalField whose schema pattern is what it takes as a string (drf-spectacular's admits "", "-" and
    "."): trimmed, at most ``max_digits - decimal_places`` digits before the point (leading zeros don't
    count) and ``decimal_places`` after it, and no minus sign when ``min_value`` is 0 or more (exponents,
    which Decimal also reads, are left out)."""

    def schema_pattern(self) -> str:
        whole, places = (self.max_digits or 30) - (self.decimal_places or 0), self.decimal_places or 0
        number = rf"0*\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|0*\.\d{{1,{places}}}" if places else rf"0*\d{{1,{whole}}}"
        if self.min_value is not None and self.min_value >= 0:
            # "-0" is zero, so it passes a minimum of 0 (with no more zeros after the point than places).
            zeros = rf"0+(?:\.0{{0,{places}}})?|\.0{{1,{places}}}" if places else r"0+"
            return rf"^\s*(?:\+?(?:{number})|-(?:{zeros}))\s*$"
        return rf"^\s*[+-]?(?:{number})\s*$"


class DecimalInputExtension(OpenApiSerializerFieldExtension):
    target_class = DecimalInput

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field: DecimalInput = self.target
        return {"type": "string", "format": "decimal", "pattern": field.schema_pattern()}


class StrictCharField(serializers.CharField):
    """A CharField whose schema says what it takes: only strings (DRF's turns ``{"name": 0}`` into ``"0"``),
    no NUL characters, and not blank once trimmed unless ``allow_blank``.

    A field with its own ``RegexValidator`` (slugs, label names) documents that pattern instead, which
    must then exclude NUL and blank values itself.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not any(isinstance(validator, RegexValidator) for validator in self.validators):
            pattern = NOT_BLANK_PATTERN if self.trim_whitespace and not self.allow_blank else NO_NUL_PATTERN
            # DRF refuses these first with its own messages; the validator documents them as the pattern.
            self.validators.append(RegexValidator(pattern))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StateConflict(exceptions.APIException):
    """409: the request is well formed but the object's current state forbids it (``studio.exceptions``)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state of the object."
    default_code = "conflict"


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


OUT_OF_RANGE = "A value in the request is out of range (whole numbers, ids included, fit in 64 bits)."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error is JSON: ``{"detail": "<one clear sentence>", "code": "...", "errors": {...}}``.

    ``errors`` carries the field-by-field detail for validation errors. A service's ``studio.exceptions``
    refusal answers 409 (``Conflict``: the object's state forbids it) or 404 (``UnknownReference``).
    """
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        http_status = getattr(exc, "http_status", status.HTTP_400_BAD_REQUEST)
        if http_status == status.HTTP_409_CONFLICT:
            exc = StateConflict(detail)
        elif http_status == status.HTTP_404_NOT_FOUND:
            exc = exceptions.NotFound(detail)
        else:
            exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")
    elif isinstance(exc, OverflowError | DataError):
        # A value the database can't hold (a whole number past 64 bits as an id, say): SQLite refuses it
        # with OverflowError, PostgreSQL with DataError, both when the query runs. Bad input, not a 500.
        exc = exceptions.ValidationError({"detail": [OUT_OF_RANGE]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        data: dict[str, Any] = {"detail": _first_message(exc.detail), "code": code}
        if isinstance(exc.detail, (dict, list)):
            data["errors"] = exc.detail
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            data["retry_after"] = int(exc.wait)
        response.data = data
    return response


def error_response(message: str, *, code: str = "invalid", status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message, "code": code}, status=status_code)
