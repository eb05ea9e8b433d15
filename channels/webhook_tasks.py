"""Celery task that forgets what is no longer needed to refuse replays and re-imports:
webhook bodies older than the replay window (the age check refuses those now) and digests of
erased messages older than WEBCARE_ERASED_MESSAGE_MEMORY_DAYS (docs/architecture.md,
"Webhooks" and "Retention and anonymisation").

Registered in settings.CELERY_IMPORTS and scheduled daily in CELERY_BEAT_SCHEDULE.
"""

from __future__ import annotations

from celery import shared_task

from channels.services import received_webhooks_prune
from inbox.services.privacy import erased_messages_prune


@shared_task(name="channels.forget_replay_memory", ignore_result=True)
def forget_replay_memory() -> dict[str, int]:
    return {
        "received_webhooks": received_webhooks_prune(),
        "erased_messages": erased_messages_prune(),
    }
