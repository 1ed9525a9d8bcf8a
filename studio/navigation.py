"""The sidebar. An area appears here only once it works."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


# Areas in sidebar order; an entry is shown only when its URL name exists.
AREAS = [
    NavItem("Prompts", "prompts:list", "prompt"),
    NavItem("Templates", "templates_app:gallery", "template"),
    NavItem("Playground", "providers:playground", "play"),
    NavItem("A/B tests", "abtests:list", "ab"),
    NavItem("Datasets", "abtests:datasets", "table"),
    NavItem("Analytics", "analytics:dashboard", "chart"),
    NavItem("Exports", "exports:index", "export"),
]


def _exists(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def nav_items(request: HttpRequest) -> list[dict[str, str | bool]]:
    path = request.path
    items = []
    for area in AREAS:
        if not _exists(area.url_name):
            continue
        url = area.url
        items.append({"label": area.label, "url": url, "icon": area.icon, "active": path.startswith(url)})
    return items
