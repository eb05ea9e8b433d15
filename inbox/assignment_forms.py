"""Forms of the assignment slice: transfer, contact category, teams, agents' settings and
routing rules. They only parse input; the services decide (inbox/services/assignment.py,
teams.py, routing.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import Channel
from inbox.models import Contact, Conversation, RoutingRule, Team
from inbox.services.assignment import MAX_CAPACITY
from inbox.services.lifecycle import MAX_NOTE_LENGTH


class TransferForm(forms.Form):
    """One select for both: "user:<id>" for a colleague, "team:<id>" for a team."""

    to = forms.CharField(label=_("Transfer to"))
    note = forms.CharField(
        label=_("Note for your colleague (optional)"),
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_to(self) -> tuple[str, int]:
        kind, _separator, raw_id = self.cleaned_data["to"].partition(":")
        if kind not in {"user", "team"} or not raw_id.isdigit():
            raise forms.ValidationError(_("Choose a colleague or a team."))
        return kind, int(raw_id)


class ContactCategoryForm(forms.Form):
    category = forms.ChoiceField(label=_("Contact is"), choices=Contact.Category.choices)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    is_default = forms.BooleanField(
        label=_("Default team (gets every conversation no rule claims)"), required=False
    )


class MemberForm(forms.Form):
    user_id = forms.IntegerField(label=_("Colleague"), min_value=1)


class AgentSettingsForm(forms.Form):
    capacity = forms.IntegerField(label=_("Capacity"), min_value=0, max_value=MAX_CAPACITY)
    in_training = forms.BooleanField(label=_("In training"), required=False)


class RoutingRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        initial=100,
        help_text=_("Rules are tried from the lowest position up; the first that matches wins."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.order_by("name"),
        required=False,
        empty_label=_("Any channel"),
    )
    keywords = forms.CharField(
        label=_("Keywords or #hashtags in the first message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line or separated by commas; any of them matches. Whole words, case and "
            "accents do not matter. A word also matches its #hashtag; a #hashtag only the "
            "hashtag. Empty: any message."
        ),
    )
    contact_category = forms.ChoiceField(
        label=_("Contact"),
        required=False,
        choices=[("", _("Any contact")), *Contact.Category.choices],
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.order_by("name"))
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=Conversation.Priority.choices,
        coerce=int,
        initial=Conversation.Priority.NORMAL,
    )

    @classmethod
    def initial_for(cls, rule: RoutingRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "position": rule.position,
            "is_active": rule.is_active,
            "channel": rule.channel_id,
            "keywords": rule.keywords,
            "contact_category": rule.contact_category,
            "team": rule.team_id,
            "priority": rule.priority,
        }

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "position": data["position"],
            "is_active": data["is_active"],
            "channel_id": data["channel"].pk if data["channel"] else None,
            "keywords": data["keywords"],
            "contact_category": data["contact_category"],
            "team_id": data["team"].pk,
            "priority": data["priority"],
        }
