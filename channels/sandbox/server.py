"""A local stand-in for X (Twitter): a real HTTP server speaking the v2 API we use.

Our tweepy-based connector, its tests and a developer's "make run" all talk plain HTTP to
this server instead of to api.twitter.com. Next to the X endpoints it offers controls
under /_sandbox/ (inject faults, post a citizen message, generate traffic, inspect and
reset state) and a page at / that shows which replies "arrived on X".

Standard library only, on purpose: it must start anywhere the project's Python runs,
without Django, and without tweepy, so it cannot accidentally agree with our client's
bugs instead of with X.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from channels.sandbox.accounts import (
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_USERNAME,
    MASTODON_DOMAIN,
)
from channels.sandbox.burst import BurstError, CrisisBurst
from channels.sandbox.faults import (
    DEFAULT_CHAOS_PATH_PREFIXES,
    Chaos,
    Fault,
    FaultInjector,
    RateLimiter,
)
from channels.sandbox.generator import MessageGenerator
from channels.sandbox.graph_api import (
    FACEBOOK_PAGE_ID,
    FacebookStore,
    GraphApi,
    comment_webhook,
    message_webhook,
)
from channels.sandbox.graph_api import PATH_PATTERN as GRAPH_PATH_PATTERN
from channels.sandbox.mastodon_api import (
    PATH_PREFIXES as MASTODON_PATH_PREFIXES,
)
from channels.sandbox.mastodon_api import (
    MastodonApi,
    MastodonStore,
    parse_created_at,
    status_from_draft,
)
from channels.sandbox.page import (
    NO_REFRESH_PARAMETER,
    PHOTO_SUBJECTS,
    render_avatar,
    render_page,
    render_photo,
)
from channels.sandbox.store import (
    DmEvent,
    Tweet,
    TweetStore,
    UnknownTweetError,
    format_timestamp,
    mentions_account,
    parse_timestamp,
)
from channels.sandbox.xapi import (
    DM_MAX_TEXT_LENGTH,
    ApiResponse,
    XApi,
    endpoint_key,
    json_response,
    problem,
)
from channels.tweet_text import MAX_TWEET_LENGTH, weighted_length

MAX_BODY_BYTES: Final = 1_000_000
MAX_GENERATE_COUNT: Final = 500
HISTORY_MESSAGES: Final = 15
HISTORY_DAYS: Final = 3
HISTORY_DIRECT_MESSAGES: Final = 2
# Share of the background trickle that arrives as a direct message instead of a mention.
DIRECT_MESSAGE_SHARE: Final = 0.15
# Share of the background trickle that arrives on Mastodon instead of X.
MASTODON_SHARE: Final = 0.25
HISTORY_MASTODON_MENTIONS: Final = 5
HISTORY_FACEBOOK_ITEMS: Final = 4
# Share of the background trickle that arrives on Facebook (comments and Messenger).
FACEBOOK_SHARE: Final = 0.15
FACEBOOK_FIRST_POST: Final = (
    "Vanaf maandag wordt het GFT-afval weer elke week opgehaald. Vragen? Stel ze hieronder."
)
# Idle keep-alive connections are closed after this long so handler threads do not pile up.
IDLE_CONNECTION_SECONDS: Final = 30

_USERNAME = re.compile(r"^\w{1,15}$")
_AVATAR_ROUTE = re.compile(r"^/_sandbox/avatars/([0-9]+)\.svg$")
_PHOTO_ROUTE = re.compile(r"^/_sandbox/photos/([a-z_]+)\.svg$")
# Share of generated mentions about something one can photograph that carry a photo.
PHOTO_SHARE: Final = 0.4


# Graph takes the token in the query string; a request log is no place for it.
_SECRET_PARAMETER = re.compile(r"((?:access_token|appsecret_proof)=)[^&]*")


def redacted(target: str) -> str:
    """The request target with token-like query parameters blanked, for the request log."""
    return _SECRET_PARAMETER.sub(r"\1[redacted]", target)


class ControlRequestError(ValueError):
    """A malformed request to one of the /_sandbox/ controls."""


def _control_error(detail: str, status: int = 400) -> ApiResponse:
    return problem(status, "Invalid sandbox request", detail)


class SandboxServer:
    """The sandbox X platform, started and stopped from Python (tests, dev runner, CLI)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path | None = None,
        generate_every: float = 0.0,
        seed_history: bool = False,
        seed: int = 1,
        *,
        quiet: bool = True,
        credentials: Mapping[str, str] = DEMO_CREDENTIALS,
    ) -> None:
        self.host = host
        self.port = port
        self.generate_every = generate_every
        self.seed_history = seed_history
        self.seed = seed
        self.quiet = quiet
        self.credentials = dict(credentials)
        self._store = TweetStore(Path(state_path) if state_path is not None else None)
        self._api = XApi(self._store, self.credentials)
        self._faults = FaultInjector()
        self._mastodon_store = MastodonStore(self._store)
        self._mastodon = MastodonApi(self._mastodon_store, self._faults)
        self._facebook_store = FacebookStore(self._store)
        self._graph = GraphApi(self._facebook_store, self._faults)
        # Called with a Graph-webhook-shaped payload whenever a citizen comments or sends
        # a Messenger message (the webhook helper delivers it, signed, to Webcare).
        self.on_facebook_event: Callable[[dict[str, Any]], None] | None = None
        self._rate_limiter = RateLimiter()
        self._generator = MessageGenerator(seed)
        self._burst: CrisisBurst | None = None
        self._burst_lock = threading.Lock()
        self._httpd: _SandboxHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._log_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SandboxServer:
        """Load state, bind the socket and serve in a daemon thread.

        The socket is listening when this returns, so a test can call the URL right away.
        """
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already running")
        self._store.load()
        if self.seed_history and self._store.is_empty():
            self._seed_history()
        self._httpd = _SandboxHTTPServer((self.host, self.port), _RequestHandler, self)
        self.port = self._httpd.server_address[1]
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever,
                # shutdown() waits for the next poll; the default half second would make
                # every test that stops a sandbox half a second slower.
                kwargs={"poll_interval": 0.05},
                name="sandbox-x-http",
                daemon=True,
            )
        ]
        if self.generate_every > 0:
            self._threads.append(
                threading.Thread(target=self._generate_forever, name="sandbox-x-gen", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self.stop_burst()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._httpd = None
        self._threads = []

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        # 0.0.0.0 means "every interface"; a client has to pick one, the local one works.
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ Python API

    def add_mention(
        self,
        text: str,
        username: str,
        name: str | None = None,
        in_reply_to_tweet_id: str | None = None,
        created_at: str | datetime | None = None,
        author_id: str | None = None,
        lang: str = "nl",
        media: list[dict[str, Any]] | None = None,
    ) -> Tweet:
        """Let a citizen tweet at the account, as if from the X app; returns the tweet."""
        if not _USERNAME.match(username):
            raise ValueError("a username has 1 to 15 letters, digits or underscores")
        if isinstance(created_at, str):
            created_at = parse_timestamp(created_at)
        with self._store.transaction():
            author = self._store.ensure_user(username, name or username, author_id)
            return self._store.add_mention(
                text, author["id"], in_reply_to_tweet_id, created_at, lang=lang, media=media
            )

    def add_direct_message(
        self,
        text: str,
        username: str,
        name: str | None = None,
        created_at: str | datetime | None = None,
    ) -> DmEvent:
        """Let a citizen send the account a direct message; returns the DM event."""
        if not _USERNAME.match(username):
            raise ValueError("a username has 1 to 15 letters, digits or underscores")
        if not text.strip() or len(text) > DM_MAX_TEXT_LENGTH:
            raise ValueError(f"a direct message has 1 to {DM_MAX_TEXT_LENGTH} characters")
        if isinstance(created_at, str):
            created_at = parse_timestamp(created_at)
        with self._store.transaction():
            sender = self._store.ensure_user(username, name or username)
            return self._store.add_direct_message(text, sender["id"], created_at)

    def direct_messages(self) -> list[DmEvent]:
        """Every DM event, from citizens and from the account, oldest first."""
        return self._store.direct_messages()

    def direct_replies(self) -> list[DmEvent]:
        """The direct messages the account sent (our private replies), oldest first."""
        return self._store.direct_replies()

    def generate(self, count: int = 1) -> list[Tweet]:
        """Add ``count`` generated citizen messages now; returns them, oldest first."""
        return [self._generate_one() for _ in range(count)]

    def mentions(self) -> list[Tweet]:
        return self._store.mentions()

    def replies(self) -> list[Tweet]:
        return self._store.replies()

    def add_fault(
        self,
        path_prefix: str,
        status: int | None,
        count: int = 1,
        method: str | None = None,
        delay_seconds: float = 0.0,
        after_processing: bool = False,
        spoil: str | None = None,
    ) -> None:
        """Make the next ``count`` matching API requests fail, answer late, or answer with a
        spoilt body ("truncate", "duplicate_item", "strip_item", "reorder", "overlap")."""
        self._faults.add(
            Fault(
                path_prefix,
                status,
                count,
                method,
                float(delay_seconds),
                after_processing,
                spoil,
            )
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def start_chaos(
        self,
        seed: int,
        probabilities: Mapping[str, float],
        path_prefixes: tuple[str, ...] | list[str] = DEFAULT_CHAOS_PATH_PREFIXES,
        methods: tuple[str, ...] | list[str] | None = None,
        delay_seconds: float = 2.0,
    ) -> dict[str, Any]:
        """Inject faults at random from now on: each matching API request gets the kind
        whose probability band a seeded draw falls in, or none (faults.Chaos)."""
        self._faults.start_chaos(
            Chaos(
                seed=int(seed),
                probabilities={str(kind): float(p) for kind, p in probabilities.items()},
                path_prefixes=tuple(path_prefixes),
                methods=tuple(methods) if methods is not None else None,
                delay_seconds=float(delay_seconds),
            )
        )
        return self.chaos_state()

    def stop_chaos(self) -> dict[str, Any]:
        """No more random faults; what was injected stays counted."""
        self._faults.stop_chaos()
        return self.chaos_state()

    def chaos_state(self) -> dict[str, Any]:
        """Whether random chaos is on, its settings, and every fault injected so far (staged
        or random) counted by kind."""
        return self._faults.chaos_state()

    def reset(self) -> None:
        """Forget all tweets, DMs, Mastodon statuses, faults and rate-limit usage (ids keep
        increasing)."""
        self.stop_burst()
        self._store.reset()
        self._faults.reset()
        self._rate_limiter.reset()
        self._mastodon.rate_limiter.reset()
        self._graph.usage.reset()

    # ------------------------------------------------------------------ crisis burst

    def start_burst(
        self, count: int, seconds: float, seed: int = 1, channel: str = "x-mentions"
    ) -> dict[str, Any]:
        """Publish `count` crisis tweets over the next `seconds`, from a thread of their own
        (channels/sandbox/burst.py); returns the burst's state. One burst at a time."""
        with self._burst_lock:
            if self._burst is not None and self._burst.running:
                raise BurstError("A burst is running already; DELETE /_sandbox/burst stops it.")
            self._burst = CrisisBurst(
                self._store, count=count, seconds=seconds, seed=seed, channel=channel
            ).start()
            return self._burst.state()

    def burst_state(self, *, with_ids: bool = False) -> dict[str, Any] | None:
        """The last burst's progress (None before the first): published so far, first and
        last tweet id, when it started and stored its last tweet; `ids` on request."""
        burst = self._burst
        return burst.state(with_ids=with_ids) if burst is not None else None

    def stop_burst(self) -> dict[str, Any] | None:
        burst = self._burst
        if burst is None:
            return None
        burst.stop()
        return burst.state()

    def set_rate_limits(self, limits: Mapping[str, int]) -> dict[str, int]:
        """Allow other request counts per 15 minutes than X's published ones (a crisis
        test measuring Webcare, not X's contract); a reset restores X's."""
        self._rate_limiter.set_limits(limits)
        return self._rate_limiter.limits()

    # ------------------------------------------------------------------ Mastodon

    def add_mastodon_mention(
        self,
        text: str,
        username: str,
        display_name: str | None = None,
        *,
        domain: str | None = None,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        created_at: str | datetime | None = None,
        content: str | None = None,
        media: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Let a citizen mention the account on Mastodon (visibility "direct" for a private
        message); the text gets the mention in front if it lacks one. `content` replaces
        the HTML Mastodon would make of `text`, as a remote server may send anything.
        Returns the status as the API shows it."""
        if f"@{DEMO_USERNAME}" not in text:
            text = f"@{DEMO_USERNAME}@{MASTODON_DOMAIN} {text}"
        with self._store.transaction():
            author = self._mastodon_store.ensure_account(username, display_name, domain)
            status = self._mastodon_store.add_status(
                account_id=author["id"],
                text=text,
                visibility=visibility,
                in_reply_to_id=in_reply_to_id,
                created_at=parse_created_at(created_at),
                content=content,
                media=media or (),
            )
            return self._mastodon_store.render_status(status, self.url)

    def add_mastodon_own_status(self, text: str, in_reply_to_id: str | None = None) -> dict:
        """The account posts from the Mastodon app (outside Webcare), and, as a server that
        notifies self-mentions would, the status also arrives as a mention notification."""
        with self._store.transaction():
            status = self._mastodon_store.add_status(
                account_id=self._mastodon_store.own_account_id,
                text=text,
                in_reply_to_id=in_reply_to_id,
            )
            self._mastodon_store.notify_about(status["id"])
            return self._mastodon_store.render_status(status, self.url)

    def add_mastodon_raw_notification(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A notification served exactly as given (an unreadable item); gets a fresh id."""
        return self._mastodon_store.add_raw_notification(raw)

    def mastodon_statuses(self) -> list[dict[str, Any]]:
        """Every Mastodon status as the API shows it, oldest first."""
        return [
            self._mastodon_store.render_status(status, self.url)
            for status in self._mastodon_store.statuses()
        ]

    def mastodon_replies(self) -> list[dict[str, Any]]:
        """The statuses the account posted on Mastodon (our replies), oldest first."""
        own = self._mastodon_store.own_account_id
        return [status for status in self.mastodon_statuses() if status["account"]["id"] == own]

    # ------------------------------------------------------------------ Facebook

    def add_facebook_post(self, text: str, created_at: str | datetime | None = None) -> dict:
        """The page publishes a post (citizens comment under it)."""
        return self._facebook_store.add_post(text, parse_created_at(created_at))

    def add_facebook_comment(
        self,
        text: str,
        name: str,
        *,
        post_id: str | None = None,
        parent_id: str | None = None,
        created_at: str | datetime | None = None,
        attachment: dict[str, Any] | None = None,
        hide_from: bool = False,
    ) -> dict[str, Any]:
        """A citizen comments on a post of the page (the newest one unless `post_id`), or
        replies to a comment (`parent_id`). `hide_from` leaves out `from`, as Graph does
        without the right permission. Returns the comment as Graph shows it."""
        store = self._facebook_store
        with self._store.transaction():
            if parent_id is not None:
                parent = store.comment(parent_id)
                if parent is None or "_raw" in parent:
                    raise ValueError(f"no comment {parent_id}")
                if parent.get("parent_id"):
                    parent = store.comment(parent["parent_id"]) or parent
                parent_id, post_id = parent["id"], parent["post_id"]
            post = store.post(post_id) if post_id else store.latest_post()
            if post is None:
                raise ValueError(f"no post {post_id}")
            comment = store.add_comment(
                post_id=post["id"],
                message=text,
                author_id=store.user_id(name),
                author_name=name,
                parent_id=parent_id,
                created_at=parse_created_at(created_at),
                attachment=attachment,
                hide_from=hide_from,
            )
            rendered = store.render_comment(comment)
        if self.on_facebook_event is not None:
            self.on_facebook_event(comment_webhook(comment, post["id"]))
        return rendered

    def add_facebook_raw_comment(self, raw: dict[str, Any]) -> None:
        """A comment served exactly as given under the newest post (an unreadable item)."""
        with self._store.transaction():
            post = self._facebook_store.latest_post()
            self._facebook_store.add_raw_comment(post["id"], raw)

    def add_facebook_message(
        self,
        text: str,
        name: str,
        *,
        created_at: str | datetime | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A citizen sends the page a Messenger message; returns it as Graph shows it."""
        store = self._facebook_store
        with self._store.transaction():
            event = store.add_message(
                psid=store.user_id(name),
                text=text,
                from_page=False,
                created_at=parse_created_at(created_at),
                attachments=attachments,
            )
            rendered = store.render_message(event)
        if self.on_facebook_event is not None:
            self.on_facebook_event(message_webhook(event))
        return rendered

    def add_facebook_page_comment(self, text: str, parent_id: str) -> dict[str, Any]:
        """The page answers a comment from Facebook itself (outside Webcare)."""
        store = self._facebook_store
        with self._store.transaction():
            parent = store.comment(parent_id)
            if parent is None:
                raise ValueError(f"no comment {parent_id}")
            comment = store.add_comment(
                post_id=parent["post_id"],
                message=text,
                author_id=FACEBOOK_PAGE_ID,
                author_name="Gemeente Demodorp",
                parent_id=parent.get("parent_id") or parent["id"],
            )
            return store.render_comment(comment)

    def set_facebook_human_agent(self, approved: bool) -> None:
        """Whether the page may use Messenger's HUMAN_AGENT tag (App Review outcome)."""
        self._facebook_store.human_agent_approved = approved

    def facebook_comment_replies(self) -> list[dict[str, Any]]:
        """The page's own comments (our public replies), oldest first, as Graph shows them."""
        store = self._facebook_store
        return [
            store.render_comment(comment)
            for comment in store.comments()
            if comment.get("author_id") == FACEBOOK_PAGE_ID
        ]

    def facebook_message_replies(self) -> list[dict[str, Any]]:
        """The page's Messenger messages (our private replies), oldest first."""
        store = self._facebook_store
        return [
            {**store.render_message(event), "tag": event.get("tag", "")}
            for event in store.messages()
            if event["from_page"]
        ]

    def facebook_replies(self) -> list[dict[str, Any]]:
        """Every reply of the page on Facebook: comments, then Messenger messages."""
        return self.facebook_comment_replies() + self.facebook_message_replies()

    # ------------------------------------------------------------------ every platform

    def citizen_messages(self) -> list[dict[str, str]]:
        """Everything citizens published on every platform, as `{"platform", "kind", "id",
        "text"}` with the id a connector stores as the message's external id: the ground
        truth a test compares the inbox with."""
        own_mastodon = self._mastodon_store.own_account_id
        published = [
            {"platform": "x", "kind": "mention", "id": tweet["id"], "text": tweet["text"]}
            for tweet in self.mentions()
        ]
        published += [
            {"platform": "x", "kind": "dm", "id": event["id"], "text": event["text"]}
            for event in self.direct_messages()
            if event["sender_id"] != DEMO_ACCOUNT_ID
        ]
        published += [
            {
                "platform": "mastodon",
                "kind": status["visibility"],
                "id": status["id"],
                "text": status["text"],
            }
            for status in self._mastodon_store.statuses()
            if status["account_id"] != own_mastodon
        ]
        published += [
            {"platform": "facebook", "kind": "comment", "id": c["id"], "text": c["message"]}
            for c in self._facebook_store.comments()
            if "_raw" not in c and c.get("author_id") != FACEBOOK_PAGE_ID
        ]
        published += [
            {"platform": "facebook", "kind": "message", "id": m["id"], "text": m["text"]}
            for m in self._facebook_store.messages()
            if not m["from_page"]
        ]
        return published

    def received_replies(self) -> list[dict[str, str]]:
        """Every reply the municipality's accounts posted, on every platform, as
        `{"platform", "kind", "id", "text"}`, oldest first per kind."""
        received = [
            {"platform": "x", "kind": "tweet", "id": tweet["id"], "text": tweet["text"]}
            for tweet in self.replies()
        ]
        received += [
            {"platform": "x", "kind": "dm", "id": event["id"], "text": event["text"]}
            for event in self.direct_replies()
        ]
        received += [
            {
                "platform": "mastodon",
                "kind": status["visibility"],
                "id": status["id"],
                "text": status["content"],
            }
            for status in self.mastodon_replies()
        ]
        received += [
            {"platform": "facebook", "kind": "comment", "id": c["id"], "text": c["message"]}
            for c in self.facebook_comment_replies()
        ]
        received += [
            {"platform": "facebook", "kind": "message", "id": m["id"], "text": m["message"]}
            for m in self.facebook_message_replies()
        ]
        return received

    def _generate_facebook(self, created_at: datetime | None = None, private: bool = False) -> str:
        with self._store.transaction():
            sequence_number = self._store.count_generated()
            if private:
                draft = self._generator.draft_direct_message(sequence_number)
                return self.add_facebook_message(
                    draft.text, draft.author.name, created_at=created_at
                )["id"]
            draft = self._generator.draft(sequence_number, follow_up=False)
            if not self._facebook_store.posts():
                self.add_facebook_post(
                    FACEBOOK_FIRST_POST,
                    created_at=(created_at or datetime.now(UTC)) - timedelta(hours=1),
                )
            text = draft.text.replace(f"@{DEMO_USERNAME}", "").strip()
            return self.add_facebook_comment(text, draft.author.name, created_at=created_at)["id"]

    def _generate_mastodon_mention(
        self, created_at: datetime | None = None, direct: bool = False
    ) -> dict[str, Any]:
        with self._store.transaction():
            sequence_number = self._store.count_generated()
            draft = (
                self._generator.draft_direct_message(sequence_number)
                if direct
                else self._generator.draft(sequence_number, follow_up=False)
            )
            # Now and then a link, as people paste the page they could not make sense of.
            link = (
                "https://www.demodorp.nl/afval-en-grondstoffen"
                if sequence_number % 4 == 0 and not direct
                else None
            )
            status = status_from_draft(
                self._mastodon_store,
                text=draft.text,
                username=draft.author.username,
                display_name=draft.author.name,
                created_at=created_at,
                direct=direct,
                link=link,
            )
            return status

    # ------------------------------------------------------------------ generation

    def _generate_one(
        self, created_at: datetime | None = None, follow_up: bool | None = None
    ) -> Tweet:
        # One transaction: the draft is based on the timeline, and must not go stale
        # before it is stored (a reply posted in between could make it a wrong follow-up).
        with self._store.transaction():
            sequence_number = self._store.count_generated()
            mentions, replies = self._store.timelines_for_reading()
            draft = self._generator.draft(sequence_number, mentions, replies, follow_up=follow_up)
            author = self._store.ensure_user(draft.author.username, draft.author.name)
            return self._store.add_mention(
                draft.text,
                author["id"],
                draft.in_reply_to_tweet_id,
                created_at,
                media=self._photo_for(draft.topic, sequence_number),
            )

    def _photo_for(self, topic: str, sequence_number: int) -> list[dict[str, Any]] | None:
        """Some citizens add a photo of what they report, as they do on X."""
        rng = random.Random(f"{self.seed}:photo:{sequence_number}")  # noqa: S311 - not for security
        if topic not in PHOTO_SUBJECTS or rng.random() >= PHOTO_SHARE:
            return None
        label, _colour = PHOTO_SUBJECTS[topic]
        return [
            {
                "type": "photo",
                "url": f"{self.url}/_sandbox/photos/{topic}.svg",
                "alt_text": f"Foto: {label.lower()}",
            }
        ]

    def _generate_direct_message(self, created_at: datetime | None = None) -> DmEvent:
        with self._store.transaction():
            draft = self._generator.draft_direct_message(self._store.count_generated())
            sender = self._store.ensure_user(draft.author.username, draft.author.name)
            return self._store.add_direct_message(draft.text, sender["id"], created_at)

    def _seed_history(self) -> None:
        """A few days of plausible traffic, so a fresh inbox does not start empty."""
        rng = random.Random(f"{self.seed}:history")  # noqa: S311 - not for security
        now = datetime.now(UTC)
        older = [
            now - timedelta(hours=rng.uniform(1.5, HISTORY_DAYS * 24))
            for _ in range(HISTORY_MESSAGES)
        ]
        last_hour = [now - timedelta(minutes=rng.uniform(1, 55)) for _ in range(rng.randint(2, 3))]
        moments = sorted(older) + sorted(last_hour)
        # Ask for a follow-up at a few fixed points so every seeded history has threads;
        # elsewhere chance decides.
        forced_follow_ups = {5, 9, 13}
        for index, moment in enumerate(moments):
            self._generate_one(
                created_at=moment, follow_up=True if index in forced_follow_ups else None
            )
        for _ in range(HISTORY_DIRECT_MESSAGES):
            moment = now - timedelta(hours=rng.uniform(1, HISTORY_DAYS * 24))
            self._generate_direct_message(created_at=moment)
        for index in range(HISTORY_MASTODON_MENTIONS):
            moment = now - timedelta(hours=rng.uniform(1, HISTORY_DAYS * 24))
            self._generate_mastodon_mention(created_at=moment, direct=index == 0)
        facebook_moments = sorted(
            now - timedelta(hours=rng.uniform(1, 20)) for _ in range(HISTORY_FACEBOOK_ITEMS)
        )
        self.add_facebook_post(FACEBOOK_FIRST_POST, created_at=now - timedelta(hours=22))
        for index, moment in enumerate(facebook_moments):
            self._generate_facebook(created_at=moment, private=index % 3 == 0)

    def _generate_forever(self) -> None:
        rng = random.Random(f"{self.seed}:intervals")  # noqa: S311 - not for security
        while True:
            # Some jitter, so the trickle does not look machine-made in the inbox.
            interval = self.generate_every * rng.uniform(0.75, 1.25)
            if self._stopping.wait(interval):
                return
            try:
                chance = rng.random()
                if chance < MASTODON_SHARE:
                    status = self._generate_mastodon_mention(direct=chance < MASTODON_SHARE / 5)
                    self.log(f"generated Mastodon status {status['id']}")
                elif chance < MASTODON_SHARE + DIRECT_MESSAGE_SHARE:
                    event = self._generate_direct_message()
                    self.log(f"generated direct message {event['id']}")
                elif chance < MASTODON_SHARE + DIRECT_MESSAGE_SHARE + FACEBOOK_SHARE:
                    item_id = self._generate_facebook(private=chance > 0.5)
                    self.log(f"generated Facebook item {item_id}")
                else:
                    tweet = self._generate_one()
                    self.log(f"generated mention {tweet['id']}")
            except Exception as error:  # keep generating; one bad message must not stop it
                self.log(f"generator failed: {error!r}")

    # ------------------------------------------------------------------ requests

    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> ApiResponse:
        """Answer one HTTP request. May sleep when a fault asks for a delay.

        ``headers`` must have lower-case names (HTTP header names are case-insensitive).
        """
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        host_header = headers.get("host")
        base_url = f"http://{host_header}" if host_header else self.url
        if path.startswith("/2/"):
            return self._respond_api(method, path, query, headers, body, base_url)
        if path.startswith(MASTODON_PATH_PREFIXES):
            return self._mastodon.respond(method, path, query, headers, body, base_url)
        if GRAPH_PATH_PATTERN.match(path):
            return self._graph.respond(method, path, query, headers, body, base_url)
        if path.startswith("/_sandbox/"):
            try:
                return self._respond_control(method, path, body)
            except ControlRequestError as error:
                return _control_error(str(error))
        if path == "/" and method == "GET":
            return self._page(query)
        return problem(
            404,
            "Not Found Error",
            "The requested resource could not be found.",
            "https://api.twitter.com/2/problems/resource-not-found",
        )

    def _respond_api(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        def answer() -> ApiResponse:
            allowed, rate_headers = self._rate_limiter.consume(endpoint_key(method, path))
            if allowed:
                response = self._api.handle(
                    method, path, query, headers.get("authorization"), body, base_url
                )
            else:
                response = problem(429, "Too Many Requests", "Too Many Requests")
            response.headers = {**rate_headers, **response.headers}
            return response

        return self._faults.serve(
            method,
            path,
            answer=answer,
            fault_answer=lambda fault, _status: self._with_rate_limit_headers(
                method, path, fault.response()
            ),
        )

    def _with_rate_limit_headers(
        self, method: str, path: str, response: ApiResponse
    ) -> ApiResponse:
        _, rate_headers = self._rate_limiter.consume(endpoint_key(method, path))
        # A staged 429 brings its own (exhausted) headers; those win.
        response.headers = {**rate_headers, **response.headers}
        return response

    def _respond_control(self, method: str, path: str, body: bytes) -> ApiResponse:
        photo = _PHOTO_ROUTE.match(path)
        if photo and method == "GET":
            svg = render_photo(photo.group(1))
            if svg is None:
                return _control_error("No such photo.", status=404)
            return ApiResponse(200, svg.encode("utf-8"), "image/svg+xml; charset=utf-8")
        avatar = _AVATAR_ROUTE.match(path)
        if avatar and method == "GET":
            user = self._store.get_user(avatar.group(1))
            if user is None:
                account = self._mastodon_store.account(avatar.group(1))
                if account is not None:
                    user = {"id": account["id"], "name": account["display_name"]}
            if user is None:
                return _control_error("No such user.", status=404)
            return ApiResponse(
                200, render_avatar(user).encode("utf-8"), "image/svg+xml; charset=utf-8"
            )
        routes: dict[tuple[str, str], Callable[[], ApiResponse]] = {
            ("GET", "/_sandbox/state"): lambda: json_response(200, self._store.snapshot()),
            ("POST", "/_sandbox/reset"): self._control_reset,
            ("GET", "/_sandbox/faults"): lambda: json_response(
                200, {"faults": self._faults.active()}
            ),
            ("POST", "/_sandbox/faults"): lambda: self._control_add_fault(body),
            ("DELETE", "/_sandbox/faults"): self._control_clear_faults,
            ("GET", "/_sandbox/chaos"): lambda: json_response(200, self.chaos_state()),
            ("POST", "/_sandbox/chaos"): lambda: self._control_start_chaos(body),
            ("DELETE", "/_sandbox/chaos"): lambda: json_response(200, self.stop_chaos()),
            ("POST", "/_sandbox/mentions"): lambda: self._control_add_mention(body),
            ("POST", "/_sandbox/direct_messages"): lambda: self._control_add_direct_message(body),
            ("POST", "/_sandbox/generate"): lambda: self._control_generate(body),
            ("POST", "/_sandbox/burst"): lambda: self._control_start_burst(body),
            ("GET", "/_sandbox/burst"): lambda: json_response(200, {"burst": self.burst_state()}),
            ("GET", "/_sandbox/burst/ids"): lambda: json_response(
                200, {"burst": self.burst_state(with_ids=True)}
            ),
            ("DELETE", "/_sandbox/burst"): lambda: json_response(200, {"burst": self.stop_burst()}),
            ("GET", "/_sandbox/rate_limits"): lambda: json_response(
                200, {"limits": self._rate_limiter.limits()}
            ),
            ("POST", "/_sandbox/rate_limits"): lambda: self._control_set_rate_limits(body),
            ("POST", "/_sandbox/mastodon/mentions"): lambda: self._control_add_mastodon(body),
            ("GET", "/_sandbox/mastodon/statuses"): lambda: json_response(
                200, {"statuses": self.mastodon_statuses()}
            ),
            ("POST", "/_sandbox/facebook/comments"): lambda: self._control_add_facebook(body),
            ("POST", "/_sandbox/facebook/messages"): lambda: self._control_add_facebook(
                body, private=True
            ),
            ("GET", "/_sandbox/facebook/replies"): lambda: json_response(
                200, {"replies": self.facebook_replies()}
            ),
        }
        handler = routes.get((method, path))
        if handler is None:
            known = sorted({route_path for _, route_path in routes})
            return _control_error(f"Unknown control {method} {path}; try one of {known}.", 404)
        return handler()

    def _control_start_burst(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        count, seconds, seed = request.get("count"), request.get("seconds"), request.get("seed", 1)
        if not isinstance(count, int) or isinstance(count, bool):
            raise ControlRequestError("'count' must be a whole number.")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ControlRequestError("'seconds' must be a number.")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ControlRequestError("'seed' must be a whole number.")
        try:
            state = self.start_burst(
                count, float(seconds), seed, str(request.get("channel", "x-mentions"))
            )
        except BurstError as error:
            raise ControlRequestError(str(error)) from None
        return json_response(202, {"burst": state})

    def _control_set_rate_limits(self, body: bytes) -> ApiResponse:
        limits = _json_object(body).get("limits")
        if not isinstance(limits, dict) or not all(
            isinstance(value, int) and not isinstance(value, bool) and value > 0
            for value in limits.values()
        ):
            raise ControlRequestError(
                "'limits' must map endpoints such as \"GET /2/users/:id/mentions\" to a "
                "positive number of requests per 15 minutes."
            )
        return json_response(200, {"limits": self.set_rate_limits(limits)})

    def _control_reset(self) -> ApiResponse:
        self.reset()
        return json_response(200, {"reset": True})

    def _control_clear_faults(self) -> ApiResponse:
        self._faults.clear()
        return json_response(200, {"faults": []})

    def _control_add_fault(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        try:
            self.add_fault(
                path_prefix=str(request.get("path_prefix", "/2/")),
                status=_optional_int(request.get("status")),
                count=int(request.get("count", 1)),
                method=request.get("method"),
                delay_seconds=float(request.get("delay_seconds", 0.0)),
                after_processing=bool(request.get("after_processing", False)),
                spoil=_optional_str(request.get("spoil")),
            )
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, {"faults": self._faults.active()})

    def _control_start_chaos(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        probabilities = request.get("probabilities")
        if not isinstance(probabilities, dict) or not probabilities:
            raise ControlRequestError(
                "'probabilities' must be an object of fault kind to probability."
            )
        prefixes = request.get("path_prefixes", list(DEFAULT_CHAOS_PATH_PREFIXES))
        methods = request.get("methods")
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise ControlRequestError("'path_prefixes' must be a list of paths.")
        if methods is not None and (
            not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
        ):
            raise ControlRequestError("'methods' must be a list of HTTP methods or null.")
        try:
            state = self.start_chaos(
                seed=int(request.get("seed", 1)),
                probabilities=probabilities,
                path_prefixes=prefixes,
                methods=methods,
                delay_seconds=float(request.get("delay_seconds", 2.0)),
            )
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, state)

    def _control_add_mention(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        text = request.get("text")
        author = request.get("author")
        if not isinstance(text, str) or not text.strip():
            raise ControlRequestError("'text' must be a non-empty string.")
        if not isinstance(author, dict) or not isinstance(author.get("username"), str):
            raise ControlRequestError("'author' must be an object with at least a 'username'.")
        full_text = text if mentions_account(text) else f"@{DEMO_USERNAME} {text}"
        if weighted_length(full_text) > MAX_TWEET_LENGTH:
            raise ControlRequestError(
                f"Tweet text is too long: a citizen's tweet is at most {MAX_TWEET_LENGTH} "
                "characters, including the mention."
            )
        author_id = author.get("id")
        try:
            tweet = self.add_mention(
                text=text,
                username=author["username"],
                name=author.get("name"),
                in_reply_to_tweet_id=_optional_str(request.get("in_reply_to_tweet_id")),
                created_at=request.get("created_at"),
                author_id=str(author_id) if author_id is not None else None,
                lang=str(request.get("lang", "nl")),
                media=_media_items(request.get("media")),
            )
        except UnknownTweetError as error:
            raise ControlRequestError(f"Unknown in_reply_to_tweet_id {error.tweet_id}.") from None
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, tweet)

    def _control_add_direct_message(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        text = request.get("text")
        author = request.get("author")
        if not isinstance(text, str):
            raise ControlRequestError("'text' must be a non-empty string.")
        if not isinstance(author, dict) or not isinstance(author.get("username"), str):
            raise ControlRequestError("'author' must be an object with at least a 'username'.")
        try:
            event = self.add_direct_message(
                text=text,
                username=author["username"],
                name=author.get("name"),
                created_at=request.get("created_at"),
            )
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, event)

    def _control_add_mastodon(self, body: bytes) -> ApiResponse:
        request = _json_object(body)
        text = request.get("text")
        author = request.get("author")
        if not isinstance(text, str) or not text.strip():
            raise ControlRequestError("'text' must be a non-empty string.")
        if not isinstance(author, dict) or not isinstance(author.get("username"), str):
            raise ControlRequestError("'author' must be an object with at least a 'username'.")
        try:
            status = self.add_mastodon_mention(
                text,
                author["username"],
                _optional_str(author.get("display_name")),
                domain=_optional_str(author.get("domain")),
                visibility=str(request.get("visibility", "public")),
                in_reply_to_id=_optional_str(request.get("in_reply_to_id")),
                created_at=request.get("created_at"),
                content=_optional_str(request.get("content")),
                media=request.get("media_attachments"),
            )
        except LookupError as error:
            raise ControlRequestError(f"Unknown in_reply_to_id {error}.") from None
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, status)

    def _control_add_facebook(self, body: bytes, private: bool = False) -> ApiResponse:
        request = _json_object(body)
        text, name = request.get("text"), request.get("name")
        if not isinstance(text, str) or not text.strip():
            raise ControlRequestError("'text' is required.")
        if not isinstance(name, str) or not name.strip():
            raise ControlRequestError("'name' (the citizen's name on Facebook) is required.")
        try:
            if private:
                return json_response(
                    201,
                    self.add_facebook_message(
                        text, name, created_at=_optional_str(request.get("created_at"))
                    ),
                )
            comment = self.add_facebook_comment(
                text,
                name,
                post_id=_optional_str(request.get("post_id")),
                parent_id=_optional_str(request.get("parent_id")),
                created_at=_optional_str(request.get("created_at")),
            )
        except (TypeError, ValueError) as error:
            raise ControlRequestError(str(error)) from None
        return json_response(201, comment)

    def _control_generate(self, body: bytes) -> ApiResponse:
        request = _json_object(body) if body else {}
        count = request.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= MAX_GENERATE_COUNT:
            raise ControlRequestError(
                f"'count' must be a whole number from 1 to {MAX_GENERATE_COUNT}."
            )
        return json_response(201, {"mentions": self.generate(count)})

    def _page(self, query: Mapping[str, list[str]]) -> ApiResponse:
        snapshot = self._store.snapshot()
        users = {user["id"]: user for user in snapshot["users"]}
        tweets_by_id = {tweet["id"]: tweet for tweet in snapshot["mentions"] + snapshot["replies"]}
        auto_refresh = query.get(NO_REFRESH_PARAMETER, [""])[-1] != "uit"
        html = render_page(
            snapshot["mentions"],
            snapshot["replies"],
            users,
            tweets_by_id,
            auto_refresh,
            direct_messages=snapshot["direct_messages"],
            mastodon_replies=self._mastodon_page_rows(),
            facebook_replies=self._facebook_page_rows(),
        )
        return ApiResponse(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def _facebook_page_rows(self) -> list[dict[str, str]]:
        """The page's comments and Messenger messages, newest first, with what each answers."""
        store = self._facebook_store
        rows: list[tuple[float, dict[str, str]]] = []
        for comment in store.comments():
            if comment.get("author_id") != FACEBOOK_PAGE_ID:
                continue
            parent = store.comment(comment.get("parent_id") or "") or {}
            moment = datetime.fromtimestamp(comment["created_time"], UTC)
            row = {
                "created_at": format_timestamp(moment),
                "kind": "openbare reactie",
                "text": comment["message"],
                "to": str(parent.get("author_name", "")),
                "to_text": str(parent.get("message", "")),
            }
            rows.append((comment["created_time"], row))
        for event in store.messages():
            if not event["from_page"]:
                continue
            question = next(
                (
                    earlier
                    for earlier in reversed(store.messages())
                    if earlier["psid"] == event["psid"]
                    and not earlier["from_page"]
                    and earlier["created_time"] <= event["created_time"]
                ),
                None,
            )
            moment = datetime.fromtimestamp(event["created_time"], UTC)
            row = {
                "created_at": format_timestamp(moment),
                "kind": "Messenger (privé)" + (" met HUMAN_AGENT" if event.get("tag") else ""),
                "text": event["text"],
                "to": store.name(event["psid"]),
                "to_text": question["text"] if question else "",
            }
            rows.append((event["created_time"], row))
        return [row for _, row in sorted(rows, key=lambda pair: pair[0], reverse=True)]

    def _mastodon_page_rows(self) -> list[dict[str, str]]:
        """The account's Mastodon statuses, newest first, with the status each answers."""
        statuses = {status["id"]: status for status in self._mastodon_store.statuses()}
        own = self._mastodon_store.own_account_id
        rows = []
        for status in sorted(statuses.values(), key=lambda item: int(item["id"]), reverse=True):
            if status["account_id"] != own:
                continue
            parent = statuses.get(status["in_reply_to_id"] or "")
            parent_author = self._mastodon_store.account(parent["account_id"]) if parent else None
            rows.append(
                {
                    "created_at": status["created_at"],
                    "visibility": status["visibility"],
                    "text": status["text"],
                    "parent_acct": parent_author["acct"] if parent_author else "",
                    "parent_text": parent["text"] if parent else "",
                }
            )
        return rows

    def log(self, message: str) -> None:
        if self.quiet:
            return
        stamp = time.strftime("%H:%M:%S")  # local wall-clock time, for humans reading along
        with self._log_lock:
            print(f"{stamp} {message}", file=sys.stderr, flush=True)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ControlRequestError("The request body is not valid JSON.") from None
    if not isinstance(request, dict):
        raise ControlRequestError("The request body must be a JSON object.")
    return request


_MEDIA_TYPES: Final = frozenset({"photo", "video", "animated_gif"})


def _media_items(value: object) -> list[dict[str, Any]] | None:
    """Validate the optional "media" of a control request: [{type, url, alt_text?}]."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ControlRequestError("'media' must be a list of objects.")
    items = []
    for item in value:
        if not isinstance(item, dict) or item.get("type") not in _MEDIA_TYPES:
            raise ControlRequestError(f"Each media item needs a 'type' in {sorted(_MEDIA_TYPES)}.")
        if not isinstance(item.get("url"), str) or not item["url"]:
            raise ControlRequestError("Each media item needs a 'url'.")
        kept = {"type": item["type"], "url": item["url"]}
        if item["type"] != "photo":
            # X gives videos a preview image instead of a url field.
            kept["preview_image_url"] = kept.pop("url")
        if isinstance(item.get("alt_text"), str):
            kept["alt_text"] = item["alt_text"]
        items.append(kept)
    return items


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlRequestError("'status' must be a number such as 429, or null.")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


class _SandboxHTTPServer(ThreadingHTTPServer):
    # Handler threads must not keep the process alive, and a restarted sandbox must be
    # able to take its port back immediately.
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: SandboxServer,
    ) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, like the real API; requests.Session reuses connections.
    protocol_version = "HTTP/1.1"
    server_version = "SandboxX/1.0"
    timeout = IDLE_CONNECTION_SECONDS
    server: _SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(method, problem(413, "Payload Too Large", "The request body is too large."))
            return
        body = self.rfile.read(length) if length else b""
        try:
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = sandbox.respond(method, self.path, headers, body)
        except Exception as error:  # a sandbox bug must look like an X 500, not hang a test
            sandbox.log(f"internal error on {method} {self.path}: {error!r}")
            response = problem(500, "Internal Server Error", f"Sandbox error: {error}")
        self._send(method, response)

    def _send(self, method: str, response: ApiResponse) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. a test's deliberate timeout); nothing to answer.
            self.close_connection = True
        self.server.sandbox.log(f"{method} {redacted(self.path)} {response.status}")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Replaced by the one-line log in _send, which also covers injected faults.
        return

    def log_message(self, format: str, *args: Any) -> None:
        self.server.sandbox.log(format % args)
