"""System checks (`manage.py check`, also run before `migrate` and `runserver`) for settings
whose combination can break a promise although each value is valid on its own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

# A reply attempt may take one connect and one read timeout for the post, and as much again
# for the look before it; recovery must not take a live attempt for a dead worker's.
STUCK_SENDING_TIMEOUT_FACTOR = 4


@register()
def check_stuck_sending_threshold(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    threshold = settings.WEBCARE_STUCK_SENDING_SECONDS
    minimum = STUCK_SENDING_TIMEOUT_FACTOR * settings.WEBCARE_PLATFORM_TIMEOUT
    if threshold >= minimum:
        return []
    return [
        Warning(
            f"WEBCARE_STUCK_SENDING_SECONDS ({threshold}) is less than "
            f"{STUCK_SENDING_TIMEOUT_FACTOR} x WEBCARE_PLATFORM_TIMEOUT ({minimum}).",
            hint=(
                "The recovery task could requeue a reply whose attempt is still running, "
                "and both attempts may post it (docs/architecture.md, 'Exactly-once "
                f"replies'). Set WEBCARE_STUCK_SENDING_SECONDS to at least {minimum}."
            ),
            id="webcare.W001",
        )
    ]
