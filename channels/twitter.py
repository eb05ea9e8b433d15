"""X (Twitter) connector: mentions in, public replies out, through tweepy's v2 `Client`.

tweepy hard-codes https://api.twitter.com and sets no timeout, so the client gets a session
that rewrites the host to the channel's API base URL (the sandbox platform in development)
and always passes a timeout. `wait_on_rate_limit` stays off: a worker must never sleep for
fifteen minutes; we raise `RateLimited` with the platform's reset time instead.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import requests
import tweepy
from django.conf import settings
from django.utils import timezone

from channels.base import (
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
]
USER_FIELDS = ["username", "name", "profile_image_url"]
EXPANSIONS = ["author_id", "referenced_tweets.id"]
# X returns at most 800 mentions through since_id paging; 100 per page keeps it to 8 calls.
PAGE_SIZE = 100
MAX_PAGES = 20
MENTIONS_CURSOR = "mentions_since_id"


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
        window: dict[str, Any]
        if since_id:
            window = {"since_id": since_id}
        else:
            # First poll of a new channel: import recent history so that nothing sent just
            # before go-live is missed.
            window = {"start_time": timezone.now() - timedelta(days=self.channel.history_days)}

        tweets: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        newest_id = since_id
        pages = self._pages(
            self.client.get_users_mentions,
            self.channel.account_id,
            expansions=EXPANSIONS,
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
            **window,
        )
        for number, page in enumerate(pages):
            meta = page.get("meta") or {}
            if number == 0 and meta.get("newest_id"):
                # Pages run newest to oldest: the first page's newest id is the new cursor.
                newest_id = str(meta["newest_id"])
            tweets.extend(page.get("data") or [])
            for user in (page.get("includes") or {}).get("users") or []:
                if isinstance(user, dict) and user.get("id"):
                    users[str(user["id"])] = user

        messages: list[PlatformMessage] = []
        rejected: list[RejectedItem] = []
        for tweet in tweets:
            try:
                messages.append(self._to_platform_message(tweet, users))
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(RejectedItem(reason=f"Unreadable tweet: {error!r}", raw=tweet))
        cursor = dict(self.channel.cursor)
        if newest_id:
            cursor[MENTIONS_CURSOR] = newest_id
        return FetchResult(messages=messages, cursor=cursor, rejected=rejected)

    def _to_platform_message(
        self, tweet: dict[str, Any], users: dict[str, dict[str, Any]]
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
            raw=tweet,
        )

    # --- writing -------------------------------------------------------------------------

    def send_reply(self, *, text: str, target: ReplyTarget) -> SentReply:
        if target.private:
            raise Rejected("Private replies (direct messages) on X are not available yet.")
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

    def find_reply(
        self, *, text: str, target: ReplyTarget, not_before: datetime
    ) -> SentReply | None:
        pages = self._pages(
            self.client.get_users_tweets,
            self.channel.account_id,
            start_time=not_before - timedelta(minutes=1),
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
                    target.in_reply_to_external_id in replied_to
                    and html.unescape(str(tweet.get("text", ""))) == text
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

    def _pages(self, method: Any, *args: Any, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a timeline, following `next_token`.

        X serves at most 800 tweets through since_id/start_time paging, so MAX_PAGES of 100
        is never the limit in practice; the bound only stops a platform bug from looping.
        """
        pagination_token = None
        for _number in range(MAX_PAGES):
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
            "paging stopped after %s pages", MAX_PAGES, extra={"channel": self.channel.name}
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
