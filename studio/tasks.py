from __future__ import annotations

import socket

from celery import shared_task

from studio.models import HealthPing


@shared_task(name="studio.ping")
def ping(token: str) -> str:
    """Write a HealthPing row; idempotent on ``token``."""
    HealthPing.objects.get_or_create(token=token, defaults={"worker": socket.gethostname()})
    return token
