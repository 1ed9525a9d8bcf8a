from django.apps import AppConfig


class AbtestsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "abtests"
