from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import membership_list
from studio.navigation import nav_items
from studio.permissions import current_membership


def workspace(request: HttpRequest) -> dict[str, Any]:
    """Current workspace, the switcher's list and the sidebar, evaluated only when a template uses them."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "membership": SimpleLazyObject(lambda: current_membership(request)),
        "my_memberships": SimpleLazyObject(lambda: membership_list(user=request.user)),
        "nav_items": nav_items(request),
    }
