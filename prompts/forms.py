"""Forms for the prompt pages. They only clean input; prompts.services validates and writes."""

from __future__ import annotations

import json
from typing import Any

from django import forms

CONTENT_NOT_JSON = "The editor sent content that is not a JSON object. Reload the page and try again."
LABEL_REQUIRED = "Give the label a name, e.g. production."


class PromptEditorForm(forms.Form):
    """The editor's save: details, a commit message and the whole content document as JSON.

    ``content`` is filled by static/js/prompt-editor.js from the message, variable and model controls.
    """

    name = forms.CharField(required=False, max_length=300)
    description = forms.CharField(required=False, widget=forms.Textarea)
    tags = forms.CharField(required=False, max_length=1000)
    message = forms.CharField(required=False, max_length=500)
    content = forms.CharField(required=True, error_messages={"required": CONTENT_NOT_JSON})

    def clean_content(self) -> dict[str, Any]:
        raw = self.cleaned_data["content"]
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(CONTENT_NOT_JSON) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(CONTENT_NOT_JSON)
        return value

    def raw_content(self) -> Any:
        """The content as posted (parsed when possible), to show again after an error."""
        try:
            return json.loads(self.data.get("content") or "")
        except ValueError:
            return None


class LabelForm(forms.Form):
    label = forms.CharField(max_length=50, error_messages={"required": LABEL_REQUIRED})
    version = forms.IntegerField(min_value=1)

    def clean_label(self) -> str:
        return str(self.cleaned_data["label"]).strip().lower()
