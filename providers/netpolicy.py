"""Outbound address policy (SSRF): which hosts the studio's server may call for a workspace.

Custom base URLs (OpenAI-compatible servers, credential overrides) and media URLs the studio fetches
itself are checked before any connection: the host is resolved and every address must be public.
Loopback, private, link-local (incl. the cloud metadata service), reserved, multicast and
unspecified addresses are refused unless ``OUTBOUND_ALLOW_HOSTS`` names the host or host:port, e.g.
``OUTBOUND_ALLOW_HOSTS=localhost:11434,127.0.0.1`` for a local Ollama.

Limitation: the check resolves the name once; the SDK resolves it again when connecting. A name that
changes its answer in between (DNS rebinding) is not caught here; a firewall egress rule is the
complete defence.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

NOT_HTTP = "{url} is not an http(s) URL."
NO_HOST = "{url} has no host name."
UNRESOLVABLE = "The host {host} in {url} could not be resolved."
BLOCKED = (
    "{url} resolves to {address}, {why} address, which the studio does not call. An operator can allow it "
    "by adding {entry} to OUTBOUND_ALLOW_HOSTS."
)
CREDENTIALS_IN_URL = "{url} contains a user name or password; give the key in the key field instead."
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class OutboundBlocked(ValueError):
    """The URL may not be called from the studio's server; the message says why and how to allow it."""


def _why(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _why(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    checks = (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    )
    for attribute, label in checks:
        if getattr(address, attribute):
            return label
    if not address.is_global:
        return "non-public"
    return None


def _allowed(host: str, port: int) -> bool:
    allow = {entry.strip().lower() for entry in getattr(settings, "OUTBOUND_ALLOW_HOSTS", []) if entry.strip()}
    host = host.lower()
    bracketed = f"[{host}]" if ":" in host else host
    return bool({host, bracketed, f"{host}:{port}", f"{bracketed}:{port}"} & allow)


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str) -> str:
    """Return ``url`` if the studio may call it; raise OutboundBlocked with a clear message otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise OutboundBlocked(NOT_HTTP.format(url=url))
    if parts.username or parts.password:
        raise OutboundBlocked(CREDENTIALS_IN_URL.format(url=url))
    host = parts.hostname
    if not host:
        raise OutboundBlocked(NO_HOST.format(url=url))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundBlocked(NO_HOST.format(url=url)) from None
    if _allowed(host, port):
        return url
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise OutboundBlocked(UNRESOLVABLE.format(host=host, url=url)) from None
    if not addresses:
        raise OutboundBlocked(UNRESOLVABLE.format(host=host, url=url))
    for address in addresses:
        why = _why(address)
        if why:
            entry = f"{host}:{port}" if parts.port else host
            article = "an" if why[0] in "aeiou" else "a"
            raise OutboundBlocked(BLOCKED.format(url=url, address=address, why=f"{article} {why}", entry=entry))
    return url
