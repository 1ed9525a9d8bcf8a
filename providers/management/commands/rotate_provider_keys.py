from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.crypto import DecryptionFailed
from providers.services import credentials_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every provider credential under the newest key in PROVIDER_ENCRYPTION_KEYS. "
        "Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = credentials_rotate()
        except DecryptionFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} provider credential(s) under the newest key."))
