"""When staff read conversations: the inbox's unread markers."""

from __future__ import annotations

__all__: list[str] = []
