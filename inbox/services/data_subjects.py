"""Data subject requests (AVG articles 15 and 17): register, export, erase; each audited.

docs/architecture.md, "Privacy and archiving".
"""

from __future__ import annotations

__all__: list[str] = []
