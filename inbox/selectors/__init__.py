"""Every read a view or the dashboard needs, with its query count kept flat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from inbox import canned
from inbox.models import AgentProfile, CannedResponse, Conversation, Message
from inbox.signatures import initials_signature


def agent_profile_for(user: User | AnonymousUser) -> AgentProfile | None:
    if isinstance(user, AnonymousUser):
        return None
    return AgentProfile.objects.filter(user=user).first()


def conversation_for_display(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact", "channel", "assignee").get(
        id=conversation_id
    )


def conversation_messages(conversation: Conversation) -> list[Message]:
    return list(
        conversation.messages.select_related("author_user", "author_contact").order_by(
            "sent_at", "id"
        )
    )


def reply_for_status(message_id: int) -> Message:
    return Message.objects.select_related("author_user", "conversation").get(
        id=message_id, direction=Message.Direction.OUTBOUND
    )


@dataclass(frozen=True)
class PrivateReplyWindow:
    """Whether a private reply may go out now (Messenger's 24-hour rule, docs/architecture.md
    "Facebook"), and with which platform tag; `closed_since` says when it closed."""

    is_open: bool
    message_tag: str = ""
    closed_since: datetime | None = None


def private_reply_window(conversation: Conversation, *, now: datetime) -> PrivateReplyWindow:
    """The window for a private reply in this conversation, from the citizen's last message
    (their last private one in a private conversation)."""
    from channels.registry import reply_rules

    rules = reply_rules(conversation.channel)
    if rules.private_reply_window is None:
        return PrivateReplyWindow(is_open=True)
    inbound = conversation.messages.filter(direction=Message.Direction.INBOUND)
    if conversation.is_private:
        inbound = inbound.filter(is_private=True)
    last_sent_at = inbound.order_by("-sent_at").values_list("sent_at", flat=True).first()
    if last_sent_at is None:
        return PrivateReplyWindow(is_open=True)
    public_window = rules.private_reply_to_public_window
    if not conversation.is_private and public_window is not None:
        # A private reply to a public message has its own rule and needs no tag.
        if now - last_sent_at <= public_window:
            return PrivateReplyWindow(is_open=True)
        return PrivateReplyWindow(is_open=False, closed_since=last_sent_at + public_window)
    if now - last_sent_at <= rules.private_reply_window:
        return PrivateReplyWindow(is_open=True)
    extended = rules.extended_private_reply_window
    if extended is not None and now - last_sent_at <= extended:
        return PrivateReplyWindow(is_open=True, message_tag=rules.extended_private_reply_tag)
    return PrivateReplyWindow(
        is_open=False, closed_since=last_sent_at + (extended or rules.private_reply_window)
    )


# --- canned responses ----------------------------------------------------------------------

CANNED_RESULTS_LIMIT = 20


def _canned_responses_visible_to(user: User) -> QuerySet[CannedResponse]:
    """The user's own, the ones shared with everyone, and those of the user's teams."""
    return CannedResponse.objects.filter(
        Q(owner=user)
        | Q(owner__isnull=True, team__isnull=True)
        | Q(owner__isnull=True, team__memberships__user=user)
    )


def canned_responses_for(user: User, query: str = "") -> list[CannedResponse]:
    """The responses `user` may use (see _canned_responses_visible_to), matching `query`
    (without a leading `/`) in shortcut, title or text; by shortcut, at most
    CANNED_RESULTS_LIMIT."""
    responses = _canned_responses_visible_to(user).select_related("team")
    query = query.strip().removeprefix("/").strip()
    if query:
        responses = responses.filter(
            Q(shortcut__icontains=query) | Q(title__icontains=query) | Q(text__icontains=query)
        )
    return list(responses.order_by("shortcut", "owner_id")[:CANNED_RESULTS_LIMIT])


@dataclass(frozen=True)
class CannedChoice:
    response: CannedResponse
    # The text with this conversation's and agent's values filled in.
    text: str
    unknown: tuple[str, ...]


def canned_responses_rendered(
    *, conversation: Conversation, user: User, query: str = ""
) -> list[CannedChoice]:
    """Matching canned responses, filled in for this conversation and agent."""
    values = canned.variables_for(contact=conversation.contact, agent=user)
    choices = []
    for response in canned_responses_for(user, query):
        rendered = canned.render_text(response.text, values)
        choices.append(
            CannedChoice(response=response, text=rendered.text, unknown=rendered.unknown)
        )
    return choices


def canned_responses_manageable(user: User) -> tuple[list[CannedResponse], list[CannedResponse]]:
    """(shared, personal) for the management page. Team leads see every shared response,
    including those of teams they are not in: they manage them."""
    profile = agent_profile_for(user)
    if profile is not None and profile.is_team_lead:
        visible = CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    else:
        visible = _canned_responses_visible_to(user)
    responses = list(visible.select_related("team").order_by("shortcut"))
    return [r for r in responses if r.is_shared], [r for r in responses if not r.is_shared]


def canned_response_get(canned_response_id: int) -> CannedResponse:
    return CannedResponse.objects.get(pk=canned_response_id)


def canned_response_rendered(
    *, conversation: Conversation, user: User, canned_response_id: int
) -> CannedChoice | None:
    """One shared or own canned response filled in; None if there is no such one for user."""
    response = _canned_responses_visible_to(user).filter(pk=canned_response_id).first()
    if response is None:
        return None
    rendered = canned.render_text(
        response.text, canned.variables_for(contact=conversation.contact, agent=user)
    )
    return CannedChoice(response=response, text=rendered.text, unknown=rendered.unknown)


def reply_signature(conversation: Conversation, user: User) -> str:
    """What replies by `user` in this conversation end with: "" unless the channel signs
    replies, else the agent's own signature or the initials of their name ("^JdV")."""
    if not conversation.channel.append_signature:
        return ""
    profile = AgentProfile.objects.filter(user=user).only("signature").first()
    if profile is not None and profile.signature:
        return profile.signature
    return initials_signature(user.first_name, user.last_name)
