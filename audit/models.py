"""The audit log: an append-only record of who did what, where and from which address.

Rows are written once by ``audit.services.record`` and never changed or deleted through the ORM:
``save()`` refuses updates, ``delete()`` and the queryset's ``update()``/``delete()`` raise. The
workspace and actor keep their ids (no database constraint, no cascade) so the history outlives a
deleted workspace or user; ``workspace_name`` and ``actor_email`` keep what they were called.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

APPEND_ONLY = "The audit log is append-only: events can't be changed or deleted."


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(APPEND_ONLY)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(APPEND_ONLY)

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError(APPEND_ONLY)

    def in_workspace(self, workspace_id: int, member_ids: list[int] | None = None) -> AuditEventQuerySet:
        """Events of the workspace, plus account events (log-ins, failed log-ins) of its members."""
        condition = models.Q(workspace_id=workspace_id)
        if member_ids:
            condition |= models.Q(workspace_id__isnull=True, actor_id__in=member_ids)
            condition |= models.Q(
                workspace_id__isnull=True, target_type="accounts.user", target_id__in=[str(i) for i in member_ids]
            )
        return self.filter(condition)


class AuditEvent(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    workspace_name = models.CharField(max_length=100, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True, help_text="Dotted code, e.g. member.role_changed.")
    target_type = models.CharField(max_length=64, blank=True, help_text="app_label.model of the object acted on.")
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects: ClassVar[models.Manager[AuditEvent]] = AuditEventQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_workspace_time")]

    def __str__(self) -> str:
        who = self.actor_email or "system"
        return f"{self.action} by {who} at {self.created_at:%Y-%m-%d %H:%M:%S}" if self.created_at else self.action

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(APPEND_ONLY)

    @property
    def category(self) -> str:
        return self.action.split(".", 1)[0]

    @property
    def label(self) -> str:
        return ACTION_LABELS.get(self.action) or FORMER_ACTION_LABELS.get(self.action, self.action)


# Known actions with a readable label (the filter offers these; other dotted codes are allowed too).
ACTION_LABELS: dict[str, str] = {
    "auth.login": "Logged in",
    "auth.login_failed": "Failed log-in",
    "member.invited": "Member added",
    "member.role_changed": "Role changed",
    "member.removed": "Member removed",
    "member.left": "Member left",
    "workspace.renamed": "Workspace renamed",
    "workspace.ownership_transferred": "Ownership transferred",
    "workspace.deleted": "Workspace deleted",
    "credential.added": "Provider key added",
    "credential.replaced": "Provider key replaced",
    "credential.deleted": "Provider key deleted",
    "label.moved": "Label moved",
    "label.deleted": "Label removed",
    "prompt.deleted": "Prompt deleted",
    "template.deleted": "Template deleted",
    "dataset.deleted": "Dataset deleted",
    "abtest.deleted": "A/B test deleted",
    "export.prompt": "Prompt exported",
    "export.template": "Template exported",
    "export.dataset": "Dataset exported",
    "export.abtest": "A/B test exported",
    "export.runs": "Runs exported",
    "export.workspace": "Workspace exported",
    "import.studio": "Studio export imported",
    "import.promptfoo": "promptfoo config imported",
    "import.dataset": "Dataset imported",
}

# Codes no longer written, still labelled for the events that carry them (the filter offers them only
# where the workspace's log has some).
FORMER_ACTION_LABELS: dict[str, str] = {
    "import.applied": "Import applied",
}
