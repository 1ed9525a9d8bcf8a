from __future__ import annotations

from django.db import models


class HealthPing(models.Model):
    """A row written by the ``studio.ping`` Celery task: proves web -> broker -> worker -> database."""

    token = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ping {self.token}"
