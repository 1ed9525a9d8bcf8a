"""Refusals that services raise and the API answers with a status other than 400.

Both are Django ``ValidationError`` subclasses, so pages (forms, messages) keep showing them like any
other refusal; ``studio.api.exception_handler`` reads ``http_status`` and answers 409 or 404.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """Well-formed, but the object's current state forbids it (the last owner, a running test, ...): 409."""

    http_status = 409


class UnknownReference(ValidationError):
    """Well-formed, but it names an object that doesn't exist (or isn't the caller's to name): 404."""

    http_status = 404
