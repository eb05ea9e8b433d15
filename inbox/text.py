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

from channels.base import Attachment, PlatformAuthor

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# The sizes of Contact's columns (inbox/models; tests/hostile/test_safe_text.py checks them).
# A platform, or any remote Mastodon server, may send a name of any length: cut, not
# refused, since one over-long name must not make a channel's whole poll fail.
USERNAME_LENGTH = 100
DISPLAY_NAME_LENGTH = 200
AVATAR_URL_LENGTH = 500


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub("", text)


def safe_url(url: str) -> str:
    """The URL if it is http(s), else "": a platform must not make us link to javascript:."""
    return url if urlsplit(url).scheme in {"http", "https"} else ""


def storable_author(author: PlatformAuthor) -> dict[str, str]:
    """A contact's username, display name and avatar as we can store and show them: text
    cleaned and cut to the column, the avatar only when it is an http(s) URL that fits."""
    avatar_url = safe_url(author.avatar_url)
    return {
        "username": storable_text(author.username)[:USERNAME_LENGTH],
        "display_name": storable_text(author.display_name)[:DISPLAY_NAME_LENGTH],
        "avatar_url": avatar_url if len(avatar_url) <= AVATAR_URL_LENGTH else "",
    }


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
