"""Fixtures shared by every app's tests.

``team`` is the base fixture the style guide asks for: one workspace with an owner, an admin, an
editor and a viewer, plus an outsider who owns a different workspace. Every access test uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership, Role, User, Workspace
from accounts.tests.factories import PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory
from studio.testing import clear_test_cache


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    # Only this test process's keys: on a shared Redis, cache.clear() would flush parallel tests' keys.
    clear_test_cache()
    yield


_DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    """Data migrations' rows (model catalog, starter templates) for every database test.

    Transactional tests (live_server, real workers) end with a flush that also empties what the data
    migrations loaded, so a later test in the same process would otherwise see no catalog and no
    starter categories. Restoring them is cheap: one existence query each when they are present.
    """
    requested = _DB_FIXTURES & set(request.fixturenames)
    if not (requested or request.node.get_closest_marker("django_db")):
        return
    # Autouse fixtures run before the ones a test asks for by name: set up the test's own database
    # fixture first (the django_db marker is handled by pytest-django's autouse fixture already).
    for name in ("live_server", "transactional_db", "django_db_serialized_rollback", "django_db_reset_sequences", "db"):
        if name in requested:
            request.getfixturevalue("transactional_db" if name == "live_server" else name)
            break
    from providers.catalog import load_default_models
    from providers.models import ModelInfo
    from templates_app.models import Category
    from templates_app.services import starter_templates_load

    if not ModelInfo.objects.filter(workspace__isnull=True).exists():
        load_default_models(ModelInfo, update=False)
    if not Category.objects.exists():
        starter_templates_load()


@dataclass
class Team:
    workspace: Workspace
    owner: User
    admin: User
    editor: User
    viewer: User
    outsider: User
    other_workspace: Workspace
    password: str = PASSWORD

    def user(self, role: str) -> User:
        return getattr(self, role)  # type: ignore[no-any-return]

    def membership(self, role: str) -> Membership:
        return Membership.objects.get(workspace=self.workspace, user=self.user(role))


@pytest.fixture
def team(db: Any) -> Team:
    workspace = WorkspaceFactory(name="Acme")
    members = {}
    for role in (Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER):
        members[role.value] = MembershipFactory(
            workspace=workspace, role=role, user__email=f"{role.value}@acme.test"
        ).user
    other = WorkspaceFactory(name="Other Co")
    outsider = MembershipFactory(workspace=other, role=Role.OWNER, user__email="outsider@other.test").user
    return Team(workspace=workspace, other_workspace=other, outsider=outsider, **members)


def api_client_for(user: User | None) -> APIClient:
    """An API client authenticated with a real JWT access token (or anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api() -> Any:
    return api_client_for


@pytest.fixture
def user(db: Any) -> User:
    return UserFactory()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last (pytest-xdist hands out tests in this order too).

    Playwright's sync API keeps an event loop running in the test process for the whole session once
    the browser has started, and ``asyncio.run`` (the A/B engine's chunk runner, called directly by
    the engine tests) refuses to start inside a running loop.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
