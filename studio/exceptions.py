"""Refusals that services raise and the API answers with a status other than 400.

Both are Django ``ValidationError`` subclasses, so pages (forms, messages) keep showing them like any
other refusal; ``studio.api.exception_handler`` reads ``http_status`` and answers 409 or 404. A service's
own ``ValidationError`` subclass may carry ``http_status`` too (``abtests.services.TestError``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

CONFLICT = 409
NOT_FOUND = 404


class Conflict(ValidationError):
    """Well-formed, but the object's current state forbids it (the last owner, a running test, ...): 409."""

    http_status = CONFLICT


class UnknownReference(ValidationError):
    """Well-formed, but it names an object that doesn't exist (or isn't the caller's to name): 404."""

    http_status = NOT_FOUND
