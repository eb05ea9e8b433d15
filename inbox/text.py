"""Making platform data storable in PostgreSQL without losing the citizen's message.

PostgreSQL text cannot hold NUL characters, and UTF-8 cannot encode lone surrogates (a
half emoji that a platform or a broken client cut in two). Both are dropped; everything
else is stored verbatim and escaped only when rendered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from channels.base import Attachment

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub("", text)


def safe_url(url: str) -> str:
    """The URL if it is http(s), else "": a platform must not make us link to javascript:."""
    return url if urlsplit(url).scheme in {"http", "https"} else ""


def storable_attachments(attachments: Iterable[Attachment]) -> list[dict[str, str]]:
    stored = []
    for attachment in attachments:
        url = safe_url(attachment.url)
        if url:
            stored.append(
                {
                    "url": url,
                    "kind": storable_text(attachment.kind),
                    "preview_url": safe_url(attachment.preview_url),
                    "description": storable_text(attachment.description),
                }
            )
    return stored


def storable_json(value: Any) -> Any:
    """The same cleaning through a JSON value (jsonb rejects \\u0000 as well)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value
