"""Views of the approval and collision detection slice: the team lead's approvals page
(inbox/services/approval.py) and who else is in a conversation (inbox/collision.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from inbox import collision, services
from inbox.models import AgentProfile, Conversation, Message
from inbox.selectors import approval as approval_selectors
from inbox.views import _staff_user, staff_required, team_lead_required

# How many of the messages that arrived meanwhile the composer's warning quotes.
NEWER_MESSAGES_SHOWN = 5


def reply_needs_review(request: HttpRequest) -> bool:
    """Whether the logged-in agent's replies go to a team lead first (in training)."""
    profile: AgentProfile = request.agent_profile  # type: ignore[attr-defined]
    return profile.in_training


def conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """What the conversation page needs from this slice: colleagues in the conversation,
    whether the composer's replies are reviewed, and, when a send was stopped because
    messages arrived meanwhile, those messages."""
    context: dict[str, Any] = {
        "reply_needs_review": reply_needs_review(request),
        **_collision_context(request, conversation, seen_message_id=None),
    }
    seen = request.POST.get("seen_message_id", "") if request.method == "POST" else ""
    if seen.isdigit():
        context["newer_messages"] = list(
            approval_selectors.messages_since_seen(
                conversation_id=conversation.id,
                seen_message_id=int(seen),
                viewer_id=_staff_user(request).pk,
            )[:NEWER_MESSAGES_SHOWN]
        )
    return context


# --- collision detection -------------------------------------------------------------------


def _join_names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return _("%(names)s and %(last)s") % {"names": ", ".join(names[:-1]), "last": names[-1]}


def _collision_context(
    request: HttpRequest,
    conversation: Conversation,
    *,
    seen_message_id: int | None,
    typing: bool = False,
) -> dict[str, Any]:
    """Sentences about colleagues in this conversation (none when Redis is unreachable),
    the messages that arrived after `seen_message_id`, and a state string that changes
    exactly when what is shown changes (the poll answers 204 while it is the same)."""
    user = _staff_user(request)
    activity = collision.conversation_activity(
        conversation_id=conversation.id, user_id=user.pk, typing=typing
    )
    lines = []
    state = "unavailable"
    if activity is not None:
        names = approval_selectors.staff_names(list({*activity.viewing, *activity.typing}))
        typists = [names[uid] for uid in activity.typing if uid in names]
        viewers = [
            names[uid] for uid in activity.viewing if uid in names and uid not in activity.typing
        ]
        if typists:
            lines.append(
                ngettext(
                    "%(names)s is typing a reply…", "%(names)s are typing a reply…", len(typists)
                )
                % {"names": _join_names(typists)}
            )
        if viewers:
            lines.append(
                ngettext(
                    "%(names)s also has this conversation open.",
                    "%(names)s also have this conversation open.",
                    len(viewers),
                )
                % {"names": _join_names(viewers)}
            )
        state = f"v{','.join(map(str, activity.viewing))}t{','.join(map(str, activity.typing))}"
    arrived: list[Message] = []
    if seen_message_id is not None:
        arrived = list(
            approval_selectors.messages_since_seen(
                conversation_id=conversation.id, seen_message_id=seen_message_id, viewer_id=user.pk
            )[:NEWER_MESSAGES_SHOWN]
        )
    state += "n" + ",".join(str(message.id) for message in arrived)
    return {"collision_lines": lines, "arrived_messages": arrived, "collision_state": state}


def _conversation_exists_or_404(conversation_id: int) -> Conversation:
    conversation = approval_selectors.conversation_for_activity(conversation_id)
    if conversation is None:
        raise Http404(_("This conversation does not exist."))
    return conversation


@require_GET
@staff_required
def conversation_activity(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Polled by the conversation page every 2 s: keeps the caller counted as viewing and
    returns who else is there, and what arrived after `seen`; 204 when nothing changed, so
    the live region only speaks when there is news."""
    conversation = _conversation_exists_or_404(conversation_id)
    seen = request.GET.get("seen", "")
    context = _collision_context(
        request, conversation, seen_message_id=int(seen) if seen.isdigit() else None
    )
    if request.htmx and request.GET.get("state") == context["collision_state"]:  # type: ignore[attr-defined]
        return HttpResponse(status=204)
    context["conversation"] = conversation
    return render(request, "inbox/_collision_activity.html", context)


@require_POST
@staff_required
def conversation_typing(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Sent by the composer while the agent types (at most every 3 s)."""
    conversation = _conversation_exists_or_404(conversation_id)
    collision.conversation_activity(
        conversation_id=conversation.id, user_id=_staff_user(request).pk, typing=True
    )
    return HttpResponse(status=204)


# --- approvals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FailedReview:
    """A review the service refused: shown at its reply, with what the lead typed."""

    message_id: int
    error: str = ""
    text: str | None = None
    feedback_error: str = ""


def _approvals_page(
    request: HttpRequest,
    *,
    failed: _FailedReview | None = None,
    word_error: str = "",
    word_value: str = "",
    status: int = 200,
) -> HttpResponse:
    items = approval_selectors.replies_awaiting_approval()
    for index, item in enumerate(items):
        if failed is not None and item.message.id == failed.message_id:
            items[index] = replace(
                item,
                error=failed.error,
                text=item.text if failed.text is None else failed.text,
                feedback_error=failed.feedback_error,
            )
    context = {
        "items": items,
        "total": approval_selectors.replies_awaiting_approval_count()
        if len(items) >= approval_selectors.APPROVAL_PAGE_SIZE
        else len(items),
        "flagged_words": approval_selectors.flagged_words(),
        "word_error": word_error,
        "word_value": word_value,
    }
    return render(request, "inbox/approvals.html", context, status=status)


@require_GET
@team_lead_required
def approvals(request: HttpRequest) -> HttpResponse:
    return _approvals_page(request)


def _reviewed_elsewhere(request: HttpRequest, message_id: int, error: str) -> bool:
    """True (and the error flashed) when the reply is no longer in the queue, e.g. another
    team lead reviewed it a moment ago: there is no item to show the error at."""
    if approval_selectors.reply_awaits_approval(message_id):
        return False
    flash.error(request, error)
    return True


@require_POST
@team_lead_required
def reply_approve(request: HttpRequest, message_id: int) -> HttpResponse:
    text = request.POST.get("text")
    try:
        services.reply_approve(message_id=message_id, actor=_staff_user(request), text=text)
    except Message.DoesNotExist as error:
        raise Http404(_("This reply does not exist.")) from error
    except services.ServiceError as error:
        if _reviewed_elsewhere(request, message_id, str(error)):
            return redirect("inbox:approvals")
        failed = _FailedReview(message_id=message_id, error=str(error), text=text)
        return _approvals_page(request, failed=failed, status=422)
    flash.success(request, _("The reply is approved and on its way."))
    return redirect("inbox:approvals")


@require_POST
@team_lead_required
def reply_reject(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        services.reply_reject(
            message_id=message_id,
            actor=_staff_user(request),
            feedback=request.POST.get("feedback", ""),
        )
    except Message.DoesNotExist as error:
        raise Http404(_("This reply does not exist.")) from error
    except services.ServiceError as error:
        if _reviewed_elsewhere(request, message_id, str(error)):
            return redirect("inbox:approvals")
        failed = _FailedReview(message_id=message_id, feedback_error=str(error))
        return _approvals_page(request, failed=failed, status=422)
    flash.success(request, _("The reply is rejected; its author sees your feedback."))
    return redirect("inbox:approvals")


@require_POST
@team_lead_required
def flagged_word_add(request: HttpRequest) -> HttpResponse:
    word = request.POST.get("word", "")
    try:
        flagged = services.flagged_word_add(actor=_staff_user(request), word=word)
    except services.ServiceError as error:
        return _approvals_page(request, word_error=str(error), word_value=word, status=422)
    flash.success(request, _("“%(word)s” is now a flagged word.") % {"word": flagged.word})
    return redirect("inbox:approvals")


@require_POST
@team_lead_required
def flagged_word_remove(request: HttpRequest, flagged_word_id: int) -> HttpResponse:
    try:
        services.flagged_word_remove(actor=_staff_user(request), flagged_word_id=flagged_word_id)
    except services.ServiceError as error:
        flash.error(request, str(error))
    else:
        flash.success(request, _("The word is no longer flagged."))
    return redirect("inbox:approvals")
