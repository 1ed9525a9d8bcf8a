"""Provider keys and model catalog pages: the role matrix, the key never shown, query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from providers import services
from providers.fake_server import FakeProvider
from providers.models import ModelInfo, ProviderCredential
from providers.tests.conftest import TEST_KEY, add_credential

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "editor", "viewer"]
ADMINS = {"owner", "admin"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- provider keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_credentials_page_shows_provider_and_last4_but_actions_only_to_admins(team: Any, role: str) -> None:
    credential = add_credential(team.workspace, "openai")
    response = client_for(team.user(role)).get(reverse("providers:credentials"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "OpenAI" in html and f"…{TEST_KEY[-4:]}" in html
    assert TEST_KEY not in html and credential.encrypted_key not in html
    is_admin = role in ADMINS
    assert (reverse("providers:credential-delete", args=[credential.pk]) in html) is is_admin
    assert (reverse("providers:credential-test", args=[credential.pk]) in html) is is_admin
    assert ("Add a key" in html) is is_admin


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_add_replace_delete_and_test_keys(team: Any, role: str) -> None:
    credential = add_credential(team.workspace, "anthropic")
    client = client_for(team.user(role))
    expected = 302 if role in ADMINS else 403
    add = client.post(reverse("providers:credentials"), {"provider": "mistral", "api_key": "mk-new-key-1234"})
    assert add.status_code == expected
    assert ProviderCredential.objects.filter(provider="mistral").exists() is (role in ADMINS)
    replace = client.post(reverse("providers:credential-replace", args=[credential.pk]), {"api_key": "sk-ant-new-9876"})
    assert replace.status_code == expected
    credential.refresh_from_db()
    assert (credential.last4 == "9876") is (role in ADMINS)
    if role not in ADMINS:
        assert client.post(reverse("providers:credential-test", args=[credential.pk])).status_code == 403
        assert client.post(reverse("providers:credential-delete", args=[credential.pk])).status_code == 403
        assert ProviderCredential.objects.filter(pk=credential.pk).exists()
    else:
        assert client.post(reverse("providers:credential-delete", args=[credential.pk])).status_code == 302
        assert not ProviderCredential.objects.filter(pk=credential.pk).exists()


def test_outsider_gets_404_for_another_workspaces_key(team: Any) -> None:
    credential = add_credential(team.workspace, "openai")
    client = client_for(team.outsider)
    for name in ("providers:credential-replace", "providers:credential-delete", "providers:credential-test"):
        assert client.post(reverse(name, args=[credential.pk]), {"api_key": "x" * 12}).status_code == 404
    html = client.get(reverse("providers:credentials")).content.decode()
    assert TEST_KEY[-4:] not in html
    assert ProviderCredential.objects.get(pk=credential.pk).last4 == TEST_KEY[-4:]


def test_adding_a_key_stores_it_encrypted_and_the_page_never_shows_it(team: Any) -> None:
    key = "sk-page-added-SECRET-abcd"
    client = client_for(team.admin)
    response = client.post(
        reverse("providers:credentials"), {"provider": "openai", "label": "team", "api_key": key}, follow=True
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Added the OpenAI key" in html and "…abcd" in html
    assert key not in html
    row = ProviderCredential.objects.get(label="team")
    assert key not in row.encrypted_key and row.last4 == "abcd"


def test_a_refused_key_form_keeps_input_but_not_the_key(team: Any) -> None:
    key = "sk-refused-SECRET-wxyz"
    response = client_for(team.admin).post(
        reverse("providers:credentials"),
        {"provider": "openai_compatible", "label": "local", "api_key": key, "base_url": "http://169.254.169.254/"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert key not in html and 'value="local"' in html
    assert "169.254.169.254" in html  # the refused URL is shown back with the reason
    assert not ProviderCredential.objects.exists()


def test_test_connection_reports_the_result(team: Any, providers_on_fake: FakeProvider) -> None:
    credential = add_credential(team.workspace, "openai")
    client = client_for(team.admin)
    response = client.post(reverse("providers:credential-test", args=[credential.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Connected to OpenAI" in response.content.decode() and "toast" in response["HX-Trigger"]

    providers_on_fake.fail_next(401)
    failed = client.post(reverse("providers:credential-test", args=[credential.pk]), follow=True)
    html = failed.content.decode()
    assert "Connected to OpenAI" not in html and "toast-error" in html
    assert TEST_KEY not in html


def test_credentials_page_query_count_is_constant(team: Any, django_assert_max_num_queries: Any) -> None:
    client = client_for(team.admin)
    add_credential(team.workspace, "openai")
    client.get(reverse("providers:credentials"))  # warm the session
    with django_assert_max_num_queries(8) as small:
        client.get(reverse("providers:credentials"))
    for i in range(20):
        services.credential_create(
            workspace=team.workspace, user=team.admin, provider="openai", api_key=f"sk-more-{i:04d}", label=f"k{i}"
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("providers:credentials"))
    assert response.content.decode().count("…00") >= 10


# --- model catalog ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_models_page_lists_catalog_with_prices_date_and_unverified(team: Any, role: str) -> None:
    response = client_for(team.user(role)).get(reverse("providers:models"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "GPT-4o" in html and "Claude Sonnet 4.6" in html and "Mistral Small" in html and "Echo" in html
    assert "prices read on" in html and "2026-11-30" in html
    assert "unverified" in html  # Mistral prices come from a third-party page
    assert ("Add a custom model" in html) is (role in ADMINS)


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_add_and_delete_custom_models(team: Any, role: str) -> None:
    client = client_for(team.user(role))
    response = client.post(
        reverse("providers:models"),
        {"model_id": "llama3.1:8b", "display_name": "Llama 3.1 8B", "input_modalities": ["image"], "price_input": "0"},
    )
    assert response.status_code == (302 if role in ADMINS else 403)
    created = ModelInfo.objects.filter(workspace=team.workspace, model_id="llama3.1:8b").first()
    assert (created is not None) is (role in ADMINS)
    if created is not None:
        assert created.provider == "openai_compatible" and created.input_modalities == ["text", "image"]
        html = client.get(reverse("providers:models")).content.decode()
        assert "llama3.1:8b" in html and "custom" in html
        assert client.post(reverse("providers:model-delete", args=[created.pk])).status_code == 302
        assert not ModelInfo.objects.filter(pk=created.pk).exists()


def test_custom_models_are_per_workspace_and_shared_rows_cannot_be_deleted(team: Any) -> None:
    theirs = services.custom_model_create(workspace=team.other_workspace, model_id="their-model")
    html = client_for(team.admin).get(reverse("providers:models")).content.decode()
    assert "their-model" not in html
    assert client_for(team.admin).post(reverse("providers:model-delete", args=[theirs.pk])).status_code == 404
    shared = ModelInfo.objects.get(provider="openai", model_id="gpt-4o", workspace=None)
    assert client_for(team.owner).post(reverse("providers:model-delete", args=[shared.pk])).status_code == 404
    assert ModelInfo.objects.filter(pk__in=[theirs.pk, shared.pk]).count() == 2


def test_duplicate_custom_model_is_refused_with_a_message(team: Any) -> None:
    services.custom_model_create(workspace=team.workspace, model_id="dup")
    response = client_for(team.admin).post(reverse("providers:models"), {"model_id": "dup"})
    assert response.status_code == 400
    assert services.CUSTOM_MODEL_EXISTS.format(model="dup") in response.content.decode()


def _add_models(workspace: Any, count: int, start: int = 0) -> None:
    ModelInfo.objects.bulk_create(
        ModelInfo(
            workspace=workspace,
            provider="openai_compatible",
            model_id=f"bulk-{workspace.pk}-{i}",
            display_name=f"Bulk {i}",
            input_modalities=["text"],
            price_input=Decimal("0.1"),
            price_output=Decimal("0.2"),
        )
        for i in range(start, start + count)
    )


def test_models_page_query_count_is_the_same_for_5_and_50_models(team: Any, django_assert_num_queries: Any) -> None:
    client = client_for(team.admin)
    ModelInfo.objects.filter(workspace=None).delete()
    _add_models(team.workspace, 5)
    client.get(reverse("providers:models"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse("providers:models")).content.decode().count("Bulk ") == 5
    _add_models(team.other_workspace, 1)
    ModelInfo.objects.filter(workspace=team.workspace).delete()
    _add_models(team.workspace, 50)
    with django_assert_num_queries(len(five.captured_queries)):
        assert client.get(reverse("providers:models")).content.decode().count("Bulk ") == 50


def test_playground_page_query_count_does_not_grow_with_models(team: Any, django_assert_num_queries: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(team.editor)
    _add_models(team.workspace, 5)
    client.get(reverse("providers:playground"))
    with CaptureQueriesContext(connection) as five:
        client.get(reverse("providers:playground"))
    _add_models(team.workspace, 45, start=5)
    with django_assert_num_queries(len(five.captured_queries)):
        client.get(reverse("providers:playground"))


def test_settings_console_links_to_keys_and_models(team: Any) -> None:
    html = client_for(team.viewer).get(reverse("accounts:settings")).content.decode()
    assert reverse("providers:credentials") in html and reverse("providers:models") in html


def test_prices_show_at_least_two_decimals_and_context_is_grouped(team: Any) -> None:
    from providers.templatetags.providers_tags import price

    assert [price(Decimal(v)) for v in ("2", "0.5", "0.075", "1.250000")] == ["2.00", "0.50", "0.075", "1.25"]
    assert price(None) == "—"
    html = client_for(team.viewer).get(reverse("providers:models")).content.decode()
    assert "1,047,576" in html and ">2.50<" in html  # GPT-4.1 context, GPT-4o input price
