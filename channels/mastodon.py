"""Mastodon connector through Mastodon.py: mentions and direct statuses in, replies out.

Everything arrives as `mention` notifications (a direct status to the account notifies it
as a mention too), read newest first with `since_id` = the newest notification id we
stored. The client gets its own `requests.Session` and a timeout; `ratelimit_method` is
"throw", so a worker never sleeps on a rate limit: we raise `RateLimited` with the reset
time Mastodon sends in `X-RateLimit-Reset` instead. `version_check_mode="none"` keeps the
client from asking the instance for its version when it is made.

Thread keys (docs/architecture.md, "Life of a message", step 3): Mastodon statuses carry
no thread id, so a public status gets its own key `status:<id>`, and ingest joins a reply
to the conversation of the status it answers (reply-chain joining). Direct statuses are
one private conversation per citizen, `direct:<account id>`, like a DM conversation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import mastodon
import requests
from django.conf import settings
from django.utils import timezone

from channels.base import (
    CLOCK_SKEW,
    Attachment,
    AuthenticationFailed,
    ConnectorError,
    DeliveryUnknown,
    FetchResult,
    MalformedResponse,
    PlatformAuthor,
    PlatformMessage,
    RateLimited,
    Rejected,
    RejectedItem,
    ReplyTarget,
    SentReply,
    TransientError,
    comparable_text,
    readable_id,
)
from channels.credentials import decrypt_credentials
from channels.mastodon_text import addressed, html_to_text
from channels.models import Channel

logger = logging.getLogger(__name__)

CREDENTIAL_KEYS = ("access_token",)
NOTIFICATIONS_CURSOR = "notifications_since_id"
# Mastodon serves at most 80 notifications per page (40 by default).
PAGE_SIZE = 40
# 50 pages of 40 is far beyond what a municipality receives between two polls, even after
# a long pause; the bound only stops a platform bug from looping.
MAX_PAGES = 50
MAX_CHARACTERS_SETTING = "max_characters"
STATUS_THREAD_PREFIX = "status:"
DIRECT_THREAD_PREFIX = "direct:"
# Mastodon's media types, mapped to our attachment kinds.
ATTACHMENT_KINDS = {"image": "image", "gifv": "gif", "video": "video", "audio": "audio"}


def _plain(value: Any) -> Any:
    """Mastodon.py's typed result as plain JSON (dates as ISO strings), for `raw`."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _moment(value: Any) -> datetime:
    """A timestamp of Mastodon.py (usually already a datetime) as an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment


def _required(mapping: Any, key: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"expected an object with {key!r}, got {type(mapping).__name__}")
    value = mapping.get(key)
    if value is None or value == "":
        raise KeyError(key)
    return value


def _error_detail(error: mastodon.MastodonAPIError) -> str:
    """The platform's own words: Mastodon.py passes (text, status, reason, error message)."""
    args = error.args
    if len(args) >= 4 and args[3]:
        return str(args[3])
    if len(args) >= 3:
        return f"HTTP {args[1]} {args[2]}"
    return str(error)


def _status_code(error: mastodon.MastodonAPIError) -> int | None:
    args = error.args
    return args[1] if len(args) >= 2 and isinstance(args[1], int) else None


class MastodonConnector:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        credentials = decrypt_credentials(channel.credentials_encrypted)
        if not credentials.get("access_token"):
            raise AuthenticationFailed(
                f"Channel {channel.name} lacks a Mastodon access_token. "
                f"Set it with `manage.py channels add` or `channels credentials`."
            )
        self.session = requests.Session()
        self.client = mastodon.Mastodon(
            api_base_url=channel.api_base_url,
            access_token=credentials["access_token"],
            ratelimit_method="throw",
            request_timeout=settings.WEBCARE_PLATFORM_TIMEOUT,
            session=self.session,
            version_check_mode="none",
        )
        # What this connector learnt about the account (the instance's character limit);
        # the channel services store it in Channel.platform_settings.
        self.learned_settings: dict[str, Any] = {}

    # --- reading -------------------------------------------------------------------------

    def fetch_new(self) -> FetchResult:
        if MAX_CHARACTERS_SETTING not in self.channel.platform_settings:
            self._learn_max_characters(required=False)
        since_id = self.channel.cursor.get(NOTIFICATIONS_CURSOR)
        oldest_wanted = (
            None if since_id else timezone.now() - timedelta(days=self.channel.history_days)
        )
        notifications: list[Any] = []
        newest_id = since_id
        for number, page in enumerate(self._pages(since_id)):
            if number == 0:
                # Pages run newest to oldest: the first id is the new cursor (past any
                # unreadable item, which is quarantined once, not on every poll).
                newest_id = next(
                    (
                        str(item["id"])
                        for item in page
                        if isinstance(item, Mapping) and item.get("id")
                    ),
                    since_id,
                )
            reached_the_end = False
            for notification in page:
                if oldest_wanted is not None and self._created_before(notification, oldest_wanted):
                    reached_the_end = True
                    continue
                notifications.append(notification)
            if reached_the_end:
                break

        messages: list[PlatformMessage] = []
        rejected: list[RejectedItem] = []
        for notification in notifications:
            try:
                messages.append(self._to_platform_message(notification))
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(
                    RejectedItem(
                        reason=f"Unreadable Mastodon notification: {error!r}",
                        raw=_plain(notification),
                        external_id=readable_id(notification),
                    )
                )
        cursor = dict(self.channel.cursor)
        if newest_id:
            cursor[NOTIFICATIONS_CURSOR] = newest_id
        return FetchResult(messages=messages, cursor=cursor, rejected=rejected)

    @staticmethod
    def _created_before(notification: Any, moment: datetime) -> bool:
        try:
            return _moment(notification["created_at"]) < moment
        except (KeyError, TypeError, ValueError):
            return False

    def _pages(self, since_id: str | None) -> Iterator[list[Any]]:
        """Mention notifications newer than `since_id`, page by page, newest first.

        Paging goes down with `max_id` (the `next` link) and keeps `since_id` itself:
        Mastodon.py's fetch_next would drop it and read on into what we have.
        """
        max_id: str | None = None
        for _number in range(MAX_PAGES):
            page = self._call(
                self.client.notifications,
                types=["mention"],
                since_id=since_id,
                max_id=max_id,
                limit=PAGE_SIZE,
            )
            if not isinstance(page, list):
                raise MalformedResponse("Mastodon answered notifications with something odd.")
            if not page:
                return
            yield page
            next_max_id = next(
                (item.get("id") for item in reversed(page) if isinstance(item, Mapping)), None
            )
            if not next_max_id or getattr(page, "_pagination_next", None) is None:
                return
            max_id = str(next_max_id)
        logger.warning(
            "paging stopped after %s pages", MAX_PAGES, extra={"channel": self.channel.name}
        )

    def _to_platform_message(self, notification: Any) -> PlatformMessage:
        status = _required(notification, "status")
        account = _required(status, "account")
        account_id = str(_required(account, "id"))
        content = status.get("content")
        if not isinstance(content, str):
            raise TypeError("status content is not text")
        is_private = status.get("visibility") == "direct"
        is_from_account = account_id == self.channel.account_id
        status_id = str(_required(status, "id"))
        attachments = tuple(
            Attachment(
                url=str(media.get("url") or media.get("remote_url") or ""),
                kind=ATTACHMENT_KINDS.get(str(media.get("type")), "file"),
                preview_url=str(media.get("preview_url") or ""),
                description=str(media.get("description") or ""),
            )
            for media in status.get("media_attachments") or []
            if isinstance(media, Mapping)
        )
        return PlatformMessage(
            external_id=status_id,
            # See the module docstring: one key per public status (replies join through
            # in_reply_to), one per citizen for direct statuses.
            thread_key=(
                f"{DIRECT_THREAD_PREFIX}{account_id}"
                if is_private
                else f"{STATUS_THREAD_PREFIX}{status_id}"
            ),
            author=PlatformAuthor(
                external_id=account_id,
                username=str(_required(account, "acct")),
                display_name=str(account.get("display_name") or ""),
                avatar_url=str(account.get("avatar") or ""),
            ),
            text=html_to_text(content, status.get("mentions") or ()),
            sent_at=_moment(_required(status, "created_at")),
            in_reply_to_external_id=str(status.get("in_reply_to_id") or ""),
            is_from_account=is_from_account,
            is_private=is_private,
            attachments=attachments,
            raw=_plain(status),
        )

    # --- writing -------------------------------------------------------------------------

    def _addressed(self, text: str, target: ReplyTarget) -> str:
        # reply_create has addressed the text already; this covers replies made otherwise.
        return addressed(text, target.recipient.username)

    def send_reply(self, *, text: str, target: ReplyTarget) -> SentReply:
        visibility = "direct" if target.private else "public"
        status_text = self._addressed(text, target)
        # Every attempt of one reply sends the same key, so a retry within Mastodon's
        # idempotency window (an hour) returns the status posted before instead of a second.
        # Keyed on our reply, not its text: another reply with the same words to the same
        # status is a second status, not the first one handed back.
        key_source = "\n".join(
            (self.channel.account_id, target.reply_key)
            if target.reply_key
            else (self.channel.account_id, target.in_reply_to_external_id, visibility, status_text)
        )
        idempotency_key = hashlib.sha256(key_source.encode()).hexdigest()
        status = self._call(
            self.client.status_post,
            status_text,
            in_reply_to_id=target.in_reply_to_external_id or None,
            visibility=visibility,
            idempotency_key=idempotency_key,
            is_write=True,
        )
        try:
            return SentReply(external_id=str(_required(status, "id")), raw=_plain(status))
        except (KeyError, TypeError) as error:
            # Accepted, but said something odd: the retry must look before posting again.
            raise DeliveryUnknown(
                f"Mastodon answered the reply with data we do not understand: {status!r:.200}"
            ) from error

    def find_reply(
        self,
        *,
        text: str,
        target: ReplyTarget,
        not_before: datetime,
        skip_ids: Collection[str] = (),
    ) -> SentReply | None:
        wanted = comparable_text(text)
        oldest_wanted = not_before - CLOCK_SKEW
        max_id: str | None = None
        for _number in range(MAX_PAGES):
            page = self._call(
                self.client.account_statuses,
                self.channel.account_id,
                max_id=max_id,
                limit=PAGE_SIZE,
            )
            if not isinstance(page, list) or not page:
                return None
            for status in page:
                if not isinstance(status, Mapping):
                    continue
                content = status.get("content")
                if (
                    str(status.get("id")) not in skip_ids
                    and str(status.get("in_reply_to_id") or "") == target.in_reply_to_external_id
                    and not self._created_before(status, oldest_wanted)
                    and isinstance(content, str)
                    and comparable_text(html_to_text(content, status.get("mentions") or ()))
                    == wanted
                ):
                    return SentReply(external_id=str(status["id"]), raw=_plain(status))
            # Newest first: once a page reaches statuses older than the attempt, stop.
            if any(self._created_before(status, oldest_wanted) for status in page):
                return None
            last = page[-1]
            if not isinstance(last, Mapping) or not last.get("id"):
                return None
            max_id = str(last["id"])
        return None

    def check(self) -> str:
        account = self._call(self.client.account_verify_credentials)
        try:
            account_id = str(_required(account, "id"))
        except (KeyError, TypeError) as error:
            raise MalformedResponse(
                "Mastodon answered verify_credentials without an id."
            ) from error
        if account_id != self.channel.account_id:
            raise AuthenticationFailed(
                f"This access token belongs to @{account.get('acct')} (id {account_id}), "
                f"not to account id {self.channel.account_id}."
            )
        max_characters = self._learn_max_characters(required=True)
        return (
            f"@{account.get('acct')} ({account.get('display_name')}), id {account_id}, "
            f"statuses up to {max_characters} characters"
        )

    def _learn_max_characters(self, *, required: bool) -> int | None:
        """The instance's status limit (`configuration.statuses.max_characters`)."""
        try:
            try:
                instance = self._call(self.client.instance_v2)
            except Rejected:
                # Mastodon before 4.0 has only the v1 instance endpoint.
                instance = self._call(self.client.instance_v1)
            limit = instance["configuration"]["statuses"]["max_characters"]
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise TypeError(f"max_characters is {limit!r}")
        except (KeyError, TypeError) as error:
            if required:
                raise MalformedResponse(
                    "Mastodon's instance information has no usable character limit."
                ) from error
            return None
        except (TransientError, Rejected, MalformedResponse) as error:
            if required:
                raise
            # Not worth failing a poll over: the default limit applies until we know.
            logger.warning(
                "could not read the instance's character limit: %s",
                error,
                extra={"channel": self.channel.name},
            )
            return None
        self.learned_settings[MAX_CHARACTERS_SETTING] = limit
        return limit

    # --- errors ----------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, is_write: bool = False, **kwargs: Any) -> Any:
        """Call Mastodon.py and translate its errors into our connector errors.

        For writes, anything that may have happened after Mastodon received the request (a
        read timeout, a dropped connection, a 5xx, an unreadable answer) is `DeliveryUnknown`:
        posting twice is worse than asking first.
        """
        try:
            return method(*args, **kwargs)
        except mastodon.MastodonRatelimitError as error:
            reset = self.client.ratelimit_reset
            retry_after = max(1.0, reset - time.time()) if reset else None
            raise RateLimited(
                "Mastodon rate limit reached; trying again when it resets.",
                retry_after=retry_after,
            ) from error
        except mastodon.MastodonUnauthorizedError as error:
            raise AuthenticationFailed(
                f"Mastodon rejected the channel's access token (401: {_error_detail(error)}). "
                f"It may be revoked."
            ) from error
        except mastodon.MastodonServerError as error:
            message = f"Mastodon had a server error ({_error_detail(error)})."
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except mastodon.MastodonAPIError as error:
            status = _status_code(error)
            if status is None:
                # Mastodon.py could not parse the answer (not JSON).
                message = "Mastodon answered with something that is not JSON."
                if is_write:
                    raise DeliveryUnknown(message) from error
                raise MalformedResponse(message) from error
            if status == 403:
                raise AuthenticationFailed(
                    f"Mastodon refused the access token (403: {_error_detail(error)}); "
                    "it may lack the read/write scopes."
                ) from error
            raise Rejected(f"Mastodon refused: {_error_detail(error)}") from error
        except mastodon.MastodonNetworkError as error:
            # Mastodon.py wraps the requests exception; the cause says what happened.
            cause = error.__context__
            if isinstance(cause, requests.ConnectTimeout):
                raise TransientError(
                    "Mastodon could not be reached (connection timed out)."
                ) from error
            if isinstance(cause, requests.Timeout):
                message = f"Mastodon did not answer within {settings.WEBCARE_PLATFORM_TIMEOUT} s."
            else:
                message = f"Mastodon could not be reached: {cause or error}"
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except mastodon.MastodonError as error:
            raise ConnectorError(f"Mastodon client error: {error}") from error
