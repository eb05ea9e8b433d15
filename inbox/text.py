"""Making platform data storable in PostgreSQL without losing the citizen's message.

PostgreSQL text cannot hold NUL characters, and UTF-8 cannot encode lone surrogates (a
half emoji that a platform or a broken client cut in two). Both are dropped; everything
else is stored verbatim and escaped only when rendered.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub("", text)


def storable_json(value: Any) -> Any:
    """The same cleaning through a JSON value (jsonb rejects \\u0000 as well)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value
