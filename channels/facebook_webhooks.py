"""Facebook Page webhooks: Graph's signed POSTs of new comments and Messenger messages.

Pure functions, no HTTP and no facebook-sdk: checking the subscription handshake and the
signature, and mapping a payload to the same `PlatformMessage`s the polling connector
(`channels/facebook.py`) makes, with the same external ids and thread keys, so that a
message seen by a webhook and by a poll is stored once (docs/architecture.md, "Webhooks").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.base import (
    Attachment,
    PlatformAuthor,
    PlatformMessage,
    RejectedItem,
    readable_id,
)

# The same prefixes as channels/facebook.py (a test keeps them equal); not imported from
# there because that module imports facebook-sdk.
COMMENT_THREAD_PREFIX = "fb-comment:"
MESSENGER_THREAD_PREFIX = "fb-messenger:"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Messenger attachment types we keep as such; anything else with a URL is a "file".
MESSENGER_ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "audio"}


def sign(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Graph sends with `body`."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def signature_is_valid(*, app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is Graph's signature of exactly these raw bytes, in constant time."""
    if not app_secret or not header:
        return False
    return hmac.compare_digest(sign(app_secret, body).encode(), header.strip().encode())


def subscription_challenge(params: Mapping[str, str], *, verify_token: str) -> str | None:
    """The challenge to echo for Graph's subscription handshake, or None to refuse it."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    offered = params.get("hub.verify_token", "")
    if not hmac.compare_digest(offered.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge", "")


@dataclass
class ParsedWebhook:
    messages: list[PlatformMessage] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)
    # Entries for another page than the channel's: ignored, named in a log line.
    foreign_page_ids: list[str] = field(default_factory=list)


def parse_webhook(payload: Any, *, page_id: str) -> ParsedWebhook:
    """New comments and Messenger messages of `page_id` in a Graph webhook payload.

    Edits, removals, reactions, the page's own posts, delivery and read receipts are not
    messages and are skipped; a piece that claims to be a message but cannot be read is
    returned as a `RejectedItem` with its raw JSON, for the quarantine.
    """
    parsed = ParsedWebhook()
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        parsed.rejected.append(
            RejectedItem(reason="Webhook payload without an entry list", raw=payload)
        )
        return parsed
    if payload.get("object") != "page":
        # A subscription of the app to something else (a user, Instagram): not ours.
        return parsed
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            parsed.rejected.append(RejectedItem(reason="Webhook entry is not an object", raw=entry))
            continue
        entry_page_id = str(entry.get("id") or "")
        if entry_page_id != page_id:
            parsed.foreign_page_ids.append(entry_page_id)
            continue
        for change in entry.get("changes") or []:
            _parse_change(change, page_id, parsed)
        for event in entry.get("messaging") or []:
            _parse_messaging(event, page_id, parsed)
    return parsed


def _parse_change(change: Any, page_id: str, parsed: ParsedWebhook) -> None:
    if not isinstance(change, dict) or change.get("field") != "feed":
        return
    value = change.get("value")
    if not isinstance(value, dict) or value.get("item") != "comment" or value.get("verb") != "add":
        return
    try:
        parsed.messages.append(_comment(value, page_id))
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        parsed.rejected.append(
            RejectedItem(
                reason=f"Unreadable comment webhook: {error}",
                raw=change,
                # The poll's key for the same comment, so that it is kept once.
                external_id=readable_id(value, "comment_id"),
            )
        )


def _comment(value: dict[str, Any], page_id: str) -> PlatformMessage:
    comment_id = _required_id(value, "comment_id")
    author = value.get("from")
    if not isinstance(author, dict) or not author.get("id"):
        raise ValueError("comment without `from`")
    post_id = str(value.get("post_id") or "")
    parent_id = str(value.get("parent_id") or "")
    # A comment on the post itself is top-level; a reply names its top-level comment
    # (Facebook nests one level), as `parent` does in the poll.
    parent_comment_id = parent_id if parent_id and parent_id != post_id else ""
    is_from_account = str(author["id"]) == page_id
    return PlatformMessage(
        external_id=comment_id,
        thread_key=f"{COMMENT_THREAD_PREFIX}{parent_comment_id or comment_id}",
        author=PlatformAuthor(
            external_id=str(author["id"]), display_name=str(author.get("name") or "")
        ),
        text=str(value.get("message") or ""),
        sent_at=_unix_time(value["created_time"], milliseconds=False),
        in_reply_to_external_id=parent_comment_id,
        is_from_account=is_from_account,
        is_private=False,
        attachments=_comment_attachments(value),
        raw=value,
    )


def _comment_attachments(value: dict[str, Any]) -> tuple[Attachment, ...]:
    attachments = []
    if isinstance(value.get("photo"), str) and value["photo"]:
        attachments.append(Attachment(url=value["photo"], kind="image", preview_url=value["photo"]))
    if isinstance(value.get("video"), str) and value["video"]:
        attachments.append(Attachment(url=value["video"], kind="video"))
    return tuple(attachments)


def _parse_messaging(event: Any, page_id: str, parsed: ParsedWebhook) -> None:
    if isinstance(event, dict) and "message" not in event:
        # Delivery and read receipts, postbacks, reactions: nothing a citizen wrote.
        return
    try:
        parsed.messages.append(_messenger_message(event, page_id))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        parsed.rejected.append(
            RejectedItem(
                reason=f"Unreadable Messenger webhook: {error}",
                raw=event,
                external_id=readable_id(
                    event.get("message") if isinstance(event, dict) else None, "mid"
                ),
            )
        )


def _messenger_message(event: dict[str, Any], page_id: str) -> PlatformMessage:
    message = event["message"]
    if not isinstance(message, dict):
        raise ValueError("`message` is not an object")
    mid = _required_id(message, "mid")
    sender_id = _required_id(event["sender"], "id")
    recipient_id = _required_id(event["recipient"], "id")
    # An echo is the page's own message (sent from Webcare, or from Meta Business Suite):
    # the citizen is its recipient.
    is_from_account = bool(message.get("is_echo")) or sender_id == page_id
    citizen_id = recipient_id if is_from_account else sender_id
    return PlatformMessage(
        external_id=mid,
        thread_key=f"{MESSENGER_THREAD_PREFIX}{citizen_id}",
        author=PlatformAuthor(external_id=sender_id),
        text=str(message.get("text") or ""),
        sent_at=_unix_time(event["timestamp"], milliseconds=True),
        # Messenger names no message it answers. Ingest stores an echo only when it knows
        # what it answers, so an echo seen here is left to the next poll, which links it.
        in_reply_to_external_id="",
        is_from_account=is_from_account,
        is_private=True,
        attachments=_messenger_attachments(message),
        raw=event,
    )


def _messenger_attachments(message: dict[str, Any]) -> tuple[Attachment, ...]:
    attachments = []
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        url = (attachment.get("payload") or {}).get("url")
        if not isinstance(url, str) or not url:
            continue
        kind = MESSENGER_ATTACHMENT_KINDS.get(str(attachment.get("type")), "file")
        attachments.append(
            Attachment(url=url, kind=kind, preview_url=url if kind == "image" else "")
        )
    return tuple(attachments)


def _required_id(container: Any, key: str) -> str:
    if not isinstance(container, dict):
        raise ValueError(f"no object holding `{key}`")
    value = container.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise ValueError(f"missing `{key}`")
    return str(value)


def _unix_time(value: Any, *, milliseconds: bool) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"unreadable time {value!r}")
    seconds = float(value) / (1000 if milliseconds else 1)
    return datetime.fromtimestamp(seconds, UTC)
