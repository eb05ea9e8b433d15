"""The one interface every platform connector implements, and the errors it may raise.

A connector maps platform payloads to `PlatformMessage` and our replies to platform calls.
It never touches the database: the inbox services store what it returns, so that storing
and advancing the cursor happen in one transaction (docs/architecture.md, "Polling").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from channels.models import Channel


@dataclass(frozen=True)
class PlatformAuthor:
    external_id: str
    username: str = ""
    display_name: str = ""
    avatar_url: str = ""


@dataclass(frozen=True)
class Attachment:
    """Media on a citizen's message, kept as a reference to the platform's copy."""

    url: str
    # "image", "video", "gif", "audio" or "file", as the platform calls it.
    kind: str = "image"
    preview_url: str = ""
    # The platform's alt text, shown to screen-reader users.
    description: str = ""


@dataclass(frozen=True)
class PlatformMessage:
    external_id: str
    # Messages with the same thread key on a channel form one conversation.
    thread_key: str
    author: PlatformAuthor
    text: str
    sent_at: datetime
    in_reply_to_external_id: str = ""
    # Written by the channel's own account: an echo of a reply, never a citizen message.
    is_from_account: bool = False
    # A direct/private message (X DM, Messenger, Mastodon direct) rather than a public post.
    is_private: bool = False
    attachments: tuple[Attachment, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedItem:
    """A platform item we could not understand; kept (raw) for an admin instead of dropped."""

    reason: str
    raw: Any
    # The item's platform id when it has one (readable_id): the same item read again by an
    # overlapping poll, or by a webhook and a poll, is kept once.
    external_id: str = ""


def readable_id(item: Any, key: str = "id") -> str:
    """The platform id of an item we could otherwise not read, or "" when it has none."""
    if isinstance(item, Mapping):
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return ""


@dataclass(frozen=True)
class FetchResult:
    messages: list[PlatformMessage]
    # The connector's cursor after these messages; stored only together with them.
    cursor: dict[str, Any]
    rejected: list[RejectedItem] = field(default_factory=list)


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes: under which platform message, to whom, publicly or privately."""

    in_reply_to_external_id: str
    # The citizen; private replies on some platforms are addressed to them, not to a post.
    recipient: PlatformAuthor
    # The conversation's thread key as the connector made it (PlatformMessage.thread_key).
    thread_key: str
    private: bool = False
    # A platform tag that lets a private reply through after the normal window has closed
    # (Messenger's "HUMAN_AGENT", within 7 days); "" for none.
    message_tag: str = ""
    # Our own key for this reply (the outbox row's idempotency key): a platform that
    # deduplicates by a client key (Mastodon's Idempotency-Key) gets it, so a retry of this
    # reply is one post while another reply with the same text is another.
    reply_key: str = ""


# A reply is looked for from a minute before it was written: our clock and the platform's
# may disagree a little.
CLOCK_SKEW = timedelta(minutes=1)
_LEADING_MENTION = re.compile(r"@[\w.\-]+(@[\w.\-]+)?")


def comparable_text(text: str) -> str:
    """A reply's text as `find_reply` compares it with what the platform shows.

    Platforms store what we sent a little differently: NFC-normalised (X), with the
    mentions of a reply put in front (X, Mastodon), with whitespace collapsed (HTML on
    Mastodon). Those differences are dropped; any other difference means another reply.
    """
    words = unicodedata.normalize("NFC", text).split()
    while words and _LEADING_MENTION.fullmatch(words[0]):
        words.pop(0)
    return " ".join(words)


@dataclass(frozen=True)
class SentReply:
    external_id: str
    raw: dict[str, Any]


class ConnectorError(Exception):
    """Base of every error a connector raises; `str()` is shown to staff, so keep it plain."""

    # Whether trying again later may succeed without anyone changing anything.
    transient = False


class TransientError(ConnectorError):
    """Timeouts before the request was sent, connection refused, 5xx on reads."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The platform asked us to wait; `retry_after` comes from its reset header."""


class DeliveryUnknown(TransientError):
    """A reply was sent but no answer came back: it may or may not have been posted.

    Whoever retries must first look on the platform (`Connector.find_reply`).
    """


class AuthenticationFailed(ConnectorError):
    """Credentials missing, wrong, revoked or expired: an admin must act."""


class Rejected(ConnectorError):
    """The platform refused this request (too long, duplicate, deleted target …)."""


class MalformedResponse(ConnectorError):
    """The platform answered with something we do not understand."""


class Connector(Protocol):
    channel: Channel

    def fetch_new(self) -> FetchResult:
        """Everything new since the channel's cursor (or its history window on first poll)."""
        ...

    def send_reply(self, *, text: str, target: ReplyTarget) -> SentReply:
        """Post a reply: public under the target message, or private to the recipient."""
        ...

    def find_reply(
        self,
        *,
        text: str,
        target: ReplyTarget,
        not_before: datetime,
        skip_ids: Collection[str] = (),
    ) -> SentReply | None:
        """Look on the platform for a reply we may have posted already (after DeliveryUnknown).

        A match is ours (the channel's account), answers the same target (the same post, DM
        conversation or Messenger thread), was created at or after `not_before` (less a
        minute for clock skew) and reads the same (`comparable_text`). `skip_ids` are the
        platform ids of our other replies already recorded: an identical earlier reply is
        never taken for this one (docs/architecture.md, "Exactly-once replies").
        """
        ...

    def check(self) -> str:
        """Verify credentials and reachability; return a description of the account."""
        ...
