"""Forms of the data subject requests pages. They only parse input; the services decide
(inbox/services/data_subjects.py)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.models import DataSubjectRequest


class _DescribedForm(forms.Form):
    """Screen readers read a field's hint and its error with the field
    (templates/inbox/_form_fields.html gives them these ids)."""

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name not in self.fields:
                continue
            field = self.fields[name]
            auto_id = self[name].auto_id
            described = [f"{auto_id}_helptext"] if field.help_text else []
            described.append(f"{auto_id}-error")
            field.widget.attrs["aria-describedby"] = " ".join(described)
            field.widget.attrs["aria-invalid"] = "true"


class DataSubjectRequestForm(_DescribedForm):
    kind = forms.ChoiceField(
        label=_("Kind of request"),
        choices=DataSubjectRequest.Kind.choices,
        widget=forms.RadioSelect,
        initial=DataSubjectRequest.Kind.ACCESS,
    )
    reference = forms.CharField(
        label=_("Case number"),
        max_length=100,
        required=False,
        help_text=_("The municipality's own case number, to find the request in its case system."),
    )
    subject_description = forms.CharField(
        label=_("How the citizen identified themselves"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "In your own words, e.g. “identified at the desk with a passport, 3 March”. "
            "Never upload or copy an ID document, and no citizen service number (BSN)."
        ),
    )
    received_at = forms.DateField(
        label=_("Date received"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=_("The answer is due one month after this date."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["received_at"].initial = timezone.localdate()


class SearchForm(_DescribedForm):
    q = forms.CharField(
        label=_("Handle or name"),
        max_length=100,
        help_text=_("An @handle (with or without @) or part of a name; searches every channel."),
    )


class ErasureForm(_DescribedForm):
    method = forms.ChoiceField(
        label=_("How to erase"),
        choices=[
            ("anonymise", _("Anonymise: text, names and handles go; the figures stay")),
            ("delete", _("Delete: the conversations go entirely; the figures lose them")),
        ],
        widget=forms.RadioSelect,
        initial="anonymise",
    )
    confirmed_unresolved = forms.BooleanField(
        label=_("The open conversations are closed or handled otherwise"),
        required=False,
    )


class RejectForm(_DescribedForm):
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("E.g. the requester could not be identified. Kept with the request."),
    )
