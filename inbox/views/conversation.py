"""Views of the conversation pane (templates/inbox/_conversation_pane.html): the thread and
the header's state as partials that `webcare:refresh` reloads without touching the
composer, and the citizen panel's linking of one citizen's accounts on several channels.

The page itself, the reply and the canned search are in inbox/views/__init__.py."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from inbox import services
from inbox.models import Contact, Conversation
from inbox.navigation import redirect_to_conversation
from inbox.selectors import contacts as contact_selectors
from inbox.selectors import conversation as conversation_selectors
from inbox.views import _conversation_or_404, _render_conversation, _staff_user, staff_required


def _conversation_with_state_or_404(conversation_id: int) -> Conversation:
    try:
        return conversation_selectors.conversation_with_state(conversation_id)
    except Conversation.DoesNotExist as error:
        raise Http404(_("This conversation does not exist.")) from error


@require_GET
@never_cache
@staff_required
def conversation_thread(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Only `ol#thread`: messages, notes and delivery states, oldest first."""
    conversation = _conversation_with_state_or_404(conversation_id)
    thread = conversation_selectors.conversation_thread(conversation)
    context = {
        "conversation": conversation,
        "thread": thread.messages,
        "thread_notes": thread.notes,
    }
    return render(request, "inbox/_conversation_thread.html", context)


@require_GET
@never_cache
@staff_required
def conversation_state(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Only `#conversation-state`: status, assignee, priority and team."""
    conversation = _conversation_with_state_or_404(conversation_id)
    context = {"conversation": conversation, "assignment_team": conversation.team}
    return render(request, "inbox/_conversation_state.html", context)


@require_GET
@staff_required
def contact_search(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Contacts on other channels matching `q`, to link to this conversation's citizen.
    htmx gets the results; without JavaScript the page comes back with them in the panel."""
    conversation = _conversation_or_404(conversation_id)
    query = request.GET.get("q", "")[:100]
    results = contact_selectors.contacts_search(conversation.contact, query)
    if request.htmx:  # type: ignore[attr-defined]
        context = {"conversation": conversation, "link_query": query, "link_results": results}
        return render(request, "inbox/_citizen_link_results.html", context)
    from inbox.views import new_reply_form

    return _render_conversation(
        request,
        conversation,
        new_reply_form(request, conversation),
        extra={"link_query": query, "link_results": results},
    )


def _other_contact_id(request: HttpRequest) -> int | None:
    value = request.POST.get("other_contact_id", "")
    return int(value) if value.isdigit() else None


@require_POST
@staff_required
def contact_link(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The chosen contact is the same citizen as this conversation's contact."""
    conversation = _conversation_or_404(conversation_id)
    other_contact_id = _other_contact_id(request)
    if other_contact_id is None:
        flash.error(request, _("Choose the contact to link."))
        return redirect_to_conversation(request, conversation.id)
    try:
        services.contacts_link(
            actor=_staff_user(request),
            contact_id=conversation.contact_id,
            other_contact_id=other_contact_id,
        )
    except Contact.DoesNotExist as error:
        raise Http404(_("This contact does not exist.")) from error
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(
            request, _("Linked: their conversations on that channel are now listed here too.")
        )
    return redirect_to_conversation(request, conversation.id)


@require_POST
@staff_required
def contact_unlink(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The chosen contact (this conversation's, or one linked to it) is no longer said to be
    the same citizen."""
    conversation = _conversation_or_404(conversation_id)
    contact_id = _other_contact_id(request) or conversation.contact_id
    allowed = {conversation.contact_id} | {
        contact.id for contact in contact_selectors.linked_contacts(conversation.contact)
    }
    if contact_id not in allowed:
        flash.error(request, _("That contact is not linked to this citizen."))
        return redirect_to_conversation(request, conversation.id)
    try:
        services.contact_unlink(actor=_staff_user(request), contact_id=contact_id)
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The link is removed."))
    return redirect_to_conversation(request, conversation.id)


urlpatterns: list[URLPattern] = [
    path(
        "conversations/<int:conversation_id>/thread/",
        conversation_thread,
        name="conversation_thread",
    ),
    path(
        "conversations/<int:conversation_id>/state/",
        conversation_state,
        name="conversation_state",
    ),
    path(
        "conversations/<int:conversation_id>/contacts/search/",
        contact_search,
        name="contact_search",
    ),
    path(
        "conversations/<int:conversation_id>/contacts/link/",
        contact_link,
        name="contact_link",
    ),
    path(
        "conversations/<int:conversation_id>/contacts/unlink/",
        contact_unlink,
        name="contact_unlink",
    ),
]
