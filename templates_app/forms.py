"""Forms for the template pages. They only clean input; services do the work."""

from __future__ import annotations

from typing import Any

from django import forms

from templates_app.models import Category


class UseTemplateForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        required=False,
        label="Prompt name",
        help_text="Leave empty to name the prompt after the template.",
    )


class SaveAsTemplateForm(forms.Form):
    name = forms.CharField(max_length=120, label="Template name")
    category = forms.ModelChoiceField(queryset=Category.objects.none(), to_field_name="slug", empty_label=None)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. image, json.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.order_by("order", "name")  # type: ignore[attr-defined]

    def clean_tags(self) -> list[str]:
        raw: str = self.cleaned_data.get("tags") or ""
        return [tag.strip() for tag in raw.split(",") if tag.strip()]
