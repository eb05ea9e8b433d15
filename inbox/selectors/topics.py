"""STUB (issue 6, topics): what citizens write about, for the dashboard."""

from __future__ import annotations

from typing import Any

from inbox.metrics.tables import MetricsQuery


def topics_overview(query: MetricsQuery) -> dict[str, Any]:
    """Context for templates/inbox/_dashboard_topics.html."""
    return {}
