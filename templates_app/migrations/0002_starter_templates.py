"""Load the shipped starter templates (idempotent; ``load_starter_templates`` does the same later)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from templates_app.starters import load_starters

    load_starters(apps.get_model("templates_app", "Category"), apps.get_model("templates_app", "Template"))


class Migration(migrations.Migration):
    dependencies = [("templates_app", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
