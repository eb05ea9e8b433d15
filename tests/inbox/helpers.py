"""Set up inbox data the way users and the poller do: through services."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from inbox.models import Conversation
from inbox.services import messages_ingest

_ids = itertools.count(1_000_000)


def citizen_writes(
    channel: Channel,
    *,
    text: str = "Mijn container is niet geleegd",
    username: str = "burger",
    thread: str | None = None,
    sent_at: datetime | None = None,
    private: bool = False,
) -> Conversation:
    """A citizen's message arrives through the same ingest path the poller uses."""
    external_id = str(next(_ids))
    platform_message = PlatformMessage(
        external_id=external_id,
        thread_key=thread or f"{external_id}:{username}",
        author=PlatformAuthor(
            external_id=f"user-{username}", username=username, display_name=username.title()
        ),
        text=text,
        sent_at=sent_at or timezone.now(),
        is_private=private,
    )
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(messages=[platform_message], cursor=channel.cursor),
    )
    return Conversation.objects.get(channel=channel, external_thread_id=platform_message.thread_key)
