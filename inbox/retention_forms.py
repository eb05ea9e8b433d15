"""The retention page's form: one policy, of a channel or the default. It only parses input;
the service decides (inbox/services/privacy.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from inbox.models import RetentionPolicy
from inbox.services.privacy import MAX_MONTHS


class RetentionPolicyForm(forms.Form):
    # Empty: the default policy, for every channel without its own.
    channel = forms.IntegerField(required=False, widget=forms.HiddenInput)
    action = forms.ChoiceField(label=_("Action"), choices=RetentionPolicy.Action.choices)
    months_after_resolution = forms.IntegerField(
        label=_("Months after resolution"), min_value=1, max_value=MAX_MONTHS
    )
    require_archive = forms.BooleanField(
        label=_("Only when an archive export covers the conversation"), required=False
    )
    basis = forms.CharField(
        label=_("Basis (e.g. the selection list category)"), max_length=300, required=False
    )
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Ids unique per policy on a page with one form per channel.
        self.auto_id = f"policy-{self.prefix_key()}-%s"
        if self.is_bound:
            for name in self.errors:
                if name in self.fields:
                    widget = self.fields[name].widget
                    widget.attrs["aria-describedby"] = f"policy-{self.prefix_key()}-{name}-error"
                    widget.attrs["aria-invalid"] = "true"

    def prefix_key(self) -> str:
        value = self.data.get("channel") if self.is_bound else self.initial.get("channel")
        return str(value) if value else "default"

    @classmethod
    def for_policy(
        cls, policy: RetentionPolicy | None, channel_id: int | None
    ) -> RetentionPolicyForm:
        if policy is None:
            initial: dict[str, Any] = {
                "channel": channel_id,
                "action": RetentionPolicy.Action.ANONYMISE,
                "months_after_resolution": 12,
                "require_archive": True,
                "is_active": True,
            }
        else:
            initial = {
                "channel": channel_id,
                "action": policy.action,
                "months_after_resolution": policy.months_after_resolution,
                "require_archive": policy.require_archive,
                "basis": policy.basis,
                "is_active": policy.is_active,
            }
        return cls(initial=initial)
