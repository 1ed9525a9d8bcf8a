"""Error pages: the API answers in its JSON error format, pages keep the HTML templates.

A URL under /api/ that matches no route (``/api/prompts/abc/`` for an integer id, a typo) gets the
same ``{"detail", "code"}`` JSON as every other API error instead of the HTML 404 page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

API_PREFIX = "/api/"
NO_SUCH_ENDPOINT = "No such API endpoint: {path} (see /api/docs/)."
SERVER_ERROR = "Something went wrong on our side; the error was logged. Try again later."


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": NO_SUCH_ENDPOINT.format(path=request.path), "code": "not_found"}, status=404)
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": SERVER_ERROR, "code": "server_error"}, status=500)
    return html_server_error(request)
