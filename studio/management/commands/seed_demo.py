"""``manage.py seed_demo``: the demo login and demo workspace that ``make run`` shows a newcomer."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.seeding import seed_demo

REFUSED_IN_PRODUCTION = (
    "seed_demo creates a demo account with a known password; it runs only with DEBUG=true. Pass --force to seed anyway."
)


class Command(BaseCommand):
    help = "Create (or refresh) the demo user and workspace and every app's demo data. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the login as JSON (for scripts).")
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(REFUSED_IN_PRODUCTION)
        try:
            login = seed_demo()
        except ValidationError as error:
            raise CommandError("The demo login is invalid: " + " ".join(error.messages)) from error
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            payload = {
                "email": login.email,
                "password": login.password,
                "workspace": login.workspace.name,
                "workspace_id": login.workspace.pk,
                "created": login.created,
                "seeded": login.seeded,
            }
            self.stdout.write(json.dumps(payload))
            return
        state = "created" if login.created else ("password reset" if login.password_reset else "already there")
        self.stdout.write(f'Demo user {state}; workspace "{login.workspace.name}".')
        for module in login.seeded:
            self.stdout.write(f"  seeded {module}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("  Log in with"))
        self.stdout.write(self.style.SUCCESS(f"    email:    {login.email}"))
        self.stdout.write(self.style.SUCCESS(f"    password: {login.password}"))
        self.stdout.write("")
