"""Writes for users, workspaces and memberships."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Membership, Role, User, Workspace
from audit.context import request_user
from audit.services import record
from studio.exceptions import Conflict, UnknownReference
from studio.permissions import forget_memberships, require_role

EMAIL_TAKEN = "An account with this email address already exists."
NO_SUCH_USER = "There is no user with the email address {email}. Ask them to sign up first."
ALREADY_MEMBER = "{email} is already a member of this workspace."
LAST_OWNER = "A workspace needs at least one owner: make someone else owner first."
ONLY_OWNERS_MANAGE_OWNERS = "Only an owner can grant the owner role or change an owner's membership."
TRANSFER_TO_SELF = "You are already the owner."
CANNOT_DELETE_LAST_WORKSPACE = "This is your only workspace; create another one before deleting it."
NOT_A_MEMBER = "That user is not a member of this workspace."


def user_create(*, email: str, password: str, display_name: str = "") -> User:
    """Sign up: the user and a personal workspace they own."""
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict({"email": EMAIL_TAKEN})
    candidate = User(email=email, display_name=display_name.strip())
    validate_password(password, user=candidate)
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, display_name=display_name.strip())
        workspace_create(user=user, name=f"{user.name}'s workspace", personal=True)
    return user


@transaction.atomic
def workspace_create(*, user: User, name: str, personal: bool = False) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A workspace needs a name."})
    workspace = Workspace.objects.create(name=name[:100], personal=personal, created_by=user)
    Membership.objects.create(user=user, workspace=workspace, role=Role.OWNER)
    forget_memberships(user)
    return workspace


def workspace_update(*, workspace: Workspace, name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A workspace needs a name."})
    old_name = workspace.name
    workspace.name = name[:100]
    workspace.save(update_fields=["name"])
    if workspace.name != old_name:
        record(
            action="workspace.renamed",
            actor=request_user(),
            workspace=workspace,
            target=workspace,
            details={"from": old_name, "to": workspace.name},
        )
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: User) -> None:
    if Membership.objects.filter(user=actor).count() <= 1:
        raise Conflict(CANNOT_DELETE_LAST_WORKSPACE)
    record(action="workspace.deleted", actor=actor, workspace=workspace, target=workspace)
    # A/B tests first: their variants and snapshots PROTECT the prompt versions and datasets that the
    # workspace's cascade would delete (a ProtectedError otherwise).
    from abtests.models import ABTest

    ABTest.objects.filter(workspace=workspace).delete()
    workspace.delete()
    forget_memberships(actor)


def _owner_count(workspace: Workspace) -> int:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).count()


@transaction.atomic
def member_invite(*, actor: Membership, email: str, role: str) -> Membership:
    """Add an existing user to the actor's workspace (admins and owners)."""
    require_role(actor, Role.ADMIN)
    role = Role(role)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise ValidationError({"role": ONLY_OWNERS_MANAGE_OWNERS})
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        raise UnknownReference({"email": NO_SUCH_USER.format(email=email)})
    if Membership.objects.filter(workspace_id=actor.workspace_id, user=user).exists():
        raise Conflict({"email": ALREADY_MEMBER.format(email=email)})
    member = Membership.objects.create(workspace_id=actor.workspace_id, user=user, role=role)
    record(
        action="member.invited",
        actor=actor.user,
        workspace=actor.workspace,
        target=user,
        details={"email": user.email, "role": role.value},
    )
    return member


@transaction.atomic
def member_change_role(*, actor: Membership, member: Membership, role: str) -> Membership:
    require_role(actor, Role.ADMIN)
    role = Role(role)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    touches_owner = role == Role.OWNER or member.role == Role.OWNER
    if touches_owner and actor.role != Role.OWNER:
        raise ValidationError({"role": ONLY_OWNERS_MANAGE_OWNERS})
    if member.role == Role.OWNER and role != Role.OWNER and _owner_count(member.workspace) <= 1:
        raise Conflict({"role": LAST_OWNER})
    old_role = member.role
    member.role = role
    member.save(update_fields=["role"])
    if old_role != role:
        record(
            action="member.role_changed",
            actor=actor.user,
            workspace=actor.workspace,
            target=member.user,
            details={"email": member.user.email, "from": old_role, "to": role.value},
        )
    forget_memberships(member.user)
    return member


@transaction.atomic
def member_remove(*, actor: Membership, member: Membership) -> None:
    """Remove a member; anyone may remove themselves (leave), admins may remove others."""
    if member.pk != actor.pk:
        require_role(actor, Role.ADMIN)
        if member.role == Role.OWNER and actor.role != Role.OWNER:
            raise ValidationError(ONLY_OWNERS_MANAGE_OWNERS)
    if member.role == Role.OWNER and _owner_count(member.workspace) <= 1:
        raise Conflict(LAST_OWNER)
    record(
        action="member.left" if member.pk == actor.pk else "member.removed",
        actor=actor.user,
        workspace=actor.workspace,
        target=member.user,
        details={"email": member.user.email, "role": member.role},
    )
    member.delete()
    forget_memberships(member.user)


@transaction.atomic
def ownership_transfer(*, actor: Membership, member: Membership) -> Membership:
    """The owner makes ``member`` the owner and becomes an admin."""
    require_role(actor, Role.OWNER)
    if member.pk == actor.pk:
        raise Conflict(TRANSFER_TO_SELF)
    if member.workspace_id != actor.workspace_id:
        raise UnknownReference(NOT_A_MEMBER)
    member.role = Role.OWNER
    member.save(update_fields=["role"])
    actor.role = Role.ADMIN
    actor.save(update_fields=["role"])
    record(
        action="workspace.ownership_transferred",
        actor=actor.user,
        workspace=actor.workspace,
        target=member.user,
        details={"from": actor.user.email, "to": member.user.email},
    )
    forget_memberships(actor.user)
    forget_memberships(member.user)
    return member
