"""Forms of the administrators' pages: staff accounts, channel credentials, the audit log
filter (inbox/views/staff_admin.py, channel_admin.py, audit_log.py)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.models import Channel
from inbox.models import AgentProfile
from inbox.selectors.audit import AuditFilters

ROLE_CHOICES = AgentProfile.Role.choices


class DescribedErrorsMixin:
    """Points each invalid field's `aria-describedby` at its error message (the templates
    give it the id `<field id>-error`) besides its help text, so screen readers read both."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        form = cast(forms.Form, self)
        # Django's own cleaning also reports through add_error, so this sees every error.
        for name in form.errors:
            if name not in form.fields:
                continue
            auto_id = form[name].auto_id
            described = [f"{auto_id}-error"]
            if form.fields[name].help_text:
                described.append(f"{auto_id}_helptext")
            form.fields[name].widget.attrs["aria-describedby"] = " ".join(described)


class StaffFilterForm(forms.Form):
    role = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Role"),
        choices=[("", gettext_lazy("All roles")), *ROLE_CHOICES],
    )


class StaffCreateForm(DescribedErrorsMixin, forms.Form):
    username = forms.RegexField(
        label=gettext_lazy("Username"),
        max_length=150,
        regex=r"^[\w.@+-]+\Z",
        error_messages={
            "invalid": gettext_lazy("Use only letters, digits and the characters @ . + - _.")
        },
    )
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=gettext_lazy("E-mail address"), required=False)
    role = forms.ChoiceField(
        label=gettext_lazy("Role"), choices=ROLE_CHOICES, initial=AgentProfile.Role.AGENT
    )
    sign_in = forms.ChoiceField(
        label=gettext_lazy("Signing in"),
        widget=forms.RadioSelect,
        initial="password",
        choices=[
            ("password", gettext_lazy("With a password I set now")),
            ("sso", gettext_lazy("Only with single sign-on (no password)")),
        ],
    )
    password = forms.CharField(
        label=gettext_lazy("Initial password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Give it to the person in a safe way; they can change it after signing in."
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("sign_in") == "password" and not cleaned.get("password"):
            self.add_error("password", _("Set an initial password, or choose single sign-on."))
        if cleaned.get("sign_in") == "sso":
            cleaned["password"] = None
        return cleaned


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)


class ChannelCredentialsForm(DescribedErrorsMixin, forms.Form):
    """One write-only field per credential name: empty keeps what is stored. The fields never
    carry the stored value back to the browser (`render_value=False`)."""

    def __init__(
        self, *args: Any, names: list[str], required: list[str], unreadable: bool, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.unreadable = unreadable
        self.required_names = required
        for name in names:
            self.fields[name] = forms.CharField(
                label=name,
                required=False,
                strip=True,
                max_length=2000,
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}
                ),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        given = {name: value for name, value in cleaned.items() if value}
        if not given:
            raise forms.ValidationError(
                _("Fill in at least one credential; empty fields keep the stored ones.")
            )
        if self.unreadable:
            for name in self.required_names:
                if not given.get(name):
                    self.add_error(
                        name,
                        _("The stored credentials cannot be read: give this one anew."),
                    )
        return cleaned

    @property
    def credentials(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items() if value}


class AuditFilterForm(DescribedErrorsMixin, forms.Form):
    action = forms.CharField(
        required=False,
        max_length=64,
        label=gettext_lazy("Action"),
        help_text=gettext_lazy("The start of the code, e.g. staff. or data_subject."),
    )
    actor = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Who")
    )
    date_from = forms.DateField(
        required=False,
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        required=False,
        label=gettext_lazy("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    conversation = forms.IntegerField(
        required=False, min_value=1, label=gettext_lazy("Conversation number")
    )
    channel = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Channel")
    )

    def __init__(self, *args: Any, actors: list[User], channels: list[Channel], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["actor"]).choices = [
            ("", _("Anyone")),
            *((user.pk, user.get_full_name() or user.username) for user in actors),
        ]
        cast(forms.TypedChoiceField, self.fields["channel"]).choices = [
            ("", _("All channels")),
            *((channel.pk, channel.name) for channel in channels),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            action_prefix=(data.get("action") or "").strip(),
            actor_id=data.get("actor"),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            conversation_id=data.get("conversation"),
            channel_id=data.get("channel"),
        )
