"""A small same-site crawler for the security tests: every page reachable from the sidebar."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlsplit

# Not pages: downloads, the API, django-admin, static and media files, actions with side effects.
SKIP = re.compile(
    r"^/(api|admin|static|media)/|/logout/|[?&]format=(csv|json|yaml|jsonl|zip)|/download/|/export/|/delete/"
)

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def csp_violations(html: str) -> list[str]:
    """Inline scripts, style attributes and on*= handlers: what a strict CSP would block."""
    found = []
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("on*= handler", EVENT_HANDLER),
        ("style attribute", STYLE_ATTRIBUTE),
    ):
        match = pattern.search(html)
        if match:
            found.append(f"{name}: {match.group(0)[:120]}")
    if "<style" in html.lower():
        found.append("<style> element")
    return found


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.sidebar: list[str] = []
        self._in_nav = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "aside" and "sidebar" in (values.get("class") or ""):
            self._in_nav += 1
        if tag == "a" and values.get("href"):
            href = values["href"] or ""
            self.links.append(href)
            if self._in_nav:
                self.sidebar.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "aside" and self._in_nav:
            self._in_nav -= 1


def links_of(html: str) -> tuple[list[str], list[str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links, parser.sidebar


def _local(href: str) -> str | None:
    href = urldefrag(href)[0]
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    url = parts.path + (f"?{parts.query}" if parts.query else "")
    return None if SKIP.search(url) else url


@dataclass
class Crawl:
    pages: dict[str, Any] = field(default_factory=dict)  # url -> response (HTML 200s)
    statuses: dict[str, int] = field(default_factory=dict)
    sidebar: list[str] = field(default_factory=list)


def crawl(client: Any, start: str = "/", *, limit: int = 120, depth: int = 2, extra: tuple[str, ...] = ()) -> Crawl:
    """GET pages breadth-first from ``start`` (the sidebar first), at most ``limit`` URLs and ``depth`` hops.

    Query-string variants of one path count once (a list page with ?page=2, ?tag=x... is one page).
    """
    result = Crawl()
    queue: deque[tuple[str, int]] = deque([(start, 0), *((url, depth) for url in extra)])
    seen_paths: set[str] = set()
    while queue and len(result.statuses) < limit:
        url, level = queue.popleft()
        path = url.split("?", 1)[0]
        if url in result.statuses or (path in seen_paths and "?" in url):
            continue
        seen_paths.add(path)
        response = client.get(url)
        result.statuses[url] = response.status_code
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        result.pages[url] = response
        links, sidebar = links_of(html)
        if url == start:
            result.sidebar = [u for u in (_local(h) for h in sidebar) if u]
            queue.extendleft((u, 1) for u in reversed(result.sidebar))
        if level < depth:
            queue.extend((u, level + 1) for u in (_local(h) for h in links) if u)
    return result
