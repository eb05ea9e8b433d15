"""Staying in the inbox: a form posted from the inbox's conversation pane comes back to the
inbox with the same queue, filters and conversation open, not to the conversation's own page.

The pane's forms carry a hidden `return_to` (the `return_to_field` template tag); every view
that ends on a conversation redirects through `redirect_to_conversation`. Only the inbox's
own path is accepted as `return_to`, so it cannot send anyone elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

RETURN_TO_FIELD = "return_to"


def inbox_url_with_open(url: str, conversation_id: int) -> str | None:
    """`url` if it is an inbox URL, with `open` set to the conversation; else None."""
    parts = urlsplit(url)
    if parts.path != reverse("inbox:inbox") or parts.scheme or parts.netloc:
        return None
    query = QueryDict(parts.query, mutable=True)
    query["open"] = str(conversation_id)
    return f"{parts.path}?{urlencode(sorted(query.lists()), doseq=True)}"


def return_to_for(request: HttpRequest, conversation_id: int) -> str:
    """Where the forms of a conversation shown in this request should come back to: the
    inbox URL the page shows (or the htmx request's page), else nothing."""
    candidates = [request.POST.get(RETURN_TO_FIELD, "")] if request.method == "POST" else []
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.current_url_abs_path:
        candidates.append(htmx.current_url_abs_path)
    candidates.append(request.get_full_path())
    for candidate in candidates:
        if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
            url = inbox_url_with_open(candidate, conversation_id)
            if url is not None:
                return url
    return ""


def redirect_to_conversation(request: HttpRequest, conversation_id: int) -> HttpResponseRedirect:
    """After an action on a conversation: back to the inbox pane it came from, else its page."""
    return_to = request.POST.get(RETURN_TO_FIELD, "")
    if return_to and url_has_allowed_host_and_scheme(return_to, allowed_hosts=None):
        url = inbox_url_with_open(return_to, conversation_id)
        if url is not None:
            return HttpResponseRedirect(url)
    return redirect("inbox:conversation", conversation_id=conversation_id)
