"""Throttle for the browser log-in page: too many failed attempts from one client IP get a 429.

The rate is the API's ``login`` scope (``THROTTLE_LOGIN_RATE``, e.g. ``20/min``), read from
``settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"]`` on every request, parsed by DRF's
``SimpleRateThrottle.parse_rate`` and counted in the default cache (shared Redis when REDIS_URL is set).
Only failed attempts are counted.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

TOO_MANY_ATTEMPTS = "Too many attempts. Wait {seconds} seconds and try again."


class LoginFailureThrottle(SimpleRateThrottle):
    scope = "login"
    cache_format = "throttle_page_login_%(ident)s"

    def get_rate(self) -> str | None:
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)  # type: ignore[no-any-return]

    def get_cache_key(self, request: HttpRequest, view: object = None) -> str:  # type: ignore[override]
        return self.cache_format % {"ident": self.get_ident(request)}

    def _load(self, request: HttpRequest) -> None:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]

    def seconds_blocked(self, request: HttpRequest) -> int | None:
        """Seconds until the client may try again, or None when it may try now."""
        if self.rate is None:
            return None
        self._load(request)
        if len(self.history) < self.num_requests:
            return None
        return max(1, math.ceil(self.wait() or self.duration))

    def record_failure(self, request: HttpRequest) -> None:
        if self.rate is None:
            return
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def login_blocked_for(request: HttpRequest) -> int | None:
    return LoginFailureThrottle().seconds_blocked(request)


def login_failed(request: HttpRequest) -> None:
    LoginFailureThrottle().record_failure(request)
