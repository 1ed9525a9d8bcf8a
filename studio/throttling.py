"""API throttles for expensive writes: provider runs and uploads/imports.

``WriteScopedRateThrottle`` is DRF's ``ScopedRateThrottle`` (rate from
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][view.throttle_scope]``, counted per user, or per client IP
when anonymous, in the default cache: Redis when REDIS_URL is set, so every gunicorn worker and host
shares the count) applied only to writes, so listing uploads is never throttled by uploading.

Scopes: ``run`` (THROTTLE_RUN_RATE) for provider calls, ``upload`` (THROTTLE_UPLOAD_RATE) for asset
uploads and imports.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import ScopedRateThrottle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WriteScopedRateThrottle(ScopedRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
