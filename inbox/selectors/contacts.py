"""Reads of the citizen panel: the citizen's profile on the platform, their accounts on
other channels (linked through Person by an agent), and all their conversations on every
channel. Each is one query, however many conversations or accounts there are."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from django.db.models import OuterRef, Q, Subquery

from channels.models import Channel
from inbox.models import Contact, Conversation, Message

# Earlier conversations listed in the panel; the newest first.
CITIZEN_HISTORY_LIMIT = 20
# Contacts offered when an agent searches for the same citizen on another channel.
CONTACT_SEARCH_LIMIT = 10


def _http_url(value: object) -> str:
    """`value` if it is an http(s) URL, else "": nothing else becomes a link."""
    if not isinstance(value, str):
        return ""
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def _mastodon_account_url(messages: Iterable[Message], contact: Contact) -> str:
    """The account URL Mastodon sends with every status (raw `account.url`, or under
    `status` for a notification), from the citizen's messages already loaded."""
    for message in messages:
        if message.direction != Message.Direction.INBOUND or not isinstance(message.raw, dict):
            continue
        for holder in (message.raw, message.raw.get("status")):
            account = holder.get("account") if isinstance(holder, dict) else None
            if isinstance(account, dict) and str(account.get("id", "")) == contact.external_id:
                url = _http_url(account.get("url"))
                if url:
                    return url
    return ""


def citizen_profile_url(contact: Contact, channel: Channel, messages: Iterable[Message]) -> str:
    """The citizen's public profile on the platform, or "" when we cannot know it.

    X: x.com/<username>. Mastodon: the account URL from a status; else derived from the
    handle (`name@instance`, or `name` on our own instance). Facebook: none, as the Graph
    API gives only page-scoped ids, which are no profile address."""
    if not contact.username:
        return ""
    if channel.kind == Channel.Kind.TWITTER:
        return f"https://x.com/{quote(contact.username)}"
    if channel.kind == Channel.Kind.MASTODON:
        url = _mastodon_account_url(messages, contact)
        if url:
            return url
        name, _, instance = contact.username.partition("@")
        host = instance or urlsplit(channel.api_base_url).netloc
        return f"https://{host}/@{quote(name)}" if host else ""
    return ""


def linked_contacts(contact: Contact) -> list[Contact]:
    """The citizen's other accounts that an agent linked to this one (same Person)."""
    if contact.person_id is None:
        return []
    return list(
        Contact.objects.filter(person_id=contact.person_id)
        .exclude(id=contact.id)
        .select_related("channel")
        .order_by("channel__name", "username", "id")
    )


def citizen_conversations(
    conversation: Conversation, *, limit: int = CITIZEN_HISTORY_LIMIT
) -> list[Conversation]:
    """The citizen's other conversations on every channel: this contact's own and those of
    the contacts linked to the same Person; most recently active first. Each has
    `first_line`: the text of its first message."""
    contact = conversation.contact
    same_citizen = Q(contact_id=contact.id)
    if contact.person_id is not None:
        same_citizen |= Q(contact__person_id=contact.person_id)
    first_message = Message.objects.filter(conversation=OuterRef("pk")).order_by("sent_at", "id")
    return list(
        Conversation.objects.filter(same_citizen)
        .exclude(id=conversation.id)
        .select_related("contact", "channel", "assignee")
        .annotate(first_line=Subquery(first_message.values("text")[:1]))
        .order_by("-last_activity_at", "-id")[:limit]
    )


def contacts_search(contact: Contact, query: str) -> list[Contact]:
    """Contacts on the other channels whose name or handle contains `query` (a leading @
    is ignored): candidates to link to `contact`. Already linked ones are marked by their
    `person_id`."""
    query = query.strip().removeprefix("@").strip()
    if len(query) < 2:
        return []
    return list(
        Contact.objects.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
        .exclude(channel_id=contact.channel_id)
        .select_related("channel")
        .order_by("display_name", "username", "id")[:CONTACT_SEARCH_LIMIT]
    )
