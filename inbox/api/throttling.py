"""A per-user request budget, so one runaway script cannot starve the team's inbox."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class PerUserRateThrottle(UserRateThrottle):
    scope = "user"

    def get_rate(self) -> str:
        # Read per request (not at import like DRF's THROTTLE_RATES), so the setting and
        # tests' overrides apply.
        return f"{settings.WEBCARE_API_RATE_LIMIT}/min"
