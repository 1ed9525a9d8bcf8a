"""``manage.py load_starter_templates``: create or refresh the shipped starter templates."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from templates_app import services


class Command(BaseCommand):
    help = "Create the shipped starter templates and categories, or bring them up to date. Safe to re-run."

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = services.starter_templates_load()
        self.stdout.write(self.style.SUCCESS(f"Starter templates: {created} created, {updated} updated."))
