from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from providers.catalog import load_default_models
from providers.models import ModelInfo


class Command(BaseCommand):
    help = "Load the shipped model catalog; --keep-prices leaves existing rows as operators edited them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep-prices", action="store_true", help="Only add missing models; do not overwrite edited rows."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = load_default_models(ModelInfo, update=not options["keep_prices"])
        self.stdout.write(self.style.SUCCESS(f"Model catalog: {created} added, {updated} updated."))
