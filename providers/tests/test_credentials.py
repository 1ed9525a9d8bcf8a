"""Credentials: encrypted at rest, never returned, rotated by the command, managed by admins only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from providers import services
from providers.fake_server import FakeProvider
from providers.models import ProviderCredential, Run
from providers.services import Target
from providers.tests.conftest import TEST_KEY, add_credential
from providers.tests.helpers import rendered

SECRET = "sk-live-DO-NOT-LEAK-1234abcd"


class LeakScanner:
    """Wraps API clients so that every response body in a test is scanned for the secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.scanned = 0

    def check(self, response: Any) -> Any:
        body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
        assert self.secret.encode() not in body
        assert self.secret[:-4].encode() not in body
        self.scanned += 1
        return response


@pytest.fixture
def scanner(api: Any) -> Iterator[Any]:
    leak = LeakScanner(SECRET)

    def client_for(user: Any) -> Any:
        client = api(user)
        for method in ("get", "post", "put", "delete", "patch"):
            original = getattr(client, method)
            setattr(client, method, lambda *a, _o=original, **k: leak.check(_o(*a, **k)))
        return client

    yield client_for
    assert leak.scanned > 0


def test_raw_database_row_holds_no_plaintext_key(team: Any) -> None:
    credential = services.credential_create(
        workspace=team.workspace, user=team.admin, provider="openai", api_key=SECRET
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM providers_providercredential WHERE id = %s", [credential.pk])
        row = cursor.fetchone()
    raw = json.dumps([str(value) for value in row])
    assert SECRET not in raw
    assert SECRET[:-4] not in raw
    assert credential.last4 == "abcd"
    assert SECRET not in repr(credential) and SECRET not in str(credential)


def test_admin_adds_lists_replaces_and_deletes_credentials_without_the_key_ever_returned(
    team: Any, scanner: Any
) -> None:
    client = scanner(team.admin)
    url = reverse("api:provider-credentials")
    created = client.post(
        url,
        {"workspace": team.workspace.pk, "provider": "anthropic", "api_key": SECRET, "label": "main"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["last4"] == "abcd"
    assert "api_key" not in created.json() and "encrypted_key" not in created.json()
    listed = client.get(url, {"workspace": team.workspace.pk})
    assert [c["provider"] for c in listed.json()] == ["anthropic"]
    detail = reverse("api:provider-credential-detail", args=[created.json()["id"]])
    replaced = client.put(detail, {"api_key": SECRET + "WXYZ"}, format="json")
    assert replaced.status_code == 200
    assert replaced.json()["last4"] == "WXYZ"
    assert client.delete(detail).status_code == 204
    assert not ProviderCredential.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 201), ("admin", 201), ("editor", 403), ("viewer", 403), ("outsider", 404)]
)
def test_only_admins_add_credentials(team: Any, scanner: Any, role: str, status: int) -> None:
    response = scanner(team.user(role)).post(
        reverse("api:provider-credentials"),
        {"workspace": team.workspace.pk, "provider": "openai", "api_key": SECRET},
        format="json",
    )
    assert response.status_code == status


@pytest.mark.parametrize(("role", "status"), [("editor", 403), ("viewer", 403), ("outsider", 404)])
def test_non_admins_cannot_delete_or_test_credentials(team: Any, scanner: Any, role: str, status: int) -> None:
    credential = services.credential_create(
        workspace=team.workspace, user=team.admin, provider="openai", api_key=SECRET
    )
    client = scanner(team.user(role))
    assert client.delete(reverse("api:provider-credential-detail", args=[credential.pk])).status_code == status
    assert client.post(reverse("api:provider-credential-test", args=[credential.pk])).status_code == status
    assert ProviderCredential.objects.filter(pk=credential.pk).exists()


def test_key_is_required_except_for_openai_compatible(team: Any, scanner: Any) -> None:
    response = scanner(team.admin).post(
        reverse("api:provider-credentials"),
        {"workspace": team.workspace.pk, "provider": "openai", "api_key": ""},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"api_key: {services.KEY_REQUIRED}"


def test_test_connection_reports_success_and_refusal(team: Any, scanner: Any, providers_on_fake: FakeProvider) -> None:
    providers_on_fake.api_key = SECRET
    good = services.credential_create(workspace=team.workspace, user=team.admin, provider="mistral", api_key=SECRET)
    bad = services.credential_create(
        workspace=team.workspace, user=team.admin, provider="openai", api_key="sk-wrong-key"
    )
    client = scanner(team.admin)
    ok = client.post(reverse("api:provider-credential-test", args=[good.pk])).json()
    assert ok["ok"] is True and ok["message"].startswith("Connected to Mistral")
    refused = client.post(reverse("api:provider-credential-test", args=[bad.pk])).json()
    assert refused["ok"] is False and refused["error_kind"] == "auth"
    assert providers_on_fake.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_runs_and_run_api_never_contain_the_key(team: Any, scanner: Any, providers_on_fake: FakeProvider) -> None:
    services.credential_create(workspace=team.workspace, user=team.admin, provider="openai", api_key=SECRET)
    client = scanner(team.editor)
    response = client.post(
        reverse("api:testing-run"),
        {
            "workspace": team.workspace.pk,
            "content": rendered("hello"),
            "targets": [{"provider": "openai", "model": "gpt-4o"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    streamed = client.post(
        reverse("api:testing-run"),
        {
            "workspace": team.workspace.pk,
            "content": rendered("hi"),
            "targets": [{"provider": "openai", "model": "gpt-4o"}],
            "stream": True,
        },
        format="json",
    )
    assert streamed.status_code == 200
    client.get(reverse("api:testing-runs"))
    client.get(reverse("api:testing-run-detail", args=[Run.objects.first().pk]))
    client.get(reverse("api:provider-models"))
    assert providers_on_fake.last().headers["authorization"] == f"Bearer {SECRET}"


def test_rotation_reencrypts_every_row_and_the_old_key_can_then_go(
    team: Any, settings: Any, providers_on_fake: FakeProvider
) -> None:
    old_key = settings.PROVIDER_ENCRYPTION_KEYS[0]
    first = add_credential(team.workspace, "openai")
    second = add_credential(team.other_workspace, "anthropic")
    before = {c.pk: c.encrypted_key for c in ProviderCredential.objects.all()}
    new_key = Fernet.generate_key().decode()
    settings.PROVIDER_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_provider_keys")
    after = {c.pk: c.encrypted_key for c in ProviderCredential.objects.all()}
    assert all(after[pk] != before[pk] for pk in before)
    for token in after.values():
        assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == TEST_KEY
    settings.PROVIDER_ENCRYPTION_KEYS = [new_key]  # the old key is removed
    run = services.run_execute(
        workspace=team.workspace, user=team.editor, rendered=rendered(), target=Target("openai", "gpt-4o")
    )
    assert run.status == "ok"
    assert run.credential_id == first.pk
    assert providers_on_fake.last().headers["authorization"] == f"Bearer {TEST_KEY}"
    assert second.pk in after


def test_removing_a_key_before_rotation_gives_a_clear_error(
    team: Any, settings: Any, providers_on_fake: FakeProvider
) -> None:
    add_credential(team.workspace, "openai")
    settings.PROVIDER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    run = services.run_execute(
        workspace=team.workspace, user=team.editor, rendered=rendered(), target=Target("openai", "gpt-4o")
    )
    assert run.status == "error"
    assert run.error_kind == "auth"
    assert "rotate_provider_keys" in run.error_message
    assert providers_on_fake.request_count == 0
