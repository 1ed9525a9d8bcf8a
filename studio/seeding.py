"""Demo data for ``make run``: a demo user, a demo workspace, and whatever each app adds.

Each project app may ship ``<app>/demo.py`` with a function ``seed(*, workspace, user)`` that adds
its demo rows to the demo workspace. Seeders run in INSTALLED_APPS order (prompts before abtests,
and so on), each in its own transaction, and must be idempotent: ``seed_demo`` runs at every
``make run``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction

from accounts.models import Membership, Role, User, Workspace
from accounts.services import user_create, workspace_create, workspace_update

DEMO_EMAIL = "demo@studio.local"
DEMO_DISPLAY_NAME = "Demo user"
DEMO_WORKSPACE_NAME = "Demo workspace"
SEEDER_FAILED = "The demo seeder {module}.seed failed: {error}"

Seeder = Callable[..., Any]


@dataclass
class DemoLogin:
    email: str
    password: str
    workspace: Workspace
    user: User
    created: bool
    password_reset: bool
    seeded: list[str] = field(default_factory=list)


def password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-password"


def demo_password() -> str:
    """DEMO_PASSWORD if set, else a random password made once and kept in var/demo-password."""
    from_env = os.environ.get("DEMO_PASSWORD", "")
    if from_env:
        return from_env
    path = password_file()
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    password = f"demo-{secrets.token_urlsafe(12)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def app_seeders() -> list[tuple[str, Seeder]]:
    """``(module name, seed function)`` for every project app that ships ``<app>/demo.py``."""
    seeders = []
    base = Path(settings.BASE_DIR).resolve()
    for config in apps.get_app_configs():
        if not Path(config.path).resolve().is_relative_to(base):
            continue  # Django's and third-party apps
        module_name = f"{config.name}.demo"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        seed = getattr(module, "seed", None)
        if callable(seed):
            seeders.append((module_name, seed))
    return seeders


def demo_user_and_workspace(*, password: str) -> tuple[User, Workspace, bool, bool]:
    """The demo user (created or its password made to match) and its demo workspace."""
    created = password_reset = False
    user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
    if user is None:
        user = user_create(email=DEMO_EMAIL, password=password, display_name=DEMO_DISPLAY_NAME)
        created = True
    elif not user.check_password(password) or not user.is_active:
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        password_reset = True
    workspace = (
        Workspace.objects.filter(memberships__user=user, memberships__role=Role.OWNER, name=DEMO_WORKSPACE_NAME)
        .order_by("id")
        .first()
    )
    if workspace is None:
        personal = Workspace.objects.filter(created_by=user, personal=True).order_by("id").first()
        if personal is not None and Membership.objects.filter(workspace=personal, user=user).exists():
            workspace = workspace_update(workspace=personal, name=DEMO_WORKSPACE_NAME)
        else:
            workspace = workspace_create(user=user, name=DEMO_WORKSPACE_NAME)
    return user, workspace, created, password_reset


def seed_demo(*, seeders: list[tuple[str, Seeder]] | None = None) -> DemoLogin:
    """Create or refresh the demo login and run every app's seeder. Safe to run again."""
    password = demo_password()
    with transaction.atomic():
        user, workspace, created, password_reset = demo_user_and_workspace(password=password)
    login = DemoLogin(
        email=user.email,
        password=password,
        workspace=workspace,
        user=user,
        created=created,
        password_reset=password_reset,
    )
    for module_name, seed in app_seeders() if seeders is None else seeders:
        try:
            with transaction.atomic():
                seed(workspace=workspace, user=user)
        except Exception as error:
            raise RuntimeError(SEEDER_FAILED.format(module=module_name, error=error)) from error
        login.seeded.append(module_name)
    return login
