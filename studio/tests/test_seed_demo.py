"""``manage.py seed_demo``: a working demo login, idempotent, extensible by each app's demo.py."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role, User, Workspace
from studio import seeding
from studio.management.commands.seed_demo import REFUSED_IN_PRODUCTION


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    return tmp_path


def seed_json(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("seed_demo", "--json", *args, stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_seed_demo_prints_a_login_that_works(db: Any, var_dir: Path) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    password = (var_dir / "demo-password").read_text().strip()
    assert "demo@studio.local" in text and password in text
    user = User.objects.get(email="demo@studio.local")
    assert user.check_password(password)
    client = Client()
    assert client.login(email="demo@studio.local", password=password)
    response = client.get(reverse("api:me"))
    assert response.status_code == 200


def test_seed_demo_creates_a_demo_workspace_owned_by_the_demo_user(db: Any, var_dir: Path) -> None:
    login = seed_json()
    workspace = Workspace.objects.get(pk=login["workspace_id"])
    assert workspace.name == seeding.DEMO_WORKSPACE_NAME
    assert Membership.objects.get(workspace=workspace, user__email=login["email"]).role == Role.OWNER


def test_seed_demo_twice_changes_nothing(db: Any, var_dir: Path) -> None:
    first = seed_json()
    counts = (User.objects.count(), Workspace.objects.count(), Membership.objects.count())
    second = seed_json()
    assert second["password"] == first["password"]
    assert second["workspace_id"] == first["workspace_id"]
    assert second["created"] is False
    assert (User.objects.count(), Workspace.objects.count(), Membership.objects.count()) == counts


def test_a_changed_demo_password_is_reset_to_the_printed_one(db: Any, var_dir: Path) -> None:
    login = seed_json()
    user = User.objects.get(email=login["email"])
    user.set_password("something-else-entirely-42")
    user.save()
    again = seed_json()
    user.refresh_from_db()
    assert user.check_password(again["password"])
    assert again["password"] == login["password"]


def test_demo_password_comes_from_the_environment_when_set(
    db: Any, var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "a-chosen-demo-passphrase")
    login = seed_json()
    assert login["password"] == "a-chosen-demo-passphrase"
    assert User.objects.get(email=login["email"]).check_password("a-chosen-demo-passphrase")


def test_an_invalid_demo_password_is_a_clear_error(db: Any, var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "123")
    with pytest.raises(CommandError, match="The demo login is invalid"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.filter(email="demo@studio.local").exists()


def test_seed_demo_refuses_to_run_in_production(db: Any, var_dir: Path, settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError) as error:
        call_command("seed_demo", stdout=StringIO())
    assert str(error.value) == REFUSED_IN_PRODUCTION
    assert not User.objects.filter(email="demo@studio.local").exists()
    seed_json("--force")
    assert User.objects.filter(email="demo@studio.local").exists()


def test_app_seeders_run_in_order_with_the_demo_workspace_and_user(db: Any, var_dir: Path) -> None:
    calls: list[tuple[str, int, str]] = []

    def first(*, workspace: Workspace, user: User) -> None:
        calls.append(("first", workspace.pk, user.email))

    def second(workspace: Workspace, user: User) -> None:
        calls.append(("second", workspace.pk, user.email))

    login = seeding.seed_demo(seeders=[("a.demo", first), ("b.demo", second)])
    assert calls == [("first", login.workspace.pk, login.email), ("second", login.workspace.pk, login.email)]
    assert login.seeded == ["a.demo", "b.demo"]


def test_a_failing_seeder_is_reported_by_name_and_rolls_back_its_rows(db: Any, var_dir: Path) -> None:
    def broken(*, workspace: Workspace, user: User) -> None:
        Workspace.objects.create(name="half-made")
        raise ValueError("no such model")

    with pytest.raises(RuntimeError, match=r"The demo seeder broken\.demo\.seed failed: no such model"):
        seeding.seed_demo(seeders=[("broken.demo", broken)])
    assert not Workspace.objects.filter(name="half-made").exists()


def test_app_seeders_are_found_in_project_apps_only(db: Any) -> None:
    found = [name for name, _ in seeding.app_seeders()]
    project_apps = {"studio", "accounts", "prompts", "templates_app", "providers", "abtests", "analytics", "exports"}
    assert all(name.rsplit(".", 1)[0] in project_apps for name in found)
    for name in found:
        app = name.split(".")[0]
        assert (Path(seeding.settings.BASE_DIR) / app / "demo.py").is_file()
