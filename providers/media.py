"""Rendered prompt parts -> neutral messages with media resolved for the adapters.

Asset parts are read from the workspace's uploaded assets (another workspace's asset is "not found").
URL parts stay URLs when the provider fetches that kind itself; otherwise the studio fetches them,
after the outbound address policy (providers.netpolicy) allowed the URL and every redirect.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from typing import Any

from django.conf import settings

from providers.netpolicy import OutboundBlocked, check_url
from providers.types import MediaPart, Message, Part, TextPart

ASSET_NOT_FOUND = "{where} refers to asset {asset}, which is not in this workspace."
ASSET_WRONG_KIND = "{where} asks for {kind} but asset {asset} is {actual}."
ASSET_UNREADABLE = "{where}: the file of asset {asset} can't be read from storage ({reason}); upload it again."
BAD_PART = "{where} is not a text, image, audio or document part."
BAD_ROLE = "messages[{index}] has role {role!r}; use system, user or assistant."
FETCH_FAILED = "{where}: fetching {url} failed ({reason})."
FETCH_TOO_LARGE = "{where}: {url} is larger than {limit} MB."
FETCH_WRONG_TYPE = "{where}: {url} is {mime}, not {kind}."
MEDIA_KINDS = ("image", "audio", "document")
KIND_PREFIX = {"image": ("image/",), "audio": ("audio/",), "document": ("application/pdf",)}


class MediaError(ValueError):
    """A part that cannot be resolved; the message names the part."""


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_media(url: str, *, kind: str, where: str) -> tuple[bytes, str]:
    """Download a media URL for a provider that cannot fetch it itself (policy-checked first)."""
    try:
        check_url(url)
    except OutboundBlocked as exc:
        raise MediaError(f"{where}: {exc}") from None
    limit = int(getattr(settings, "MEDIA_FETCH_MAX_BYTES", 20 * 1024 * 1024))
    opener = urllib.request.build_opener(_CheckedRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": "prompt-studio-media-fetch/1"})
    try:
        with opener.open(request, timeout=15) as response:
            data = response.read(limit + 1)
            mime = (response.headers.get_content_type() or "").lower()
    except OutboundBlocked as exc:
        raise MediaError(f"{where}: {exc}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MediaError(FETCH_FAILED.format(where=where, url=url, reason=getattr(exc, "reason", exc))) from None
    if len(data) > limit:
        raise MediaError(FETCH_TOO_LARGE.format(where=where, url=url, limit=limit // (1024 * 1024)))
    if not mime.startswith(KIND_PREFIX[kind]):
        raise MediaError(FETCH_WRONG_TYPE.format(where=where, url=url, mime=mime or "of unknown type", kind=kind))
    return data, mime


def _assets(rendered: dict[str, Any], workspace_id: int) -> dict[str, Any]:
    ids = {
        str(part["asset"])
        for message in rendered.get("messages", [])
        for part in message.get("content", [])
        if isinstance(part, dict) and part.get("asset")
    }
    if not ids:
        return {}
    from prompts.models import Asset

    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(value))
        except ValueError:
            continue
    return {str(a.pk): a for a in Asset.objects.filter(workspace_id=workspace_id, pk__in=valid)}


def resolve_messages(
    rendered: dict[str, Any], *, workspace_id: int, url_kinds: frozenset[str] = frozenset()
) -> list[Message]:
    """Neutral messages for an adapter. ``url_kinds``: media kinds the provider fetches from URLs itself."""
    assets = _assets(rendered, workspace_id)
    messages: list[Message] = []
    for m_index, message in enumerate(rendered.get("messages", [])):
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise MediaError(BAD_ROLE.format(index=m_index, role=role))
        parts: list[Part] = []
        content = message.get("content", [])
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        for p_index, part in enumerate(content):
            where = f"messages[{m_index}].content[{p_index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                parts.append(TextPart(str(part.get("text", ""))))
            elif kind in MEDIA_KINDS:
                parts.append(_media_part(part, kind, where, assets, url_kinds))
            else:
                raise MediaError(BAD_PART.format(where=where))
        messages.append(Message(role=role, parts=tuple(parts)))
    return messages


def _media_part(
    part: dict[str, Any], kind: str, where: str, assets: dict[str, Any], url_kinds: frozenset[str]
) -> MediaPart:
    detail = part.get("detail")
    if part.get("asset"):
        asset_id = str(part["asset"])
        asset = assets.get(asset_id)
        if asset is None:
            raise MediaError(ASSET_NOT_FOUND.format(where=where, asset=asset_id))
        if asset.kind != kind:
            raise MediaError(ASSET_WRONG_KIND.format(where=where, kind=kind, asset=asset_id, actual=asset.kind))
        try:
            data = asset.read_bytes()
        except OSError as exc:  # the row exists but its file is gone (storage moved, deleted, unmounted)
            raise MediaError(
                ASSET_UNREADABLE.format(where=where, asset=asset_id, reason=exc.strerror or type(exc).__name__)
            ) from None
        return MediaPart(
            kind=kind,  # type: ignore[arg-type]
            mime_type=asset.mime_type,
            data=data,
            filename=asset.original_name or f"{kind}.{asset.mime_type.split('/')[-1]}",
            detail=detail,
            asset_id=asset_id,
        )
    url = str(part.get("url") or "")
    if not url:
        raise MediaError(BAD_PART.format(where=where))
    if kind in url_kinds:
        return MediaPart(kind=kind, url=url, detail=detail)  # type: ignore[arg-type]
    data, mime = fetch_media(url, kind=kind, where=where)
    name = url.rstrip("/").rsplit("/", 1)[-1][:100] or kind
    return MediaPart(kind=kind, mime_type=mime, data=data, filename=name, detail=detail)  # type: ignore[arg-type]


def storable_input(rendered: dict[str, Any]) -> dict[str, Any]:
    """The rendered input as stored on a Run: media by asset id or URL, never inline bytes."""
    messages = []
    for message in rendered.get("messages", []):
        content = []
        raw = message.get("content", [])
        if isinstance(raw, str):
            raw = [{"type": "text", "text": raw}]
        for part in raw:
            if not isinstance(part, dict):
                continue
            keep = {k: part[k] for k in ("type", "text", "asset", "url", "detail") if k in part}
            if isinstance(keep.get("url"), str) and keep["url"].startswith("data:"):
                keep["url"] = "data:(inline data not stored)"
            content.append(keep)
        messages.append({"role": message.get("role"), "content": content})
    return {"messages": messages}
