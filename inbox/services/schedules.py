"""STUB (issue 6, working time and service norms): team opening hours, closed days and
service norms, each change audited; a change of hours marks the team's conversations for
the metrics refresh, so working-time figures follow."""

from __future__ import annotations

__all__: list[str] = []
