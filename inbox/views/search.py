"""Full-text search over messages, internal notes and contacts (docs/architecture.md,
"Search"). Everything the page shows is in its URL: shareable, and the back button works."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from channels.models import Channel
from inbox.models import Conversation, Message, Tag
from inbox.selectors import search as search_selectors
from inbox.selectors.search import QUERY_MAX_LENGTH, ResultKind, SearchFilters, SearchResults
from inbox.services.sensitive_reads import search_record
from inbox.views import _staff_user, staff_required

# Tags offered in the filter, alphabetically; a longer list would be no use in a select.
TAG_CHOICES_LIMIT = 200


class SearchForm(forms.Form):
    """The query and filters of the search page, all from the URL (GET)."""

    q = forms.CharField(required=False, strip=True, label=gettext_lazy("Search for"))
    kind = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Show"),
        choices=[
            (ResultKind.ALL, gettext_lazy("Everything")),
            (ResultKind.MESSAGES, gettext_lazy("Messages")),
            (ResultKind.NOTES, gettext_lazy("Internal notes")),
            (ResultKind.CONTACTS, gettext_lazy("Contacts")),
        ],
    )
    channel = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=gettext_lazy("Channel")
    )
    direction = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Direction"),
        choices=[
            ("", gettext_lazy("Both")),
            (Message.Direction.INBOUND, gettext_lazy("From citizen")),
            (Message.Direction.OUTBOUND, gettext_lazy("From us")),
        ],
    )
    status = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Conversation status"),
        choices=[("", gettext_lazy("Any")), *Conversation.Status.choices],
    )
    assignee = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Assigned to"),
        choices=[("", gettext_lazy("Anyone")), ("me", gettext_lazy("Me"))],
    )
    tag = forms.ChoiceField(required=False, label=gettext_lazy("Tag"))
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
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, channels: list[Channel], tags: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        channel_field = cast(forms.TypedChoiceField, self.fields["channel"])
        channel_field.choices = [
            ("", _("All channels")),
            *(
                (channel.id, f"{channel.name} ({channel.get_kind_display()})")
                for channel in channels
            ),
        ]
        tag_field = cast(forms.ChoiceField, self.fields["tag"])
        tag_field.choices = [("", _("Any")), *((tag, tag) for tag in tags)]

    def clean_q(self) -> str:
        query = search_selectors.strip_markers(self.cleaned_data["q"])
        if len(query) > QUERY_MAX_LENGTH:
            raise forms.ValidationError(
                _("Your search is too long: use at most %(limit)d characters.")
                % {"limit": QUERY_MAX_LENGTH}
            )
        return query

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self, request: HttpRequest) -> SearchFilters:
        data = self.cleaned_data
        return SearchFilters(
            channel_id=data.get("channel"),
            direction=data.get("direction") or "",
            status=data.get("status") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            assignee=_staff_user(request) if data.get("assignee") == "me" else None,
            tag=data.get("tag") or "",
        )

    @property
    def has_filters(self) -> bool:
        names = (
            "kind",
            "channel",
            "direction",
            "status",
            "assignee",
            "tag",
            "date_from",
            "date_to",
        )
        return any(self.data.get(name) not in (None, "", ResultKind.ALL) for name in names)


def _search_log(request: HttpRequest, form: SearchForm, results: SearchResults) -> None:
    """Who searched what, when (issue 7, "listening stays on topics"): one audit event per
    search the agent submits. Paging through the same results (page 2, 3 …) is not a new
    search, and htmx requests are not logged: the page has no live search today, and if one
    comes, its keystrokes must not flood the log."""
    if (form.cleaned_data["page"] or 1) > 1 or request.headers.get("HX-Request"):
        return
    data = form.cleaned_data
    filters = {
        name: (value.isoformat() if hasattr(value, "isoformat") else value)
        for name in ("channel", "direction", "status", "assignee", "tag", "date_from", "date_to")
        if (value := data.get(name)) not in (None, "")
    }
    groups = (results.messages, results.notes, results.contacts)
    search_record(
        actor=_staff_user(request),
        query=data["q"],
        kind=data["kind"] or ResultKind.ALL,
        filters=filters,
        result_count=sum(group.shown_total for group in groups if group is not None),
    )


@require_GET
@staff_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(
        request.GET,
        channels=list(Channel.objects.only("id", "name", "kind").order_by("name")),
        tags=list(Tag.objects.order_by("name").values_list("name", flat=True)[:TAG_CHOICES_LIMIT]),
    )
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        kind = form.cleaned_data["kind"] or ResultKind.ALL
        results = search_selectors.search(
            form.cleaned_data["q"],
            form.filters(request),
            kind=kind,
            page=form.cleaned_data["page"] or 1,
        )
        _search_log(request, form, results)
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    query_without_kind = query_without_page.copy()
    query_without_kind.pop("kind", None)
    context = {
        "form": form,
        "results": results,
        "kind": form.cleaned_data.get("kind") or ResultKind.ALL,
        "query_without_page": query_without_page.urlencode(),
        "query_without_kind": query_without_kind.urlencode(),
        "overview_size": search_selectors.OVERVIEW_SIZE,
        "result_cap": search_selectors.RESULT_CAP,
    }
    return render(request, "inbox/search.html", context)


urlpatterns: list[URLPattern] = [
    path("search/", search, name="search"),
]
