"""OpenAPI schema post-processing: document the error answers every API operation can give.

Every API error goes through ``studio.api.exception_handler`` and has one JSON shape; drf-spectacular
only documents the success responses, so clients (and schemathesis' status-code conformance check)
would not know about a 404 for another workspace's object or a 400 with field errors. This hook adds
them, with the shared ``Error`` schema, to every operation that doesn't document them itself. An
operation that a state conflict can refuse documents its 409 with ``conflict(...)``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An API error: one clear sentence, a code, and field errors for invalid input.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"description": "Field-by-field messages for invalid input."},
        "retry_after": {"type": "integer", "description": "Seconds to wait (throttled requests)."},
    },
    "required": ["detail"],
}

ERROR_RESPONSES = {
    "400": "Invalid input; ``errors`` says which field and why.",
    "401": "Not authenticated, or the token is invalid or expired.",
    "403": "Your role in the workspace is too low for this.",
    "404": "No such object in your workspaces (another workspace's objects are never revealed).",
    "429": "Too many requests; ``retry_after`` says how long to wait.",
}


# Rules across a request body's fields that a serializer can't state (component name -> JSON Schema
# keywords merged into the component), registered beside the view that enforces them.
REQUEST_RULES: dict[str, dict[str, Any]] = {}


def request_rule(component: str, **keywords: Any) -> None:
    """Document a rule across fields of the request component ``component`` (e.g. ``not=...``)."""
    REQUEST_RULES[component] = keywords


def add_request_rules(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    for component, keywords in REQUEST_RULES.items():
        if component in schemas:
            schemas[component].update(keywords)
    return result


def conflict(description: str) -> dict[int, OpenApiResponse]:
    """``responses`` entry for an operation a ``studio.exceptions.Conflict`` refuses (409, the Error body)."""
    return {409: OpenApiResponse(description=description)}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    reference = {"$ref": "#/components/schemas/Error"}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                # Error answers an operation documents itself (a 409, say) carry the Error body too.
                if status.startswith("4") and "content" not in response:
                    response["content"] = {"application/json": {"schema": reference}}
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result
