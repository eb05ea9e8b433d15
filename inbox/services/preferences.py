"""The agent's own settings: language and notifications."""

from __future__ import annotations

__all__: list[str] = []
