"""Demo rows for ``make run``: the starters (refreshed) and one template of the demo team's own."""

from __future__ import annotations

from typing import Any

from accounts.models import User, Workspace
from templates_app import services
from templates_app.models import Template

DEMO_SLUG = "weekly-sales-chart-brief"
DEMO_CONTENT: dict[str, Any] = {
    "messages": [
        {
            "role": "system",
            "content": [
                {
                    "type": "text",
                    "text": "You brief a sales team. Be concrete, use the numbers in the chart, and keep it short.",
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "image", "variable": "chart", "detail": "high"},
                {
                    "type": "text",
                    "text": (
                        "This is our weekly sales chart for {{ region }}. Write a three-bullet brief for "
                        "the Monday meeting: the best and worst performer, the week-on-week trend, and one "
                        "question the team should discuss."
                    ),
                },
            ],
        },
    ],
    "variables": [
        {"name": "chart", "type": "image", "description": "The week's sales bar chart."},
        {"name": "region", "type": "text", "default": "EMEA", "description": "Sales region the chart covers."},
    ],
    "model": {"temperature": 0.3, "max_tokens": 400},
}


def seed(*, workspace: Workspace, user: User) -> None:
    services.starter_templates_load()
    if Template.objects.filter(workspace=workspace, slug=DEMO_SLUG).exists():
        return
    services.template_create(
        workspace=workspace,
        user=user,
        name="Weekly sales chart brief",
        slug=DEMO_SLUG,
        category="vision",
        description="Our Monday-meeting brief from the weekly sales chart (a team template, not a starter).",
        content=DEMO_CONTENT,
        tags=["sales", "chart", "weekly"],
    )
