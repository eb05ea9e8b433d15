"""Linking one citizen's accounts on several channels (Person)."""

from __future__ import annotations

__all__: list[str] = []
