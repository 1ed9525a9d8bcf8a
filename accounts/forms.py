"""Forms for the accounts pages. They only clean input; writes go through ``accounts.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm as DjangoAdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import Role, User

PASSWORDS_DIFFER = "The two passwords don't match."


class SignupForm(forms.Form):
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    display_name = forms.CharField(
        label="Your name",
        max_length=150,
        required=False,
        help_text="Shown to your teammates.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not only digits and not a common password.",
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()  # type: ignore[no-any-return]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", PASSWORDS_DIFFER)
        elif password1:
            candidate = User(email=data.get("email", ""), display_name=data.get("display_name", ""))
            try:
                validate_password(password1, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return data


class LoginForm(forms.Form):
    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()  # type: ignore[no-any-return]


class WorkspaceForm(forms.Form):
    name = forms.CharField(label="Workspace name", max_length=100)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        help_text="They need an account already.",
        widget=forms.EmailInput(attrs={"placeholder": "teammate@example.com", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.EDITOR)

    def __init__(self, *args: Any, roles: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if roles is not None:
            self.fields["role"].choices = roles

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()  # type: ignore[no-any-return]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberChoiceForm(forms.Form):
    user_id = forms.IntegerField(min_value=1)


class SwitchWorkspaceForm(forms.Form):
    workspace_id = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False)


# --- django-admin forms for the email-login user -------------------------------------------


class AdminUserCreationForm(DjangoAdminUserCreationForm):  # type: ignore[type-arg]
    """django-admin's add-user form for the email-login user (password optional, as in Django)."""

    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("A user with this email address already exists.")
        return email  # type: ignore[no-any-return]


class AdminUserChangeForm(DjangoUserChangeForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = "__all__"
