"""Facebook Page connector through facebook-sdk's `GraphAPI`: comments under the page's
posts and Messenger conversations in, comment replies and Messenger messages out.

facebook-sdk 3.1.0 refuses Graph versions newer than 3.1 in its constructor and hard-codes
https://graph.facebook.com, so the client is built without `version` (then given the one we
speak) and with a session that rewrites the host to the channel's API base URL and always
passes a timeout. The session also keeps the last response: the SDK drops the HTTP status
and the usage headers we need for rate limits and 5xx (docs/architecture.md, "Facebook").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facebook
import requests
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

GRAPH_HOST = "https://graph.facebook.com"
GRAPH_VERSION = "v25.0"
CREDENTIAL_KEYS = ("access_token", "app_secret")
COMMENT_THREAD_PREFIX = "fb-comment:"
MESSENGER_THREAD_PREFIX = "fb-messenger:"
HUMAN_AGENT_TAG = "HUMAN_AGENT"

COMMENT_FIELDS = (
    "id,message,created_time,from{id,name},parent{id},"
    "attachment{type,media{image{src}},url,description}"
)
MESSAGE_FIELDS = "id,message,from,to,created_time,attachments"
# Messages per conversation read along with the conversation list; older ones are paged.
INLINE_MESSAGES = 25
PAGE_SIZE = 100
MAX_PAGES = 20
# Graph's created_time has whole seconds, and a comment may show up in reads a little after
# its created_time: each poll reads this far back before the last one (ingest dedupes).
OVERLAP = timedelta(minutes=5)
# New comments on posts up to this old are polled; older posts are left to webhooks.
POST_LOOKBACK = timedelta(days=14)
COMMENTS_CURSOR = "comments_since"
MESSENGER_CURSOR = "messenger_since"
# Graph's rate-limit error codes: app (4), user (17), page (32), custom (613), and the
# Business Use Case page limits (80001 and neighbours).
RATE_LIMIT_CODES = {4, 17, 32, 613}
DEFAULT_RATE_LIMIT_SECONDS = 15 * 60
# Graph's error codes for a missing permission or a request it refuses (here: an answer
# outside the Messenger window, code 10 subcode 2018278).
PERMISSION_CODES = {10, 200}
# "(#10900) Activity already replied to": a second private reply to the same comment.
ALREADY_REPLIED_PRIVATELY_CODE = 10900


class GraphSession(requests.Session):
    """Sends the SDK's requests to `api_base_url`, with a timeout, and keeps the response."""

    def __init__(self, api_base_url: str, timeout: float) -> None:
        super().__init__()
        self.api_base_url = api_base_url.rstrip("/")
        self.default_timeout = timeout
        self.last_response: requests.Response | None = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(GRAPH_HOST):
            url = self.api_base_url + url[len(GRAPH_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        self.last_response = response
        return response


def parse_graph_time(value: Any) -> datetime:
    """Graph's "2026-11-28T10:00:00+0000" as an aware datetime."""
    text = str(value)
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without zone: {value!r}")
    return moment


def _attachments(item: dict[str, Any]) -> tuple[Attachment, ...]:
    """A comment's `attachment` or a message's `attachments{data}`, as references."""
    raw = [item["attachment"]] if isinstance(item.get("attachment"), dict) else []
    raw += (item.get("attachments") or {}).get("data") or []
    attachments = []
    for attachment in raw:
        if not isinstance(attachment, dict):
            continue
        image = ((attachment.get("media") or {}).get("image") or {}).get("src") or (
            (attachment.get("image_data") or {}).get("url")
        )
        url = str(image or attachment.get("url") or (attachment.get("file_url") or ""))
        if not url:
            continue
        kind = str(attachment.get("type") or attachment.get("mime_type") or "image")
        attachments.append(
            Attachment(
                url=url,
                kind="video" if "video" in kind else "image" if image else "file",
                preview_url=str(image or ""),
                description=str(attachment.get("description") or ""),
            )
        )
    return tuple(attachments)


def _usage_retry_after(response: requests.Response | None) -> float | None:
    """Seconds until Graph lets us back in, from its usage headers (minutes in there)."""
    if response is None:
        return None
    minutes: list[float] = []
    for header in ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Page-Usage"):
        try:
            usage = json.loads(response.headers.get(header) or "{}")
        except ValueError:
            continue
        entries: list[Any] = [usage]
        if isinstance(usage, dict):
            for value in usage.values():
                if isinstance(value, list):
                    entries.extend(value)
        for entry in entries:
            if isinstance(entry, dict):
                value = entry.get("estimated_time_to_regain_access")
                if isinstance(value, int | float) and value > 0:
                    minutes.append(float(value))
    return max(minutes) * 60 if minutes else None


def _unreadable(kind: str, item: dict[str, Any], error: Exception) -> RejectedItem:
    return RejectedItem(
        reason=f"Unreadable {kind}: {error!r}", raw=item, external_id=readable_id(item)
    )


def _oldest_first(
    items: list[dict[str, Any]], kind: str
) -> tuple[list[tuple[datetime, dict[str, Any]]], list[RejectedItem]]:
    """Items with their time, oldest first, and those without a readable time.

    Graph pages run newest first and its times have whole seconds: reversed before the
    (stable) sort, items of the same second keep their order.
    """
    dated: list[tuple[datetime, dict[str, Any]]] = []
    rejected: list[RejectedItem] = []
    for item in items:
        try:
            dated.append((parse_graph_time(item["created_time"]), item))
        except (KeyError, TypeError, ValueError) as error:
            rejected.append(_unreadable(kind, item, error))
    return sorted(reversed(dated), key=lambda pair: pair[0]), rejected


class FacebookConnector:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        credentials = decrypt_credentials(channel.credentials_encrypted)
        missing = [key for key in CREDENTIAL_KEYS if not credentials.get(key)]
        if missing:
            raise AuthenticationFailed(
                f"Channel {channel.name} lacks Facebook credentials: {', '.join(missing)}. "
                f"Set them with `manage.py channels add` or in the admin."
            )
        self.session = GraphSession(channel.api_base_url, timeout=settings.WEBCARE_PLATFORM_TIMEOUT)
        self.graph = facebook.GraphAPI(
            access_token=credentials["access_token"],
            timeout=settings.WEBCARE_PLATFORM_TIMEOUT,
            session=self.session,
        )
        self.graph.version = GRAPH_VERSION
        # Graph checks this when the app requires it ("Require App Secret"); always sent.
        self.appsecret_proof = hmac.new(
            credentials["app_secret"].encode(), credentials["access_token"].encode(), hashlib.sha256
        ).hexdigest()
        self.learned_settings: dict[str, Any] = {}

    # --- reading -------------------------------------------------------------------------

    def fetch_new(self) -> FetchResult:
        started = timezone.now()
        cursor = dict(self.channel.cursor)
        history_start = started - timedelta(days=self.channel.history_days)
        comments = self._fetch_comments(self._since(COMMENTS_CURSOR, history_start), started)
        # Comments and Messenger are one poll: when one read fails the poll fails and neither
        # cursor moves; the next poll reads both again and ingest skips what it has.
        messenger = self._fetch_messenger(self._since(MESSENGER_CURSOR, history_start))
        # The moment the reads began, not the newest item seen: anything created during
        # the reads is read again next time (with the overlap), never skipped.
        cursor[COMMENTS_CURSOR] = int(started.timestamp())
        cursor[MESSENGER_CURSOR] = int(started.timestamp())
        return FetchResult(
            messages=comments.messages + messenger.messages,
            cursor=cursor,
            rejected=comments.rejected + messenger.rejected,
        )

    def _since(self, key: str, history_start: datetime) -> datetime:
        stored = self.channel.cursor.get(key)
        if stored is None:
            return history_start
        return datetime.fromtimestamp(int(stored), UTC) - OVERLAP

    def _fetch_comments(self, since: datetime, now: datetime) -> FetchResult:
        """Comments and replies to comments created since `since`, on the page's recent posts.

        Per post, `filter=stream` lists top-level comments and replies alike (with `parent`),
        newest first with `since`: one call per recent post per poll, and a new comment
        on a two-week-old post is still found. Cheaper than a per-post cursor of newest
        comment times, and it needs no state beyond one timestamp. Posts older than
        POST_LOOKBACK are not read; comments on them arrive through webhooks.
        """
        posts_since = min(since, now - POST_LOOKBACK)
        post_ids = [
            str(post["id"])
            for post in self._items(
                f"{self.channel.account_id}/posts",
                {"fields": "id,created_time", "since": int(posts_since.timestamp())},
            )
            if isinstance(post, dict) and post.get("id")
        ]
        items: list[dict[str, Any]] = []
        for post_id in post_ids:
            items.extend(
                self._items(
                    f"{post_id}/comments",
                    {
                        "filter": "stream",
                        "order": "reverse_chronological",
                        "since": int(since.timestamp()),
                        "fields": COMMENT_FIELDS,
                    },
                    stop_before=since,
                )
            )
        messages: list[PlatformMessage] = []
        # Oldest first, so that our own comment can name the citizen comment before it.
        dated, rejected = _oldest_first(items, "comment")
        last_citizen_comment: dict[str, str] = {}
        for _, item in dated:
            try:
                message = self._comment_to_platform_message(item, last_citizen_comment)
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(_unreadable("comment", item, error))
                continue
            messages.append(message)
            if not message.is_from_account:
                last_citizen_comment[message.thread_key] = message.external_id
        return FetchResult(messages=messages, cursor={}, rejected=rejected)

    def _comment_to_platform_message(
        self, item: dict[str, Any], last_citizen_comment: dict[str, str]
    ) -> PlatformMessage:
        comment_id = str(item["id"])
        author = item.get("from")
        if not isinstance(author, dict) or not author.get("id"):
            # Graph leaves out `from` without the pages_read_user_content permission.
            raise ValueError("comment without `from` (does the token lack a permission?)")
        parent = item.get("parent")
        parent_id = str(parent["id"]) if isinstance(parent, dict) and parent.get("id") else ""
        thread_key = f"{COMMENT_THREAD_PREFIX}{parent_id or comment_id}"
        is_from_account = str(author["id"]) == self.channel.account_id
        in_reply_to = parent_id
        if is_from_account:
            # Facebook nests one level, so our reply's parent is the top-level comment. The
            # citizen's latest comment before it in the thread stands in (as our queued
            # reply names the latest inbound message), so ingest can link the echo to it.
            in_reply_to = last_citizen_comment.get(thread_key, parent_id)
        return PlatformMessage(
            external_id=comment_id,
            # One conversation per top-level comment with its replies (webhooks use the same).
            thread_key=thread_key,
            author=PlatformAuthor(
                external_id=str(author["id"]), display_name=str(author.get("name") or "")
            ),
            text=str(item.get("message") or ""),
            sent_at=parse_graph_time(item["created_time"]),
            in_reply_to_external_id=in_reply_to,
            is_from_account=is_from_account,
            is_private=False,
            attachments=_attachments(item),
            raw=item,
        )

    def _fetch_messenger(self, since: datetime) -> FetchResult:
        """Messenger messages since `since`: conversations newest-updated first, read until
        one was last updated before `since`; within each, messages newest first likewise."""
        messages: list[PlatformMessage] = []
        rejected: list[RejectedItem] = []
        conversations = self._items(
            f"{self.channel.account_id}/conversations",
            {
                "platform": "messenger",
                "fields": (
                    f"participants,updated_time,"
                    f"messages.limit({INLINE_MESSAGES}){{{MESSAGE_FIELDS}}}"
                ),
            },
        )
        for conversation in conversations:
            try:
                updated = parse_graph_time(conversation["updated_time"])
                psid = next(
                    str(participant["id"])
                    for participant in conversation["participants"]["data"]
                    if str(participant.get("id")) != self.channel.account_id
                )
            except (KeyError, TypeError, ValueError, StopIteration) as error:
                rejected.append(_unreadable("conversation", conversation, error))
                continue
            if updated < since:
                break
            read = self._conversation_messages(conversation, since)
            converted = self._messenger_messages(psid, read, since)
            messages.extend(converted.messages)
            rejected.extend(converted.rejected)
        return FetchResult(messages=messages, cursor={}, rejected=rejected)

    def _conversation_messages(
        self, conversation: dict[str, Any], since: datetime
    ) -> list[dict[str, Any]]:
        """The inline messages, and older pages while they are still newer than `since`."""
        inline = conversation.get("messages") or {}
        read = [item for item in inline.get("data") or [] if isinstance(item, dict)]
        next_url = (inline.get("paging") or {}).get("next")
        pages = 0
        while next_url and pages < MAX_PAGES and not _reaches(read, since):
            page = self._request_url(next_url)
            read.extend(item for item in page.get("data") or [] if isinstance(item, dict))
            next_url = (page.get("paging") or {}).get("next")
            pages += 1
        return read

    def _messenger_messages(
        self, psid: str, items: list[dict[str, Any]], since: datetime
    ) -> FetchResult:
        messages: list[PlatformMessage] = []
        dated, rejected = _oldest_first(items, "message")
        thread_key = f"{MESSENGER_THREAD_PREFIX}{psid}"
        last_citizen_message = ""
        for sent_at, item in dated:
            try:
                sender = item["from"]
                sender_id = str(sender["id"])
                is_from_account = sender_id == self.channel.account_id
                message = PlatformMessage(
                    external_id=str(item["id"]),
                    thread_key=thread_key,
                    author=PlatformAuthor(
                        external_id=sender_id, display_name=str(sender.get("name") or "")
                    ),
                    text=str(item.get("message") or ""),
                    sent_at=sent_at,
                    # Messenger names no message it answers; for our own, the citizen's
                    # latest message before it stands in (see the comment echoes).
                    in_reply_to_external_id=last_citizen_message if is_from_account else "",
                    is_from_account=is_from_account,
                    is_private=True,
                    attachments=_attachments(item),
                    raw=item,
                )
            except (KeyError, TypeError, ValueError) as error:
                rejected.append(_unreadable("message", item, error))
                continue
            if not is_from_account:
                last_citizen_message = message.external_id
            # Older messages were read only to know what our echoes answer.
            if sent_at >= since:
                messages.append(message)
        return FetchResult(messages=messages, cursor={}, rejected=rejected)

    # --- writing -------------------------------------------------------------------------

    def send_reply(self, *, text: str, target: ReplyTarget) -> SentReply:
        if target.private:
            return self._send_message(text=text, target=target)
        response = self._call(
            f"{self._top_level_comment(target)}/comments", post_args={"message": text}
        )
        if not isinstance(response, dict) or not response.get("id"):
            raise DeliveryUnknown(
                f"Facebook answered the comment with data we do not understand: {response!r:.200}"
            )
        return SentReply(external_id=str(response["id"]), raw=response)

    def _top_level_comment(self, target: ReplyTarget) -> str:
        """Facebook nests one level: every reply in a thread goes under its first comment."""
        if target.thread_key.startswith(COMMENT_THREAD_PREFIX):
            return target.thread_key.removeprefix(COMMENT_THREAD_PREFIX)
        return target.in_reply_to_external_id

    def _send_message(self, *, text: str, target: ReplyTarget) -> SentReply:
        recipient: dict[str, str]
        if target.thread_key.startswith(MESSENGER_THREAD_PREFIX):
            recipient = {"id": target.thread_key.removeprefix(MESSENGER_THREAD_PREFIX)}
        else:
            # Facebook's "private reply" to a public comment: one, within 7 days of it.
            recipient = {"comment_id": target.in_reply_to_external_id}
        post_args = {
            "recipient": json.dumps(recipient),
            "message": json.dumps({"text": text}),
            "messaging_type": "RESPONSE",
        }
        if target.message_tag and "id" in recipient:
            # Tags belong to Messenger conversations; a private reply to a comment has its
            # own 7-day window and takes none.
            post_args.update(messaging_type="MESSAGE_TAG", tag=target.message_tag)
        response = self._call(f"{self.channel.account_id}/messages", post_args=post_args)
        if not isinstance(response, dict) or not response.get("message_id"):
            raise DeliveryUnknown(
                f"Facebook answered the message with data we do not understand: {response!r:.200}"
            )
        return SentReply(external_id=str(response["message_id"]), raw=response)

    def find_reply(
        self,
        *,
        text: str,
        target: ReplyTarget,
        not_before: datetime,
        skip_ids: Collection[str] = (),
    ) -> SentReply | None:
        wanted = comparable_text(text)
        oldest = not_before - CLOCK_SKEW
        if not target.private:
            items = self._items(
                f"{self._top_level_comment(target)}/comments",
                {
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "fields": "id,message,from{id},created_time",
                },
                stop_before=oldest,
            )
        else:
            psid = (
                target.thread_key.removeprefix(MESSENGER_THREAD_PREFIX)
                if target.thread_key.startswith(MESSENGER_THREAD_PREFIX)
                else target.recipient.external_id
            )
            conversations = list(
                self._items(
                    f"{self.channel.account_id}/conversations",
                    {
                        "platform": "messenger",
                        "user_id": psid,
                        "fields": f"messages.limit({INLINE_MESSAGES}){{{MESSAGE_FIELDS}}}",
                    },
                    max_pages=1,
                )
            )
            items = iter(
                [
                    message
                    for conversation in conversations
                    for message in self._conversation_messages(conversation, oldest)
                ]
            )
        for item in items:
            try:
                is_ours = str(item["from"]["id"]) == self.channel.account_id
                created = parse_graph_time(item["created_time"])
            except (KeyError, TypeError, ValueError):
                continue
            text_matches = comparable_text(str(item.get("message") or "")) == wanted
            if (
                is_ours
                and created >= oldest
                and text_matches
                and str(item.get("id")) not in skip_ids
            ):
                return SentReply(external_id=str(item["id"]), raw=item)
        return None

    def check(self) -> str:
        page = self._call(self.channel.account_id, args={"fields": "id,name"})
        if not isinstance(page, dict) or not page.get("id"):
            raise MalformedResponse("Facebook answered without the page's id.")
        if str(page["id"]) != self.channel.account_id:
            raise AuthenticationFailed(
                f"This token belongs to {page.get('name')} (id {page['id']}), "
                f"not to page id {self.channel.account_id}."
            )
        review = self._call(f"{self.channel.account_id}/messaging_feature_review")
        features = review.get("data") if isinstance(review, dict) else None
        self.learned_settings = {
            "human_agent_tag": any(
                isinstance(feature, dict)
                and feature.get("feature") == "human_agent"
                and feature.get("status") == "approved"
                for feature in features or []
            )
        }
        return f"{page.get('name')}, page id {page['id']}"

    # --- paging and errors -------------------------------------------------------------------

    def _items(
        self,
        path: str,
        args: dict[str, Any],
        *,
        stop_before: datetime | None = None,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Every item of an edge, following `paging.next`; with `stop_before`, pages (newest
        first) stop after the first one reaching an item created before it."""
        page = self._call(path, args={**args, "limit": PAGE_SIZE})
        for _number in range(max_pages):
            if not isinstance(page, dict) or not isinstance(page.get("data", []), list):
                raise MalformedResponse("Facebook answered with something other than a page.")
            data = [item for item in page.get("data") or [] if isinstance(item, dict)]
            yield from data
            next_url = (page.get("paging") or {}).get("next")
            if not next_url or (stop_before is not None and _reaches(data, stop_before)):
                return
            page = self._request_url(next_url)
        logger.warning(
            "paging stopped after %s pages", max_pages, extra={"channel": self.channel.name}
        )

    def _request_url(self, url: str) -> Any:
        """A `paging.next` URL: its path and query, through the SDK like any call."""
        split = urlsplit(url)
        args = {key: values[-1] for key, values in parse_qs(split.query).items()}
        args.pop("access_token", None)
        args.pop("appsecret_proof", None)
        path = split.path.lstrip("/")
        version, _, rest = path.partition("/")
        return self._call(rest if version.startswith("v") else path, args=args)

    def _call(
        self,
        path: str,
        *,
        args: dict[str, Any] | None = None,
        post_args: dict[str, Any] | None = None,
    ) -> Any:
        """One Graph request, with our errors for Graph's. For POSTs, anything that may have
        happened after Graph received the request is `DeliveryUnknown`: posting twice is
        worse than asking first."""
        is_write = post_args is not None
        if is_write:
            post_args = {**(post_args or {}), "appsecret_proof": self.appsecret_proof}
        else:
            args = {**(args or {}), "appsecret_proof": self.appsecret_proof}
        try:
            return self.graph.request(f"{GRAPH_VERSION}/{path}", args=args, post_args=post_args)
        except facebook.GraphAPIError as error:
            raise self._translate(error, is_write=is_write) from error
        except requests.ConnectTimeout as error:
            raise TransientError("Facebook could not be reached (connection timed out).") from error
        except requests.Timeout as error:
            message = f"Facebook did not answer within {settings.WEBCARE_PLATFORM_TIMEOUT} s."
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except requests.ConnectionError as error:
            message = f"Facebook could not be reached: {error}"
            if is_write:
                raise DeliveryUnknown(message) from error
            raise TransientError(message) from error
        except (ValueError, KeyError) as error:
            # Not JSON, or no content type: the SDK's own parsing failed.
            message = "Facebook answered with something that is not JSON."
            status = self.session.last_response.status_code if self.session.last_response else 0
            if is_write:
                raise DeliveryUnknown(message) from error
            if status >= 500:
                raise TransientError(f"Facebook had a server error (HTTP {status}).") from error
            raise MalformedResponse(message) from error

    def _translate(self, error: facebook.GraphAPIError, *, is_write: bool) -> Exception:
        response = self.session.last_response
        status = response.status_code if response is not None else 0
        code = error.code if isinstance(error.code, int) else None
        detail = str(error.message)
        if code in RATE_LIMIT_CODES or (code is not None and 80001 <= code <= 80099):
            retry_after = _usage_retry_after(response) or DEFAULT_RATE_LIMIT_SECONDS
            return RateLimited(
                f"Facebook rate limit reached ({detail}); trying again when it resets.",
                retry_after=retry_after,
            )
        if code == 190 or (error.type == "OAuthException" and code in (102, 2500)):
            return AuthenticationFailed(
                f"Facebook rejected the page token ({detail}). It may be revoked or expired."
            )
        if code == ALREADY_REPLIED_PRIVATELY_CODE:
            # Facebook allows one private reply per comment. Webcare sends one per reply row,
            # so this usually means an earlier attempt whose answer was lost did arrive but
            # find_reply could not see it (yet): say so rather than just "refused".
            return Rejected(
                f"Facebook refused: {detail}. This comment already has a private reply from "
                "the page; if an earlier attempt of this reply timed out, it probably arrived. "
                "Check the page's Messenger inbox before writing again."
            )
        if status >= 500 or code in (1, 2):
            message = f"Facebook had a server error ({detail})."
            return DeliveryUnknown(message) if is_write else TransientError(message)
        if response is None and not is_write:
            return MalformedResponse(f"Facebook answered in a way we do not understand: {detail}")
        return Rejected(f"Facebook refused: {detail}")


def _reaches(items: list[dict[str, Any]], moment: datetime) -> bool:
    """Whether any (newest-first) item was created before `moment`."""
    for item in items:
        try:
            if parse_graph_time(item["created_time"]) < moment:
                return True
        except (KeyError, TypeError, ValueError):
            continue
    return False
