"""/api/auth/ and /api/workspaces/: thin views over accounts.services and the access module."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenVerifyView

from accounts import selectors, services
from accounts.models import Membership, Role, User, Workspace
from audit.services import record
from studio.api import StrictCharField, error_response
from studio.openapi import conflict
from studio.permissions import membership_for

PASSWORD_NUMERIC = "This password is entirely numeric."


class TokenObtainInput(TokenObtainPairSerializer):
    """simplejwt's email + password, with fields whose schema says what they take (no NUL, not blank)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(write_only=True)
        self.fields["password"] = StrictCharField(write_only=True, style={"input_type": "password"})


class ThrottledTokenObtainView(TokenObtainPairView):
    """Email + password -> access + refresh."""

    serializer_class = TokenObtainInput
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=TokenObtainInput,
        responses={
            200: inline_serializer(
                "TokenObtainPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as e:
            raise InvalidToken(e.args[0]) from e
        # simplejwt doesn't send user_logged_in; failed attempts are logged through user_login_failed.
        record(action="auth.login", actor=serializer.user, workspace=None, details={"method": "jwt"}, request=request)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshInput(TokenRefreshSerializer):
    refresh = StrictCharField()  # its schema says what DRF refuses: NUL characters, blank


class TokenVerifyInput(TokenVerifySerializer):
    token = StrictCharField(write_only=True)


class ThrottledTokenRefreshView(TokenRefreshView):
    """Refresh -> new access + new refresh; the old refresh is blacklisted."""

    serializer_class = TokenRefreshInput
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


class ThrottledTokenVerifyView(TokenVerifyView):
    serializer_class = TokenVerifyInput
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


class UserOutput(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "date_joined"]


class MembershipWorkspaceOutput(serializers.Serializer[Membership]):
    id = serializers.IntegerField(source="workspace.id")
    name = serializers.CharField(source="workspace.name")
    personal = serializers.BooleanField(source="workspace.personal")
    role = serializers.CharField()


def _tokens_for(user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema_serializer(component_name="RegisterInput")
    class Input(serializers.Serializer[Any]):
        email = serializers.EmailField()
        # What the schema can say of AUTH_PASSWORD_VALIDATORS: 8+ characters, not all digits, no NUL (the
        # common-password list and the similarity to the email are checked on top).
        password = StrictCharField(
            write_only=True,
            style={"input_type": "password"},
            min_length=8,
            validators=[RegexValidator(r"^(?!\s*\d*\s*$)[^\x00]*$", message=PASSWORD_NUMERIC)],
        )
        display_name = StrictCharField(required=False, allow_blank=True, max_length=150, default="")

    @extend_schema(
        request=Input,
        responses={
            201: inline_serializer(
                "Registered",
                {"user": UserOutput(), "access": serializers.CharField(), "refresh": serializers.CharField()},
            ),
            **conflict("An account with this email address already exists."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data)
        return Response({"user": UserOutput(user).data, **_tokens_for(user)}, status=status.HTTP_201_CREATED)


class LogoutView(APIView):
    """Blacklist a refresh token so it can't be used again."""

    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="LogoutInput")
    class Input(serializers.Serializer[Any]):
        refresh = StrictCharField()

    @extend_schema(request=Input, responses={204: None})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            RefreshToken(data.validated_data["refresh"]).blacklist()
        except TokenError as exc:
            return error_response(f"refresh: {exc}", code="token_not_valid", status_code=status.HTTP_401_UNAUTHORIZED)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema_serializer(component_name="MeOutput")
    class Output(serializers.Serializer[User]):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        display_name = serializers.CharField()
        workspaces = serializers.SerializerMethodField()

        def get_workspaces(self, user: User) -> list[dict[str, Any]]:
            return MembershipWorkspaceOutput(selectors.membership_list(user=user), many=True).data  # type: ignore[return-value]

    @extend_schema_serializer(component_name="MeInput")
    class Input(serializers.Serializer[Any]):
        display_name = StrictCharField(max_length=150, allow_blank=True)

    @extend_schema(responses=Output)
    def get(self, request: Request) -> Response:
        return Response(self.Output(request.user).data)

    @extend_schema(request=Input, responses=Output)
    def patch(self, request: Request) -> Response:
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = request.user
        if "display_name" in data.validated_data:
            user.display_name = data.validated_data["display_name"].strip()
            user.save(update_fields=["display_name"])
        return Response(self.Output(user).data)


class WorkspaceOutput(serializers.ModelSerializer[Workspace]):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["id", "name", "personal", "created_at", "role"]

    def get_role(self, workspace: Workspace) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(workspace.pk)


class WorkspaceInput(serializers.Serializer[Any]):
    name = StrictCharField(max_length=100)


def _roles(request: Request) -> dict[int, str]:
    return {m.workspace_id: m.role for m in selectors.membership_list(user=request.user)}


class WorkspaceListView(APIView):
    @extend_schema(responses=WorkspaceOutput(many=True))
    def get(self, request: Request) -> Response:
        workspaces = [m.workspace for m in selectors.membership_list(user=request.user)]
        return Response(WorkspaceOutput(workspaces, many=True, context={"roles": _roles(request)}).data)

    @extend_schema(request=WorkspaceInput, responses={201: WorkspaceOutput})
    def post(self, request: Request) -> Response:
        data = WorkspaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(user=request.user, name=data.validated_data["name"])
        return Response(
            WorkspaceOutput(workspace, context={"roles": {workspace.pk: Role.OWNER}}).data,
            status=status.HTTP_201_CREATED,
        )


class WorkspaceDetailView(APIView):
    @extend_schema(responses=WorkspaceOutput)
    def get(self, request: Request, workspace_id: int) -> Response:
        membership = membership_for(request.user, workspace_id)
        return Response(WorkspaceOutput(membership.workspace, context={"roles": _roles(request)}).data)

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput)
    def patch(self, request: Request, workspace_id: int) -> Response:
        membership = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
        data = WorkspaceInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        workspace = membership.workspace
        if "name" in data.validated_data:
            workspace = services.workspace_update(workspace=workspace, name=data.validated_data["name"])
        return Response(WorkspaceOutput(workspace, context={"roles": _roles(request)}).data)

    @extend_schema(responses={204: None, **conflict(services.CANNOT_DELETE_LAST_WORKSPACE)})
    def delete(self, request: Request, workspace_id: int) -> Response:
        membership = membership_for(request.user, workspace_id, min_role=Role.OWNER)
        services.workspace_delete(workspace=membership.workspace, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberOutput(serializers.ModelSerializer[Membership]):
    user_id = serializers.IntegerField(source="user.id")
    email = serializers.EmailField(source="user.email")
    display_name = serializers.CharField(source="user.display_name")

    class Meta:
        model = Membership
        fields = ["user_id", "email", "display_name", "role", "created_at"]


class MemberListView(APIView):
    @extend_schema_serializer(component_name="MemberListInput")
    class Input(serializers.Serializer[Any]):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)

    @extend_schema(responses=MemberOutput(many=True))
    def get(self, request: Request, workspace_id: int) -> Response:
        membership = membership_for(request.user, workspace_id)
        return Response(MemberOutput(selectors.member_list(workspace=membership.workspace), many=True).data)

    @extend_schema(request=Input, responses={201: MemberOutput, **conflict("The user is already a member.")})
    def post(self, request: Request, workspace_id: int) -> Response:
        actor = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_invite(actor=actor, **data.validated_data)
        return Response(MemberOutput(member).data, status=status.HTTP_201_CREATED)


def _member_or_404(actor: Membership, user_id: int) -> Membership:
    member = selectors.member_get(workspace=actor.workspace, user_id=user_id)
    if member is None:
        from django.http import Http404

        raise Http404(services.NOT_A_MEMBER)
    return member


class MemberDetailView(APIView):
    @extend_schema_serializer(component_name="MemberDetailInput")
    class Input(serializers.Serializer[Any]):
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(request=Input, responses={200: MemberOutput, **conflict(services.LAST_OWNER)})
    def patch(self, request: Request, workspace_id: int, user_id: int) -> Response:
        actor = membership_for(request.user, workspace_id, min_role=Role.ADMIN)
        member = _member_or_404(actor, user_id)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "role" in data.validated_data:
            member = services.member_change_role(actor=actor, member=member, role=data.validated_data["role"])
        return Response(MemberOutput(member).data)

    @extend_schema(responses={204: None, **conflict(services.LAST_OWNER)})
    def delete(self, request: Request, workspace_id: int, user_id: int) -> Response:
        actor = membership_for(request.user, workspace_id)
        member = _member_or_404(actor, user_id)
        services.member_remove(actor=actor, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferOwnershipView(APIView):
    @extend_schema_serializer(component_name="TransferOwnershipInput")
    class Input(serializers.Serializer[Any]):
        user_id = serializers.IntegerField()

    @extend_schema(request=Input, responses={200: MemberOutput, **conflict(services.TRANSFER_TO_SELF)})
    def post(self, request: Request, workspace_id: int) -> Response:
        actor = membership_for(request.user, workspace_id, min_role=Role.OWNER)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        member = _member_or_404(actor, data.validated_data["user_id"])
        with transaction.atomic():
            member = services.ownership_transfer(actor=actor, member=member)
        return Response(MemberOutput(member).data)
