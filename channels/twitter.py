"""X (Twitter) connector through tweepy's v2 `Client`: mentions and direct messages in,
public replies and direct messages out.

tweepy hard-codes https://api.twitter.com and sets no timeout, so the client gets a session
that rewrites the host to the channel's API base URL (the sandbox platform in development)
and always passes a timeout. `wait_on_rate_limit` stays off: a worker must never sleep for
fifteen minutes; we raise `RateLimited` with the platform's reset time instead.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Collection, Iterator
from datetime import datetime, timedelta
from typing import Any

import requests
import tweepy
from django.conf import settings
from django.utils import timezone

from channels.base import (
    CLOCK_SKEW,
    Attachment,
    AuthenticationFailed,
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
from channels.models import Channel

logger = logging.getLogger(__name__)

TWITTER_API_HOST = "https://api.twitter.com"
CREDENTIAL_KEYS = (
    "bearer_token",
    "consumer_key",
    "consumer_secret",
    "access_token",
    "access_token_secret",
)
TWEET_FIELDS = [
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
    "attachments",
]
USER_FIELDS = ["username", "name", "profile_image_url"]
EXPANSIONS = ["author_id", "referenced_tweets.id", "attachments.media_keys"]
MEDIA_FIELDS = ["url", "preview_image_url", "type", "alt_text"]
# X's media types, in the words of our Attachment.kind.
ATTACHMENT_KINDS = {"photo": "image", "video": "video", "animated_gif": "gif"}
PAGE_SIZE = 100
# One poll reads at most this many pages of mentions (2,000 tweets), so that one ingest
# transaction stays short and the inbox shows a crisis as it comes in, in steps of seconds
# rather than minutes; a larger backlog is read by the next polls, which start within a
# second (MENTIONS_GAP_CURSOR). Real X serves only the 800 newest mentions through this
# timeline (docs/performance.md, "Crisis burst").
MAX_PAGES = 20
MENTIONS_CURSOR = "mentions_since_id"
# What a poll that stopped at MAX_PAGES left unread: the tweets after `after` (or, on the
# first poll, from `start_time`) and before `before`, the oldest tweet it did read. Until it
# is read, polls read that window instead of the newest tweets; nothing is skipped.
MENTIONS_GAP_CURSOR = "mentions_gap"

DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]
DM_EXPANSIONS = ["sender_id"]
# GET /2/dm_events has no since_id: we page newest to oldest until the newest event id we
# stored last time (or, on the first poll, until the history window ends).
DM_CURSOR = "dm_newest_event_id"
# X keeps 30 days of DM events; 50 pages of 100 is far beyond what a municipality receives
# between two polls, even after a long pause. The bound only stops a platform bug looping.
MAX_DM_PAGES = 50
DM_THREAD_PREFIX = "dm:"


class ApiBaseSession(requests.Session):
    """Sends tweepy's requests to `api_base_url` instead of the hard-coded X host."""

    def __init__(self, api_base_url: str, timeout: float) -> None:
        super().__init__()
        self.api_base_url = api_base_url.rstrip("/")
        self.default_timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWITTER_API_HOST):
            url = self.api_base_url + url[len(TWITTER_API_HOST) :]
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def _created_before(event: dict[str, Any], moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(event["created_at"])) < moment
    except (KeyError, TypeError, ValueError):
        return False


# X wraps every link in a t.co link of its own: in the text X shows, a URL is any URL.
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _comparable_tweet_text(text: str) -> str:
    """A tweet's text as find_reply compares it: `comparable_text` with links made equal."""
    return _URL.sub("<link>", comparable_text(text))


def _attachments(tweet: dict[str, Any], media: dict[str, dict[str, Any]]) -> tuple[Attachment, ...]:
    """The tweet's photos and videos, as references to X's copies (never downloaded)."""
    attachments = []
    for key in (tweet.get("attachments") or {}).get("media_keys") or []:
        item = media.get(str(key))
        if item is None:
            # X leaves out media it withholds or has removed; the text still matters.
            continue
        preview = str(item.get("preview_image_url") or item.get("url") or "")
        url = str(item.get("url") or preview)
        if not url:
            continue
        attachments.append(
            Attachment(
                url=url,
                kind=ATTACHMENT_KINDS.get(str(item.get("type")), "file"),
                preview_url=preview,
                description=str(item.get("alt_text") or ""),
            )
        )
    return tuple(attachments)


def _platform_detail(error: tweepy.HTTPException) -> str:
    """The platform's own words for an error (X puts them in `detail` or `errors`)."""
    messages = [str(message) for message in error.api_messages if message]
    if messages:
        return "; ".join(messages)
    return f"HTTP {error.response.status_code}"


class TwitterConnector:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        credentials = decrypt_credentials(channel.credentials_encrypted)
        missing = [key for key in CREDENTIAL_KEYS if not credentials.get(key)]
        if missing:
            raise AuthenticationFailed(
                f"Channel {channel.name} lacks X credentials: {', '.join(missing)}. "
                f"Set them with `manage.py channels add` or in the admin."
            )
        self.client = tweepy.Client(
            **{key: credentials[key] for key in CREDENTIAL_KEYS},
            return_type=dict,
            wait_on_rate_limit=False,
        )
        self.client.session = ApiBaseSession(
            channel.api_base_url, timeout=settings.WEBCARE_PLATFORM_TIMEOUT
        )

    # --- reading -------------------------------------------------------------------------

    def fetch_new(self) -> FetchResult:
        since_id = self.channel.cursor.get(MENTIONS_CURSOR)
        gap = self.channel.cursor.get(MENTIONS_GAP_CURSOR)
        window: dict[str, Any]
        if gap:
            # An earlier poll stopped at MAX_PAGES: read what it left before anything newer.
            window = {"until_id": str(gap["before"])}
            if gap.get("after"):
                window["since_id"] = str(gap["after"])
            else:
                window["start_time"] = datetime.fromisoformat(str(gap["start_time"]))
        elif since_id:
            window = {"since_id": since_id}
        else:
            # First poll of a new channel: import recent history so that nothing sent just
            # before go-live is missed.
            window = {"start_time": timezone.now() - timedelta(days=self.channel.history_days)}

        tweets: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        media: dict[str, dict[str, Any]] = {}
        newest_id = since_id
        next_token = None
        pages = self._pages(
            self.client.get_users_mentions,
            self.channel.account_id,
            max_pages=MAX_PAGES,
            expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
            media_fields=MEDIA_FIELDS,
            **window,
        )
        for number, page in enumerate(pages):
            meta = page.get("meta") or {}
            if number == 0 and meta.get("newest_id") and not gap:
                # Pages run newest to oldest: the first page's newest id is the new cursor.
                newest_id = str(meta["newest_id"])
            next_token = meta.get("next_token")
            tweets.extend(page.get("data") or [])
            includes = page.get("includes") or {}
            for user in includes.get("users") or []:
                if isinstance(user, dict) and user.get("id"):
                    users[str(user["id"])] = user
            for item in includes.get("media") or []:
                if isinstance(item, dict) and item.get("media_key"):
                    media[str(item["media_key"])] = item

        messages: list[PlatformMessage] = []
        rejected: list[RejectedItem] = []
        for tweet in tweets:
            try:
                messages.append(self._to_platform_message(tweet, users, media))
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(
                    RejectedItem(
                        reason=f"Unreadable tweet: {error!r}",
                        raw=tweet,
                        external_id=readable_id(tweet),
                    )
                )

        # Mentions and DMs are one poll: when reading the DMs fails, the error propagates
        # and the whole poll fails, so neither cursor moves and the next poll reads both
        # again (ingest skips what it has). Simpler than storing half a poll and reporting
        # the other half, and nothing is lost either way.
        direct = self._fetch_direct_messages()
        messages.extend(direct.messages)
        rejected.extend(direct.rejected)

        cursor = dict(self.channel.cursor)
        if newest_id:
            cursor[MENTIONS_CURSOR] = newest_id
        read_ids = [int(tweet["id"]) for tweet in tweets if str(tweet.get("id", "")).isdigit()]
        if next_token and read_ids:
            # Stopped at MAX_PAGES with more to come: remember the unread window below the
            # oldest tweet read (within the gap being read, or below the new ones).
            cursor[MENTIONS_GAP_CURSOR] = {
                "after": window.get("since_id"),
                "start_time": window["start_time"].isoformat() if "start_time" in window else None,
                "before": str(min(read_ids)),
            }
        else:
            cursor.pop(MENTIONS_GAP_CURSOR, None)
        cursor.update(direct.cursor)
        return FetchResult(messages=messages, cursor=cursor, rejected=rejected)

    def _fetch_direct_messages(self) -> FetchResult:
        """DM events newer than the stored newest one (first poll: the history window).

        The cursor in the result holds only the DM key. Pages are read newest first; reading
        stops after the page that reaches a known (or too old) event, never in between, so no
        event between two pages is skipped.
        """
        known_newest = self.channel.cursor.get(DM_CURSOR)
        stop_at_id = int(known_newest) if known_newest else None
        oldest_wanted = (
            None if known_newest else timezone.now() - timedelta(days=self.channel.history_days)
        )
        events: list[tuple[int, dict[str, Any]]] = []
        # Known events on the last page read: not new, but they tell which citizen message
        # an echo of ours follows (see _dm_to_platform_message).
        known_events: list[tuple[int, dict[str, Any]]] = []
        users: dict[str, dict[str, Any]] = {}
        rejected: list[RejectedItem] = []
        reached_the_end = False
        pages = self._pages(
            self.client.get_direct_message_events,
            dm_event_fields=DM_EVENT_FIELDS,
            event_types="MessageCreate",
            expansions=DM_EXPANSIONS,
            user_fields=USER_FIELDS,
            user_auth=True,
            max_pages=MAX_DM_PAGES,
        )
        for page in pages:
            for user in (page.get("includes") or {}).get("users") or []:
                if isinstance(user, dict) and user.get("id"):
                    users[str(user["id"])] = user
            for event in page.get("data") or []:
                try:
                    event_id = int(event["id"])
                    created_at = datetime.fromisoformat(str(event["created_at"]))
                except (KeyError, TypeError, ValueError) as error:
                    rejected.append(
                        RejectedItem(reason=f"Unreadable direct message: {error!r}", raw=event)
                    )
                    continue
                if (stop_at_id is not None and event_id <= stop_at_id) or (
                    oldest_wanted is not None and created_at < oldest_wanted
                ):
                    reached_the_end = True
                    known_events.append((event_id, event))
                    continue
                events.append((event_id, event))
            if reached_the_end:
                break
        else:
            # Paging ended without reaching a known or too old event. Normal when X has no
            # older events (a new account, or the known one aged past X's 30 days), but after
            # MAX_DM_PAGES full pages older events may be left unread: say so where admins
            # look (the quarantine) rather than leave a silent gap.
            if len(events) + len(rejected) >= MAX_DM_PAGES * PAGE_SIZE:
                logger.warning(
                    "direct message paging stopped after %s pages",
                    MAX_DM_PAGES,
                    extra={"channel": self.channel.name},
                )
                rejected.append(
                    RejectedItem(
                        reason=(
                            f"Read {len(events)} direct messages and stopped; older ones "
                            f"(after event {known_newest or 'the history window'}) may be "
                            "missing. Look on X."
                        ),
                        raw={"known_newest_event_id": known_newest},
                    )
                )

        messages: list[PlatformMessage] = []
        # Oldest first, so that each of our own messages can name the citizen message
        # before it in its conversation (see _dm_to_platform_message).
        last_citizen_event: dict[str, str] = {}
        new_event_ids = {event_id for event_id, _ in events}
        for event_id, event in sorted([*known_events, *events], key=lambda item: item[0]):
            if event_id not in new_event_ids:
                if str(event.get("sender_id")) != self.channel.account_id:
                    conversation_id = event.get("dm_conversation_id")
                    last_citizen_event[f"{DM_THREAD_PREFIX}{conversation_id}"] = str(event_id)
                continue
            try:
                message = self._dm_to_platform_message(event, users, last_citizen_event)
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(
                    RejectedItem(reason=f"Unreadable direct message: {error!r}", raw=event)
                )
                continue
            messages.append(message)
            if not message.is_from_account:
                last_citizen_event[message.thread_key] = message.external_id

        cursor: dict[str, Any] = {}
        newest = max((event_id for event_id, _ in events), default=None)
        if newest is not None:
            cursor[DM_CURSOR] = str(newest)
        return FetchResult(messages=messages, cursor=cursor, rejected=rejected)

    def _dm_to_platform_message(
        self,
        event: dict[str, Any],
        users: dict[str, dict[str, Any]],
        last_citizen_event: dict[str, str],
    ) -> PlatformMessage:
        sender_id = str(event["sender_id"])
        conversation_id = str(event["dm_conversation_id"])
        if not conversation_id:
            raise ValueError("direct message without dm_conversation_id")
        thread_key = f"{DM_THREAD_PREFIX}{conversation_id}"
        is_from_account = sender_id == self.channel.account_id
        user = users.get(sender_id, {})
        return PlatformMessage(
            external_id=str(event["id"]),
            # Each DM conversation is one private conversation in the inbox.
            thread_key=thread_key,
            author=PlatformAuthor(
                external_id=sender_id,
                username=str(user.get("username", "")),
                display_name=str(user.get("name", "")),
                avatar_url=str(user.get("profile_image_url", "")),
            ),
            text=str(event["text"]),
            sent_at=datetime.fromisoformat(str(event["created_at"])),
            # DMs name no message they answer. For our own (echoes: replies from Webcare or
            # from the X app) the citizen's latest message before it on the pages read stands
            # in, so ingest can attach the echo to its conversation or to the pending reply.
            in_reply_to_external_id=last_citizen_event.get(thread_key, "")
            if is_from_account
            else "",
            is_from_account=is_from_account,
            is_private=True,
            raw=event,
        )

    def _to_platform_message(
        self,
        tweet: dict[str, Any],
        users: dict[str, dict[str, Any]],
        media: dict[str, dict[str, Any]],
    ) -> PlatformMessage:
        tweet_id = str(tweet["id"])
        author_id = str(tweet["author_id"])
        conversation_id = str(tweet.get("conversation_id") or tweet_id)
        user = users.get(author_id, {})
        in_reply_to = next(
            (
                str(reference["id"])
                for reference in tweet.get("referenced_tweets") or []
                if reference.get("type") == "replied_to"
            ),
            "",
        )
        return PlatformMessage(
            external_id=tweet_id,
            # One conversation per citizen per thread: when several citizens answer the same
            # post, each gets their own conversation, assignee and response time.
            thread_key=f"{conversation_id}:{author_id}",
            author=PlatformAuthor(
                external_id=author_id,
                username=str(user.get("username", "")),
                display_name=str(user.get("name", "")),
                avatar_url=str(user.get("profile_image_url", "")),
            ),
            # X escapes &, < and > in tweet text.
            text=html.unescape(str(tweet["text"])),
            sent_at=datetime.fromisoformat(str(tweet["created_at"])),
            in_reply_to_external_id=in_reply_to,
            is_from_account=author_id == self.channel.account_id,
            attachments=_attachments(tweet, media),
            raw=tweet,
        )

    # --- writing -------------------------------------------------------------------------

    def send_reply(self, *, text: str, target: ReplyTarget) -> SentReply:
        if target.private:
            return self._send_direct_message(text=text, target=target)
        response = self._call(
            self.client.create_tweet,
            text=text,
            in_reply_to_tweet_id=target.in_reply_to_external_id,
            is_write=True,
        )
        try:
            data = response["data"]
            return SentReply(external_id=str(data["id"]), raw=data)
        except (KeyError, TypeError) as error:
            # The platform accepted the request but said something odd: treat the outcome as
            # unknown so that the retry looks before posting again.
            raise DeliveryUnknown(
                f"X answered the reply with data we do not understand: {response!r:.200}"
            ) from error

    def _send_direct_message(self, *, text: str, target: ReplyTarget) -> SentReply:
        """Into the DM conversation itself, or, for a public message, to its author."""
        recipient: dict[str, str]
        if target.thread_key.startswith(DM_THREAD_PREFIX):
            recipient = {"dm_conversation_id": target.thread_key.removeprefix(DM_THREAD_PREFIX)}
        else:
            recipient = {"participant_id": target.recipient.external_id}
        response = self._call(
            self.client.create_direct_message,
            text=text,
            user_auth=True,
            is_write=True,
            **recipient,
        )
        try:
            data = response["data"]
            return SentReply(external_id=str(data["dm_event_id"]), raw=data)
        except (KeyError, TypeError) as error:
            raise DeliveryUnknown(
                f"X answered the direct message with data we do not understand: {response!r:.200}"
            ) from error

    def _dm_conversation_id(self, target: ReplyTarget) -> str:
        if target.thread_key.startswith(DM_THREAD_PREFIX):
            return target.thread_key.removeprefix(DM_THREAD_PREFIX)
        # X names a one-to-one conversation after its two user ids, smaller one first.
        smaller, larger = sorted((self.channel.account_id, target.recipient.external_id), key=int)
        return f"{smaller}-{larger}"

    def _find_direct_message(
        self, *, text: str, target: ReplyTarget, not_before: datetime, skip_ids: Collection[str]
    ) -> SentReply | None:
        conversation_id = self._dm_conversation_id(target)
        wanted = comparable_text(text)
        oldest_wanted = not_before - CLOCK_SKEW
        pages = self._pages(
            self.client.get_direct_message_events,
            dm_event_fields=DM_EVENT_FIELDS,
            event_types="MessageCreate",
            user_auth=True,
            max_pages=MAX_DM_PAGES,
        )
        for page in pages:
            events = page.get("data") or []
            for event in events:
                if (
                    str(event.get("id")) not in skip_ids
                    and str(event.get("sender_id")) == self.channel.account_id
                    and str(event.get("dm_conversation_id")) == conversation_id
                    # An identical message of ours from before this reply was written (on
                    # the last page read) is another reply, not this one.
                    and not _created_before(event, oldest_wanted)
                    and comparable_text(str(event.get("text", ""))) == wanted
                ):
                    return SentReply(
                        external_id=str(event["id"]),
                        raw={"dm_conversation_id": conversation_id, "dm_event_id": event["id"]},
                    )
            # Newest first: once a page reaches events older than the attempt, stop.
            if any(_created_before(event, oldest_wanted) for event in events):
                return None
        return None

    def find_reply(
        self,
        *,
        text: str,
        target: ReplyTarget,
        not_before: datetime,
        skip_ids: Collection[str] = (),
    ) -> SentReply | None:
        if target.private:
            return self._find_direct_message(
                text=text, target=target, not_before=not_before, skip_ids=skip_ids
            )
        wanted = _comparable_tweet_text(text)
        pages = self._pages(
            self.client.get_users_tweets,
            self.channel.account_id,
            start_time=not_before - CLOCK_SKEW,
            tweet_fields=["created_at", "referenced_tweets"],
        )
        for page in pages:
            for tweet in page.get("data") or []:
                replied_to = {
                    str(reference.get("id"))
                    for reference in tweet.get("referenced_tweets") or []
                    if reference.get("type") == "replied_to"
                }
                if (
                    str(tweet.get("id")) not in skip_ids
                    and target.in_reply_to_external_id in replied_to
                    and _comparable_tweet_text(html.unescape(str(tweet.get("text", "")))) == wanted
                ):
                    return SentReply(external_id=str(tweet["id"]), raw=tweet)
        return None

    def check(self) -> str:
        me = self._call(self.client.get_me, user_auth=True)
        try:
            user = me["data"]
        except (KeyError, TypeError) as error:
            raise MalformedResponse("X answered /2/users/me without user data.") from error
        if str(user.get("id")) != self.channel.account_id:
            raise AuthenticationFailed(
                f"These credentials belong to @{user.get('username')} (id {user.get('id')}), "
                f"not to account id {self.channel.account_id}."
            )
        return f"@{user.get('username')} ({user.get('name')}), id {user.get('id')}"

    def _pages(
        self, method: Any, *args: Any, max_pages: int = MAX_PAGES, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every page of a timeline, following `next_token`, up to `max_pages`.

        Callers that may meet more pages than that (a crisis backlog of mentions) look at
        the last page's `next_token` themselves; for the others the bound only stops a
        platform bug from looping.
        """
        pagination_token = None
        for _number in range(max_pages):
            page = self._call(
                method, *args, max_results=PAGE_SIZE, pagination_token=pagination_token, **params
            )
            if not isinstance(page, dict):
                raise MalformedResponse("X answered with something other than a JSON object.")
            yield page
            pagination_token = (page.get("meta") or {}).get("next_token")
            if not pagination_token:
                return
        logger.warning(
            "paging stopped after %s pages", max_pages, extra={"channel": self.channel.name}
        )

    # --- errors ----------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, is_write: bool = False, **kwargs: Any) -> Any:
        """Call tweepy and translate its errors into our connector errors.

        For writes, anything that may have happened after X received the request (a read
        timeout, a 5xx) is `DeliveryUnknown`, never a plain retry: posting twice is worse
        than asking first.
        """
        try:
            return method(*args, **kwargs)
        except tweepy.TooManyRequests as error:
            retry_after = None
            if error.reset_time:
                retry_after = max(1.0, error.reset_time - time.time())
            raise RateLimited(
                "X rate limit reached; trying again when it resets.", retry_after=retry_after
            ) from error
        except tweepy.Unauthorized as error:
            raise AuthenticationFailed(
                f"X rejected the channel's credentials (401: {_platform_detail(error)}). "
                f"They may be revoked or expired."
            ) from error
        except tweepy.TwitterServerError as error:
            message = f"X had a server error ({_platform_detail(error)})."
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except tweepy.HTTPException as error:
            raise Rejected(f"X refused: {_platform_detail(error)}") from error
        except requests.ConnectTimeout as error:
            # Nothing reached X: safe to retry as is.
            raise TransientError("X could not be reached (connection timed out).") from error
        except requests.Timeout as error:
            message = f"X did not answer within {settings.WEBCARE_PLATFORM_TIMEOUT} s."
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except requests.ConnectionError as error:
            # A refused connection sent nothing, but a dropped one may have after X got it.
            message = f"X could not be reached: {error}"
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except ValueError as error:
            # requests raises a ValueError subclass when the body is not JSON.
            if is_write:
                raise DeliveryUnknown("X answered with something that is not JSON.") from error
            raise MalformedResponse("X answered with something that is not JSON.") from error
