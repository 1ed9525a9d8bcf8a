"""Forms for the provider console pages. They only clean input; providers.services writes."""

from __future__ import annotations

from django import forms

from providers.models import Provider

KEYED_PROVIDERS = [(p.value, p.label) for p in Provider if p != Provider.ECHO]
MODALITY_CHOICES = [("image", "Images"), ("audio", "Audio"), ("document", "PDF documents")]


class CredentialForm(forms.Form):
    provider = forms.ChoiceField(choices=KEYED_PROVIDERS)
    label = forms.CharField(
        max_length=100, required=False, help_text="To tell several keys of one provider apart, e.g. “team budget”."
    )
    api_key = forms.CharField(
        label="API key",
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Stored encrypted; only its last 4 characters are shown again. Optional for an OpenAI-compatible server.",
    )
    base_url = forms.CharField(
        label="Base URL",
        max_length=500,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://llm.example.com/v1"}),
        help_text="Only for an OpenAI-compatible server (vLLM, Ollama, LM Studio, a gateway).",
    )


class CredentialReplaceForm(forms.Form):
    api_key = forms.CharField(
        label="New API key",
        max_length=1000,
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class CustomModelForm(forms.Form):
    model_id = forms.CharField(label="Model id", max_length=200, help_text="As the server names it, e.g. llama3.1:8b.")
    display_name = forms.CharField(max_length=200, required=False)
    input_modalities = forms.MultipleChoiceField(
        label="Also takes",
        choices=MODALITY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every model takes text.",
    )
    context_window = forms.IntegerField(min_value=0, required=False, initial=0, label="Context window (tokens)")
    price_input = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=6, required=False, initial=0, label="Input price ($ / 1M tokens)"
    )
    price_output = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=6, required=False, initial=0, label="Output price ($ / 1M tokens)"
    )
