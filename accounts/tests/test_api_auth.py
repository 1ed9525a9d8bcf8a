"""The JWT journey and the token endpoints' failure modes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Membership, Role, User
from accounts.services import EMAIL_TAKEN

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase"


def _register(client: APIClient, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
    return client.post(
        reverse("api:register"), {"email": email, "password": password, "display_name": "Ada"}, format="json"
    )


def test_register_token_me_refresh_logout_journey() -> None:
    client = APIClient()

    registered = _register(client)
    assert registered.status_code == 201, registered.content
    assert registered.json()["user"]["email"] == "ada@example.com"
    user = User.objects.get(email="ada@example.com")
    personal = Membership.objects.get(user=user)
    assert personal.role == Role.OWNER
    assert personal.workspace.personal

    token = client.post(reverse("api:token"), {"email": "ada@example.com", "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content
    access, refresh = token.json()["access"], token.json()["refresh"]

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    me = client.get(reverse("api:me"))
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["workspaces"] == [
        {"id": personal.workspace_id, "name": personal.workspace.name, "personal": True, "role": "owner"}
    ]
    client.credentials()

    assert client.post(reverse("api:token-verify"), {"token": access}, format="json").status_code == 200

    rotated = client.post(reverse("api:token-refresh"), {"refresh": refresh}, format="json")
    assert rotated.status_code == 200, rotated.content
    new_refresh = rotated.json()["refresh"]
    assert new_refresh != refresh
    assert "access" in rotated.json()

    # The rotated (old) refresh was blacklisted: reusing it is refused.
    reused = client.post(reverse("api:token-refresh"), {"refresh": refresh}, format="json")
    assert reused.status_code == 401
    assert reused.json()["detail"]

    logout = client.post(reverse("api:logout"), {"refresh": new_refresh}, format="json")
    assert logout.status_code == 204

    after_logout = client.post(reverse("api:token-refresh"), {"refresh": new_refresh}, format="json")
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "token_not_valid"


def test_register_refuses_duplicate_email_and_weak_password() -> None:
    client = APIClient()
    assert _register(client).status_code == 201

    duplicate = _register(client, email="ADA@example.com")
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"] == f"email: {EMAIL_TAKEN}"

    weak = _register(client, email="bob@example.com", password="123")
    assert weak.status_code == 400
    assert "password" in weak.json()["detail"].lower() or "short" in weak.json()["detail"].lower()
    assert not User.objects.filter(email="bob@example.com").exists()


def test_register_with_malformed_json_is_a_clear_400() -> None:
    response = APIClient().post(reverse("api:register"), data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_tampered_access_token_is_refused(user: User) -> None:
    access = str(AccessToken.for_user(user))
    header, payload, signature = access.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
    response = client.get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_expired_access_token_is_refused(user: User) -> None:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(reverse("api:me"))
    assert response.status_code == 401


def test_access_token_lifetime_defaults_to_fifteen_minutes(user: User) -> None:
    token = AccessToken.for_user(user)
    assert token["exp"] - token["iat"] == 15 * 60


def test_anonymous_me_is_401_with_json_detail() -> None:
    response = APIClient().get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json()["detail"]


def test_bad_login_is_401_with_clear_message(user: User) -> None:
    response = APIClient().post(reverse("api:token"), {"email": user.email, "password": "nope"}, format="json")
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"].lower()


def test_twenty_first_bad_login_in_a_minute_is_throttled(user: User) -> None:
    client = APIClient()
    for _ in range(20):
        response = client.post(reverse("api:token"), {"email": user.email, "password": "wrong"}, format="json")
        assert response.status_code == 401
    throttled = client.post(reverse("api:token"), {"email": user.email, "password": "wrong"}, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["retry_after"] > 0


def test_login_throttle_rate_is_configurable(user: User, settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        from rest_framework.throttling import ScopedRateThrottle

        old = ScopedRateThrottle.THROTTLE_RATES
        ScopedRateThrottle.THROTTLE_RATES = rates
        try:
            client = APIClient()
            codes = [
                client.post(reverse("api:token"), {"email": user.email, "password": "x"}, format="json").status_code
                for _ in range(4)
            ]
        finally:
            ScopedRateThrottle.THROTTLE_RATES = old
    assert codes == [401, 401, 401, 429]


def test_session_auth_works_for_the_api_from_the_browser(client: Any, user: User) -> None:
    client.force_login(user)
    response = client.get(reverse("api:me"))
    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_me_patch_changes_display_name(api: Any, user: User) -> None:
    response = api(user).patch(reverse("api:me"), {"display_name": "Grace"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Grace"


def test_me_patch_without_display_name_changes_nothing(api: Any, user: User) -> None:
    before = user.display_name
    response = api(user).patch(reverse("api:me"), {}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == before


def test_register_refuses_an_all_digit_password_by_the_schema_pattern() -> None:
    response = _register(APIClient(), email="num@example.com", password="4815162342")
    assert response.status_code == 400
    assert response.json()["errors"]["password"] == ["This password is entirely numeric."]
    assert not User.objects.filter(email="num@example.com").exists()


def test_openapi_schema_and_docs_are_served_offline(api: Any, user: User) -> None:
    client = api(user)
    schema = client.get(reverse("api:schema"))
    assert schema.status_code == 200
    assert b"/api/auth/token/" in schema.content
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger" in html.lower()
    assert "cdn" not in html.lower() and "unpkg" not in html.lower() and "jsdelivr" not in html.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["token-refresh", "token-verify"])
def test_token_refresh_and_verify_document_that_nul_and_blank_are_refused(client: Any, name: str) -> None:
    field = "refresh" if name == "token-refresh" else "token"
    schema = client.get("/api/schema/?format=json").json()
    body = schema["paths"][reverse(f"api:{name}")]["post"]["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    pattern = component["properties"][field]["pattern"]
    for value, documented in [("a.b.c", True), ("a\x00b", False), ("   ", False)]:
        assert bool(re.match(pattern, value)) is documented, value
        response = client.post(reverse(f"api:{name}"), {field: value}, content_type="application/json")
        # a documented value gets past validation (to "token invalid": 401); the others are a 400
        assert response.status_code == (401 if documented else 400), (value, response.content)
