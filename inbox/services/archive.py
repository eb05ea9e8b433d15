"""Archive exports (Archiefwet): conversations with messages, notes, assignments and audit
events as JSON Lines with a checksummed manifest (docs/archive-format.md).
"""

from __future__ import annotations

__all__: list[str] = []
