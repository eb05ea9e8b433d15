"""The form of the agent's own settings page. It only parses input; the service decides
(inbox/services/preferences.py)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"), choices=settings.LANGUAGES, widget=forms.RadioSelect
    )
    notify_on_assignment = forms.BooleanField(
        label=_("A conversation is assigned to me"), required=False
    )
    notify_on_mention = forms.BooleanField(
        label=_("A colleague mentions me in a note"), required=False
    )
    notify_sound = forms.BooleanField(label=_("Play a sound"), required=False)
    notify_desktop = forms.BooleanField(label=_("Show a desktop notification"), required=False)
