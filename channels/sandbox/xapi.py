"""The X API v2 endpoints the sandbox imitates, independent of the HTTP plumbing.

Request in (method, path, query, headers, body), ``ApiResponse`` out. Shapes, status codes
and error wording follow what X returns, because the point of the sandbox is that a
connector that works here also works against the real platform.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote

from channels.sandbox.accounts import DEMO_ACCOUNT_ID
from channels.sandbox.store import (
    DmEvent,
    DuplicateContentError,
    Tweet,
    TweetStore,
    UnknownConversationError,
    UnknownTweetError,
    User,
    parse_timestamp,
)
from channels.tweet_text import MAX_TWEET_LENGTH, weighted_length

PROBLEMS_URL: Final = "https://api.twitter.com/2/problems"

# Field and expansion names X accepts. Asking for one that is not listed is a 400 on X
# too, which catches typos such as "tweet.fields=createdat" before production does.
TWEET_FIELDS: Final = frozenset(
    {
        "article", "attachments", "author_id", "card_uri", "community_id",
        "context_annotations", "conversation_id", "created_at", "display_text_range",
        "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
        "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet",
        "organic_metrics", "possibly_sensitive", "promoted_metrics", "public_metrics",
        "referenced_tweets", "reply_settings", "scopes", "source", "text", "withheld",
    }
)  # fmt: skip
USER_FIELDS: Final = frozenset(
    {
        "affiliation", "confirmed_email", "connection_status", "created_at", "description",
        "entities", "id", "is_identity_verified", "location", "most_recent_tweet_id", "name",
        "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected",
        "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url",
        "username", "verified", "verified_followers_count", "verified_type", "withheld",
    }
)  # fmt: skip
EXPANSIONS: Final = frozenset(
    {
        "article.cover_media", "article.media_entities", "attachments.media_keys",
        "attachments.media_source_tweet", "attachments.poll_ids", "author_id",
        "edit_history_tweet_ids", "entities.mentions.username", "entities.note.mentions.username",
        "geo.place_id", "in_reply_to_user_id", "referenced_tweets.id",
        "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id",
    }
)  # fmt: skip
_FIELD_PARAMETERS: Final = frozenset({"media.fields", "place.fields", "poll.fields"})
MEDIA_FIELDS: Final = frozenset(
    {
        "alt_text", "duration_ms", "height", "media_key", "non_public_metrics",
        "organic_metrics", "preview_image_url", "promoted_metrics", "public_metrics", "type",
        "url", "variants", "width",
    }
)  # fmt: skip
TIMELINE_PARAMETERS: Final = frozenset(
    {
        "since_id", "until_id", "start_time", "end_time", "max_results", "pagination_token",
        "expansions", "tweet.fields", "user.fields",
    }
) | _FIELD_PARAMETERS  # fmt: skip
USER_LOOKUP_PARAMETERS: Final = frozenset({"expansions", "tweet.fields", "user.fields"})

DM_EVENT_FIELDS: Final = frozenset(
    {
        "attachments", "created_at", "dm_conversation_id", "event_type", "id",
        "participant_ids", "referenced_tweets", "sender_id", "text",
    }
)  # fmt: skip
DM_EXPANSIONS: Final = frozenset(
    {"attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id"}
)
DM_EVENT_TYPES: Final = frozenset({"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"})
DM_EVENTS_PARAMETERS: Final = frozenset(
    {
        "dm_event.fields", "event_types", "expansions", "max_results", "pagination_token",
        "user.fields", "tweet.fields", "media.fields",
    }
)  # fmt: skip
DM_MIN_PAGE_SIZE: Final = 1
DM_MAX_PAGE_SIZE: Final = 100
# X serves the DM events of the last 30 days, no older ones.
DM_RETENTION: Final = timedelta(days=30)
DM_MAX_TEXT_LENGTH: Final = 10_000

DEFAULT_PAGE_SIZE: Final = 10
MIN_PAGE_SIZE: Final = 5
MAX_PAGE_SIZE: Final = 100

_UNSUPPORTED_AUTHENTICATION_DETAIL: Final = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)
_NUMERIC_ID = re.compile(r"^[0-9]{1,19}$")
_MENTION_PATTERN = re.compile(r"(?<![\w@])@(\w{1,15})")
_OAUTH_PARAMETER = re.compile(r'(\w+)="([^"]*)"')
_PAGE_CURSOR_MARK: Final = "sbx1:"
_USER_TIMELINE_ROUTE = re.compile(r"^/2/users/([^/]+)/(mentions|tweets)$")
_DM_TO_PARTICIPANT_ROUTE = re.compile(r"^/2/dm_conversations/with/([^/]+)/messages$")
_DM_TO_CONVERSATION_ROUTE = re.compile(r"^/2/dm_conversations/([^/]+)/messages$")
_DM_CONVERSATION_ID = re.compile(r"^[0-9]{1,19}-[0-9]{1,19}$")
_DM_PAGE_CURSOR_MARK: Final = "sbxdm1:"


@dataclass
class ApiResponse:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def x_escaped(text: str) -> str:
    """Tweet text as X's API returns it: &, < and > HTML-escaped (quotes are not).

    The sandbox stores what the person typed and escapes on the way out, exactly where X
    does, so a connector that forgets to unescape shows "&amp;" in the inbox here too.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def json_response(status: int, payload: Any) -> ApiResponse:
    try:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (half an emoji) has no UTF-8 form; JSON carries it as a \ud83d
        # escape, as the platforms do.
        body = json.dumps(payload).encode("utf-8")
    return ApiResponse(status, body)


def problem(
    status: int,
    title: str,
    detail: str,
    problem_type: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
) -> ApiResponse:
    """An error in X's "problem" shape: title, detail, type, status (and errors if any)."""
    payload: dict[str, Any] = {"title": title, "detail": detail, "type": problem_type}
    payload["status"] = status
    if errors:
        payload["errors"] = errors
    return json_response(status, payload)


def unauthorized() -> ApiResponse:
    return problem(401, "Unauthorized", "Unauthorized")


def not_found(detail: str = "The requested resource could not be found.") -> ApiResponse:
    return problem(404, "Not Found Error", detail, f"{PROBLEMS_URL}/resource-not-found")


class InvalidRequestError(Exception):
    """A parameter X would reject; becomes a 400 "Invalid Request" problem."""

    def __init__(self, parameter: str, value: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value
        self.message = message

    def response(self) -> ApiResponse:
        return problem(
            400,
            "Invalid Request",
            self.message,
            f"{PROBLEMS_URL}/invalid-request",
            errors=[{"parameters": {self.parameter: [self.value]}, "message": self.message}],
        )


# ---------------------------------------------------------------------- authentication


@dataclass(frozen=True)
class Caller:
    """Who is calling: an app with a bearer token, or a user via OAuth 1.0a."""

    user_context: bool


def authenticate(authorization: str | None, credentials: Mapping[str, str]) -> Caller | None:
    """Check the Authorization header the way X does, minus the cryptography.

    The OAuth 1.0a signature is deliberately not verified. Our client signs the URL it
    believes it calls (https://api.twitter.com/...), while a test session rewrites it to
    this sandbox, so a correct signature would not verify here anyway; and a local sandbox
    protects nothing worth the crypto. Checking consumer key and access token still catches
    the real mistakes: wrong or missing credentials, or the wrong kind of token.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        if value.strip() == credentials["bearer_token"]:
            return Caller(user_context=False)
        return None
    if scheme.lower() == "oauth":
        parameters = {name: unquote(raw) for name, raw in _OAUTH_PARAMETER.findall(value)}
        if (
            parameters.get("oauth_consumer_key") == credentials["consumer_key"]
            and parameters.get("oauth_token") == credentials["access_token"]
        ):
            return Caller(user_context=True)
    return None


# ---------------------------------------------------------------------- parameters


def _single(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _reject_unknown_parameters(query: Mapping[str, list[str]], allowed: frozenset[str]) -> None:
    for name in query:
        if name not in allowed:
            raise InvalidRequestError(
                name,
                _single(query, name) or "",
                f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]",
            )


def _comma_list(
    query: Mapping[str, list[str]], name: str, allowed: frozenset[str]
) -> tuple[str, ...]:
    raw = _single(query, name)
    if not raw:
        return ()
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in items:
        if item not in allowed:
            raise InvalidRequestError(
                name,
                item,
                f"The `{name}` query parameter value [{item}] is not one of "
                f"[{','.join(sorted(allowed))}]",
            )
    return items


def _tweet_id(query: Mapping[str, list[str]], name: str) -> int | None:
    raw = _single(query, name)
    if raw is None:
        return None
    if not _NUMERIC_ID.match(raw):
        raise InvalidRequestError(
            name, raw, f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$"
        )
    return int(raw)


def _timestamp(query: Mapping[str, list[str]], name: str) -> datetime | None:
    raw = _single(query, name)
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise InvalidRequestError(
            name,
            raw,
            f"The `{name}` query parameter value [{raw}] is not a valid RFC 3339 timestamp "
            "such as 2026-11-28T17:38:39Z",
        ) from None


def _page_size(query: Mapping[str, list[str]], minimum: int, maximum: int, default: int) -> int:
    raw_max = _single(query, "max_results")
    if raw_max is None:
        return default
    if not raw_max.isdigit() or not minimum <= int(raw_max) <= maximum:
        raise InvalidRequestError(
            "max_results",
            raw_max,
            f"The `max_results` query parameter value [{raw_max}] is not between "
            f"{minimum} and {maximum}",
        )
    return int(raw_max)


def encode_page_token(last_returned_id: str) -> str:
    """An opaque-looking token meaning "continue below this tweet id"."""
    raw = base64.b32encode(f"{_PAGE_CURSOR_MARK}{last_returned_id}".encode()).decode()
    return raw.rstrip("=").lower()


def decode_page_token(token: str) -> int:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        decoded = base64.b32decode(padded).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    tweet_id = decoded.removeprefix(_PAGE_CURSOR_MARK)
    if not decoded.startswith(_PAGE_CURSOR_MARK) or not tweet_id.isdigit():
        raise InvalidRequestError(
            "pagination_token",
            token,
            f"The `pagination_token` query parameter value [{token}] is not valid",
        )
    return int(tweet_id)


def encode_dm_page_token(direction: str, boundary_event_id: str) -> str:
    """A token for the page of DM events "older" or "newer" than the boundary event."""
    raw = f"{_DM_PAGE_CURSOR_MARK}{direction}:{boundary_event_id}".encode()
    return base64.b32encode(raw).decode().rstrip("=").lower()


def decode_dm_page_token(token: str) -> tuple[str, int]:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        decoded = base64.b32decode(padded).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    direction, _, event_id = decoded.removeprefix(_DM_PAGE_CURSOR_MARK).partition(":")
    if (
        not decoded.startswith(_DM_PAGE_CURSOR_MARK)
        or direction not in ("older", "newer")
        or not event_id.isdigit()
    ):
        raise InvalidRequestError(
            "pagination_token",
            token,
            f"The `pagination_token` query parameter value [{token}] is not valid",
        )
    return direction, int(event_id)


@dataclass(frozen=True)
class Presentation:
    """What the caller asked to see of each tweet and user."""

    tweet_fields: tuple[str, ...]
    user_fields: tuple[str, ...]
    expansions: tuple[str, ...]
    media_fields: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> Presentation:
        return cls(
            tweet_fields=_comma_list(query, "tweet.fields", TWEET_FIELDS),
            user_fields=_comma_list(query, "user.fields", USER_FIELDS),
            expansions=_comma_list(query, "expansions", EXPANSIONS),
            media_fields=_comma_list(query, "media.fields", MEDIA_FIELDS),
        )


@dataclass(frozen=True)
class TimelineQuery:
    since_id: int | None
    until_id: int | None
    start_time: datetime | None
    end_time: datetime | None
    max_results: int
    below_id: int | None  # from the pagination token
    exclude_replies: bool

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> TimelineQuery:
        max_results = _page_size(query, MIN_PAGE_SIZE, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
        token = _single(query, "pagination_token")
        excluded = _comma_list(query, "exclude", frozenset({"replies", "retweets"}))
        return cls(
            since_id=_tweet_id(query, "since_id"),
            until_id=_tweet_id(query, "until_id"),
            start_time=_timestamp(query, "start_time"),
            end_time=_timestamp(query, "end_time"),
            max_results=max_results,
            below_id=decode_page_token(token) if token else None,
            exclude_replies="replies" in excluded,
        )

    def matches(self, tweet: Tweet) -> bool:
        tweet_id = int(tweet["id"])
        created_at = parse_timestamp(tweet["created_at"])
        # Ranges are half-open (start inclusive, end exclusive), so consecutive windows
        # a poller walks through never return a tweet twice.
        checks = (
            self.since_id is None or tweet_id > self.since_id,
            self.until_id is None or tweet_id < self.until_id,
            self.below_id is None or tweet_id < self.below_id,
            self.start_time is None or created_at >= self.start_time,
            self.end_time is None or created_at < self.end_time,
            not self.exclude_replies or "in_reply_to_user_id" not in tweet,
        )
        return all(checks)


# ---------------------------------------------------------------------- rendering


class Renderer:
    """Turns stored tweets and users into the JSON X would send for a given request."""

    def __init__(self, store: TweetStore, avatar_url: Callable[[str], str]) -> None:
        self._store = store
        self._avatar_url = avatar_url

    def user(self, user: User, fields: Iterable[str]) -> dict[str, Any]:
        rendered = {"id": user["id"], "name": user["name"], "username": user["username"]}
        for name in fields:
            if name == "profile_image_url":
                rendered[name] = self._avatar_url(user["id"])
            elif name in user:
                rendered[name] = user[name]
        return rendered

    def tweet(self, tweet: Tweet, fields: Iterable[str]) -> dict[str, Any]:
        # id, text and edit_history_tweet_ids are always present; everything else only
        # on request, exactly like X (so a connector that forgets a field notices here).
        rendered = {
            "id": tweet["id"],
            "text": x_escaped(tweet["text"]),
            "edit_history_tweet_ids": list(tweet["edit_history_tweet_ids"]),
        }
        for name in fields:
            if name == "entities":
                entities = self._entities(tweet["text"])
                if entities:
                    rendered["entities"] = entities
            elif name == "possibly_sensitive":
                rendered[name] = False
            elif name == "reply_settings":
                rendered[name] = "everyone"
            elif name in tweet:
                rendered[name] = tweet[name]
        return rendered

    def _entities(self, text: str) -> dict[str, Any]:
        mentions = []
        for match in _MENTION_PATTERN.finditer(text):
            mention: dict[str, Any] = {
                "start": match.start(),
                "end": match.end(),
                "username": match.group(1),
            }
            known = self._find_user_by_username(match.group(1))
            if known is not None:
                mention["id"] = known["id"]
            mentions.append(mention)
        return {"mentions": mentions} if mentions else {}

    def _find_user_by_username(self, username: str) -> User | None:
        return next(
            (user for user in self._store.users() if user["username"].lower() == username.lower()),
            None,
        )

    def tweets_payload(self, tweets: list[Tweet], shown: Presentation) -> dict[str, Any]:
        """``data`` plus ``includes`` for a list of tweets (no ``meta``)."""
        payload: dict[str, Any] = {
            "data": [self.tweet(tweet, shown.tweet_fields) for tweet in tweets]
        }
        includes = self._includes(tweets, shown)
        if includes:
            payload["includes"] = includes
        return payload

    def _includes(self, tweets: list[Tweet], shown: Presentation) -> dict[str, Any]:
        referenced: dict[str, Tweet] = {}
        if "referenced_tweets.id" in shown.expansions or (
            "referenced_tweets.id.author_id" in shown.expansions
        ):
            for tweet in tweets:
                for reference in tweet.get("referenced_tweets", []):
                    found = self._store.get_tweet(reference["id"])
                    if found is not None:
                        referenced.setdefault(found["id"], found)

        user_ids: dict[str, None] = {}  # an ordered set: each user listed once
        for tweet in tweets:
            if "author_id" in shown.expansions:
                user_ids[tweet["author_id"]] = None
            if "in_reply_to_user_id" in shown.expansions and "in_reply_to_user_id" in tweet:
                user_ids[tweet["in_reply_to_user_id"]] = None
            if "entities.mentions.username" in shown.expansions:
                for match in _MENTION_PATTERN.finditer(tweet["text"]):
                    user = self._find_user_by_username(match.group(1))
                    if user is not None:
                        user_ids[user["id"]] = None
        if "referenced_tweets.id.author_id" in shown.expansions:
            for tweet in referenced.values():
                user_ids[tweet["author_id"]] = None

        includes: dict[str, Any] = {}
        users = [self._store.get_user(user_id) for user_id in user_ids]
        if any(users):
            includes["users"] = [self.user(user, shown.user_fields) for user in users if user]
        if "referenced_tweets.id" in shown.expansions and referenced:
            includes["tweets"] = [
                self.tweet(tweet, shown.tweet_fields) for tweet in referenced.values()
            ]
        if "attachments.media_keys" in shown.expansions:
            media = [
                self.media(item, shown.media_fields)
                for tweet in tweets
                for item in tweet.get("media", [])
            ]
            if media:
                includes["media"] = media
        return includes

    @staticmethod
    def media(item: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        # Like X: media_key and type always, the rest only when asked for in media.fields.
        rendered = {"media_key": item["media_key"], "type": item["type"]}
        for name in fields:
            if name in item:
                rendered[name] = item[name]
        return rendered


# ---------------------------------------------------------------------- the API


class XApi:
    """Routes /2/... requests to handlers. Thread-safe because the store is."""

    def __init__(self, store: TweetStore, credentials: Mapping[str, str]) -> None:
        self._store = store
        self._credentials = dict(credentials)

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        authorization: str | None,
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        renderer = Renderer(
            self._store, lambda user_id: f"{base_url}/_sandbox/avatars/{user_id}.svg"
        )
        try:
            return self._route(method, path, query, authorization, body, renderer)
        except InvalidRequestError as error:
            return error.response()

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        authorization: str | None,
        body: bytes,
        renderer: Renderer,
    ) -> ApiResponse:
        timeline = _USER_TIMELINE_ROUTE.match(path)
        if method == "GET" and path == "/2/users/me":
            caller = authenticate(authorization, self._credentials)
            if caller is None:
                return unauthorized()
            # /2/users/me asks "who am I", which an app-only token cannot answer. X
            # refuses it, so do we: a connector calling it with the bearer token is a bug.
            if not caller.user_context:
                return _unsupported_authentication()
            return self._me(query, renderer)
        if method == "GET" and timeline:
            if authenticate(authorization, self._credentials) is None:
                return unauthorized()
            user_id, kind = timeline.groups()
            return self._timeline(user_id, kind, query, renderer)
        if method == "POST" and path == "/2/tweets":
            caller = authenticate(authorization, self._credentials)
            if caller is None:
                return unauthorized()
            if not caller.user_context:
                return _unsupported_authentication()
            return self._create_tweet(body)
        if path == "/2/dm_events" or path.startswith("/2/dm_conversations/"):
            # Direct messages are private to the account: X refuses app-only tokens.
            caller = authenticate(authorization, self._credentials)
            if caller is None:
                return unauthorized()
            if not caller.user_context:
                return _unsupported_authentication()
            return self._route_direct_messages(method, path, query, body, renderer)
        return not_found()

    def _route_direct_messages(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        body: bytes,
        renderer: Renderer,
    ) -> ApiResponse:
        if method == "GET" and path == "/2/dm_events":
            return self._dm_events(query, renderer)
        to_participant = _DM_TO_PARTICIPANT_ROUTE.match(path)
        if method == "POST" and to_participant:
            participant_id = to_participant.group(1)
            if not _NUMERIC_ID.match(participant_id):
                raise InvalidRequestError(
                    "participant_id",
                    participant_id,
                    f"The `participant_id` query parameter value [{participant_id}] is not valid",
                )
            return self._send_direct_message(body, participant_id=participant_id)
        to_conversation = _DM_TO_CONVERSATION_ROUTE.match(path)
        if method == "POST" and to_conversation:
            conversation_id = to_conversation.group(1)
            if not _DM_CONVERSATION_ID.match(conversation_id):
                raise InvalidRequestError(
                    "dm_conversation_id",
                    conversation_id,
                    f"The `dm_conversation_id` query parameter value [{conversation_id}] "
                    "is not valid",
                )
            return self._send_direct_message(body, conversation_id=conversation_id)
        return not_found()

    def _dm_events(self, query: Mapping[str, list[str]], renderer: Renderer) -> ApiResponse:
        _reject_unknown_parameters(query, DM_EVENTS_PARAMETERS)
        event_fields = _comma_list(query, "dm_event.fields", DM_EVENT_FIELDS)
        expansions = _comma_list(query, "expansions", DM_EXPANSIONS)
        user_fields = _comma_list(query, "user.fields", USER_FIELDS)
        event_types = _comma_list(query, "event_types", DM_EVENT_TYPES) or tuple(DM_EVENT_TYPES)
        max_results = _page_size(query, DM_MIN_PAGE_SIZE, DM_MAX_PAGE_SIZE, DM_MAX_PAGE_SIZE)
        token = _single(query, "pagination_token")

        oldest_kept = datetime.now(UTC) - DM_RETENTION
        newest_first = [
            event
            for event in sorted(
                self._store.direct_messages(), key=lambda event: int(event["id"]), reverse=True
            )
            if event["event_type"] in event_types
            and parse_timestamp(event["created_at"]) >= oldest_kept
        ]
        if token:
            direction, boundary = decode_dm_page_token(token)
            if direction == "older":
                candidates = [event for event in newest_first if int(event["id"]) < boundary]
                page = candidates[:max_results]
            else:
                candidates = [event for event in newest_first if int(event["id"]) > boundary]
                page = candidates[-max_results:]
        else:
            page = newest_first[:max_results]
        if not page:
            return json_response(200, {"meta": {"result_count": 0}})

        payload: dict[str, Any] = {"data": [self._dm_event(event, event_fields) for event in page]}
        user_ids: dict[str, None] = {}  # an ordered set: each user listed once
        for event in page:
            if "sender_id" in expansions:
                user_ids[event["sender_id"]] = None
            if "participant_ids" in expansions:
                user_ids.update(dict.fromkeys(event.get("participant_ids", [])))
        users = [self._store.get_user(user_id) for user_id in user_ids]
        if any(users):
            payload["includes"] = {
                "users": [renderer.user(user, user_fields) for user in users if user]
            }
        meta: dict[str, Any] = {"result_count": len(page)}
        if any(int(event["id"]) < int(page[-1]["id"]) for event in newest_first):
            meta["next_token"] = encode_dm_page_token("older", page[-1]["id"])
        if any(int(event["id"]) > int(page[0]["id"]) for event in newest_first):
            meta["previous_token"] = encode_dm_page_token("newer", page[0]["id"])
        payload["meta"] = meta
        return json_response(200, payload)

    @staticmethod
    def _dm_event(event: DmEvent, fields: Iterable[str]) -> dict[str, Any]:
        # id, event_type and (for messages) text by default; the rest only on request.
        rendered = {"id": event["id"], "event_type": event["event_type"], "text": event["text"]}
        for name in fields:
            if name in event:
                rendered[name] = event[name]
        return rendered

    def _send_direct_message(
        self, body: bytes, *, participant_id: str | None = None, conversation_id: str | None = None
    ) -> ApiResponse:
        try:
            request = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _invalid_body("The request body is not valid JSON.")
        if not isinstance(request, dict):
            return _invalid_body("The request body must be a JSON object.")
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            return _invalid_body(
                "A direct message needs text: the sandbox does not support media-only messages.",
                parameter="text",
            )
        text = unicodedata.normalize("NFC", text)
        if len(text) > DM_MAX_TEXT_LENGTH:
            return _invalid_body(
                f"Direct message text is too long: {len(text)} characters, and the limit is "
                f"{DM_MAX_TEXT_LENGTH}.",
                parameter="text",
            )
        try:
            event = self._store.send_dm_as_account(
                text, participant_id=participant_id, conversation_id=conversation_id
            )
        except UnknownConversationError:
            return problem(
                403,
                "Forbidden",
                "You cannot send messages to this user or conversation.",
                f"{PROBLEMS_URL}/dm-forbidden",
            )
        return json_response(
            201,
            {
                "data": {
                    "dm_conversation_id": event["dm_conversation_id"],
                    "dm_event_id": event["id"],
                }
            },
        )

    def _me(self, query: Mapping[str, list[str]], renderer: Renderer) -> ApiResponse:
        _reject_unknown_parameters(query, USER_LOOKUP_PARAMETERS)
        shown = Presentation.from_query(query)
        account = self._store.get_user(DEMO_ACCOUNT_ID)
        if account is None:  # unreachable: the store always knows its own account
            return not_found()
        return json_response(200, {"data": renderer.user(account, shown.user_fields)})

    def _timeline(
        self, user_id: str, kind: str, query: Mapping[str, list[str]], renderer: Renderer
    ) -> ApiResponse:
        if not _NUMERIC_ID.match(user_id):
            raise InvalidRequestError(
                "id", user_id, f"The `id` query parameter value [{user_id}] is not valid"
            )
        if user_id != DEMO_ACCOUNT_ID:
            # The sandbox hosts one account; citizens' timelines are not part of it.
            return not_found(f"Could not find user with id: [{user_id}].")
        allowed = TIMELINE_PARAMETERS | {"exclude"} if kind == "tweets" else TIMELINE_PARAMETERS
        _reject_unknown_parameters(query, allowed)
        timeline_query = TimelineQuery.from_query(query)
        shown = Presentation.from_query(query)

        upper_bounds = [
            bound for bound in (timeline_query.until_id, timeline_query.below_id) if bound
        ]
        # One more than the page holds tells whether there is a next page.
        matching = self._store.timeline_page(
            kind,
            since_id=timeline_query.since_id,
            below_id=min(upper_bounds) if upper_bounds else None,
            limit=timeline_query.max_results + 1,
            matches=timeline_query.matches,
        )
        page = matching[: timeline_query.max_results]
        if not page:
            return json_response(200, {"meta": {"result_count": 0}})

        payload = renderer.tweets_payload(page, shown)
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if len(matching) > len(page):
            meta["next_token"] = encode_page_token(page[-1]["id"])
        payload["meta"] = meta
        return json_response(200, payload)

    def _create_tweet(self, body: bytes) -> ApiResponse:
        try:
            request = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _invalid_body("The request body is not valid JSON.")
        if not isinstance(request, dict):
            return _invalid_body("The request body must be a JSON object.")

        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            return _invalid_body(
                "A tweet needs text: the sandbox does not support media-only tweets.",
                parameter="text",
            )
        # X stores the text NFC-normalised; doing the same keeps duplicate detection and
        # length counting consistent with it.
        text = unicodedata.normalize("NFC", text)
        length = weighted_length(text)
        if length > MAX_TWEET_LENGTH:
            return problem(
                403,
                "Forbidden",
                f"Tweet text is too long: it counts {length} characters the way X counts "
                f"them, and the limit is {MAX_TWEET_LENGTH}.",
            )

        reply = request.get("reply")
        in_reply_to: str | None = None
        if reply is not None:
            in_reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if not isinstance(in_reply_to, str) or not _NUMERIC_ID.match(in_reply_to):
                return _invalid_body(
                    "reply.in_reply_to_tweet_id must be a tweet id (a string of digits).",
                    parameter="reply.in_reply_to_tweet_id",
                )
        try:
            tweet = self._store.post_as_account(text, in_reply_to)
        except UnknownTweetError as error:
            return _invalid_body(
                f"The tweet you are replying to ({error.tweet_id}) does not exist or has "
                "been deleted.",
                parameter="reply.in_reply_to_tweet_id",
            )
        except DuplicateContentError:
            return problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        return json_response(
            201,
            {
                "data": {
                    "id": tweet["id"],
                    "text": x_escaped(tweet["text"]),
                    "edit_history_tweet_ids": tweet["edit_history_tweet_ids"],
                }
            },
        )


def _unsupported_authentication() -> ApiResponse:
    return problem(
        403,
        "Unsupported Authentication",
        _UNSUPPORTED_AUTHENTICATION_DETAIL,
        f"{PROBLEMS_URL}/unsupported-authentication",
    )


def _invalid_body(detail: str, parameter: str = "body") -> ApiResponse:
    return problem(
        400,
        "Invalid Request",
        detail,
        f"{PROBLEMS_URL}/invalid-request",
        errors=[{"parameters": {parameter: []}, "message": detail}],
    )


def endpoint_key(method: str, path: str) -> str:
    """The rate-limit bucket of a request: X limits per endpoint, not per URL."""
    timeline = _USER_TIMELINE_ROUTE.match(path)
    if timeline:
        return f"{method} /2/users/:id/{timeline.group(2)}"
    if _DM_TO_PARTICIPANT_ROUTE.match(path):
        return f"{method} /2/dm_conversations/with/:participant_id/messages"
    if _DM_TO_CONVERSATION_ROUTE.match(path):
        return f"{method} /2/dm_conversations/:dm_conversation_id/messages"
    return f"{method} {path}"
