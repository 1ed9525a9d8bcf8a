"""Load the shipped model catalog (prices per 1M tokens, with the date read)."""

from django.db import migrations


def load(apps, schema_editor):
    from providers.catalog import load_default_models

    load_default_models(apps.get_model("providers", "ModelInfo"), update=False)


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
