"""STUB (issue 6, facts and rollups): keeps WaitFact, CycleFact and the Metrics* rollups in
step with the conversations that changed (MetricsDirtyConversation)."""

from __future__ import annotations

__all__ = ["metrics_pending_changes", "metrics_rebuild_all", "metrics_refresh"]


def metrics_refresh(*, batch_size: int = 500) -> int:
    """Rebuild the facts of the conversations marked changed and the rollup hours they touch;
    returns how many conversations were handled."""
    return 0


def metrics_rebuild_all() -> int:
    """Mark every conversation changed and refresh until nothing is left."""
    return 0


def metrics_pending_changes() -> int:
    """How many change marks wait for the refresh (the dashboard says "updating")."""
    return 0
