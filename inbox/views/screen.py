"""The inbox screen: queues and filters, the conversation list, the open conversation
(docs/architecture.md, "The inbox screen").

Three panes on one page at `/`. Everything the screen shows is in its URL (`?queue=…&
channel=…&open=ID`), so a view can be shared and the back button works. With htmx:

- a row loads only the third pane (`inbox_pane`) and pushes the inbox URL with `open=ID`;
- a queue, a filter or a page swaps the queues and the list (`#inbox-browse`, selected from
  the whole page, which then leaves out the open conversation) and pushes its URL;
- `webcare:refresh` (the live updates) reloads just the list (`inbox_list`) and the queues'
  counts, keeping the scroll position and the focused row.

Without JavaScript every link and the filter form simply load the whole page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from channels.selectors import channels_failing
from inbox import services
from inbox.models import Conversation
from inbox.selectors import conversation_for_display
from inbox.selectors import inbox as inbox_selectors
from inbox.selectors.inbox import InboxFilters
from inbox.views import _is_team_lead, _staff_user, staff_required


def _filters(request: HttpRequest, query: QueryDict) -> tuple[InboxFilters, Any]:
    """The filters of `query`, checked against the channels and tags that exist."""
    choices = inbox_selectors.filter_choices()
    filters = InboxFilters.from_query(query).without_unknown(
        channel_ids=choices.channel_ids, tag_ids=choices.tag_ids
    )
    return filters, choices


def _list_context(request: HttpRequest, filters: InboxFilters) -> dict[str, Any]:
    """The list pane and the queues' counts: two queries, plus one for failing channels."""
    user = _staff_user(request)
    is_team_lead = _is_team_lead(request)
    counts = inbox_selectors.inbox_counts(user=user, is_team_lead=is_team_lead, filters=filters)
    now = timezone.now()
    page = inbox_selectors.inbox_page(
        user=user, is_team_lead=is_team_lead, filters=filters, total=counts.listed, now=now
    )
    return {
        "filters": filters,
        "counts": counts,
        "page": page,
        "now": now,
        "inbox_url": reverse("inbox:inbox"),
        "list_url": reverse("inbox:inbox_list") + filters.query_string(open_id=None),
        "previous_query": filters.query_string(page=page.number - 1),
        "next_query": filters.query_string(page=page.number + 1),
        "first_query": filters.query_string(page=1),
        "clear_query": filters.query_string(
            channel_id=None, status=None, tag_id=None, priority=None, formal_only=False, page=1
        ),
        "failing_channels": channels_failing(),
    }


def _open_conversation(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """Opening a conversation reads it: its unread marker and the mentions in its notes go.
    Then everything the conversation pane shows."""
    from inbox.views import conversation_page_context, new_reply_form

    user = _staff_user(request)
    services.conversation_mark_read(actor=user, conversation_id=conversation.id)
    services.mentions_mark_read(actor=user, conversation_id=conversation.id)
    return conversation_page_context(request, conversation, new_reply_form(request, conversation))


def _conversation_or_none(conversation_id: int | None) -> Conversation | None:
    if conversation_id is None:
        return None
    try:
        return conversation_for_display(conversation_id)
    except Conversation.DoesNotExist:
        return None


@require_GET
@staff_required
def inbox(request: HttpRequest) -> HttpResponse:
    """The whole screen. An htmx request (a queue, a filter, a page) uses only the queues and
    the list, so the open conversation is left out of it; the back button's request
    (HX-History-Restore-Request) gets everything."""
    filters, choices = _filters(request, request.GET)
    htmx = request.htmx  # type: ignore[attr-defined]
    with_pane = not htmx or htmx.history_restore_request
    conversation = _conversation_or_none(filters.open_id)
    if filters.open_id is not None and conversation is None:
        problems = (*filters.problems, _("This conversation does not exist."))
        filters = replace(filters, open_id=None, problems=problems)
    context: dict[str, Any] = {"choices": choices}
    if conversation is not None and with_pane:
        # Read first, so that the list below already shows it read.
        context.update(_open_conversation(request, conversation))
        context["open_conversation"] = conversation
    context.update(_list_context(request, filters))
    response = render(request, "inbox/inbox.html", context)
    if htmx and not htmx.history_restore_request:
        # The address bar gets the tidy URL: no empty fields of the filter form, no
        # parameters that were ignored.
        response["HX-Push-Url"] = reverse("inbox:inbox") + filters.query_string()
    # Without the pane for htmx: caches must not mix the two answers up.
    patch_vary_headers(response, ("HX-Request",))
    return response


def _open_id_from_page_url(request: HttpRequest) -> int | None:
    """The conversation open in the page that asks (htmx sends its URL): the list marks it."""
    current_url = request.htmx.current_url or ""  # type: ignore[attr-defined]
    values = parse_qs(urlsplit(current_url).query).get("open", [])
    return int(values[0]) if values and values[0].isdigit() else None


@require_GET
@never_cache
@staff_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    """Only the list pane's content for the filters in the URL, and the queues' counts (out
    of band): what `webcare:refresh` reloads."""
    filters, _choices = _filters(request, request.GET)
    open_id = _open_id_from_page_url(request)
    if open_id is not None:
        filters = replace(filters, open_id=open_id)
    context = _list_context(request, filters)
    context["oob_counts"] = True
    return render(request, "inbox/_lists.html", context)


@require_GET
@never_cache
@staff_required
def inbox_pane(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Only the third pane with the conversation, for a row's click. The list then refreshes
    itself (HX-Trigger-After-Swap), so the row shows as read and as the open one."""
    from inbox.views import _conversation_or_404

    conversation = _conversation_or_404(conversation_id)
    context = _open_conversation(request, conversation)
    context["open_conversation"] = conversation
    response = render(request, "inbox/_inbox_pane.html", context)
    response["HX-Trigger-After-Swap"] = "webcare:refresh"
    return response


urlpatterns: list[URLPattern] = [
    path("inbox/list/", inbox_list, name="inbox_list"),
    path("inbox/conversations/<int:conversation_id>/pane/", inbox_pane, name="inbox_pane"),
]
