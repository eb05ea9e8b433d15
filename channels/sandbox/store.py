"""The sandbox's memory: citizen tweets, the account's own tweets, direct messages, users,
and ids.

Everything goes through one re-entrant lock, because the HTTP server answers requests on
many threads and the background generator writes from yet another one. After every change
the whole state is written to disk (when a path is configured), so a restarted sandbox
shows the same timeline our Django app already imported.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from channels.sandbox.accounts import DEMO_ACCOUNT_ID, DEMO_NAME, DEMO_USERNAME, stable_user_id

Tweet = dict[str, Any]
User = dict[str, Any]
# A direct message event as X's dm_events endpoint knows it (only MessageCreate here).
DmEvent = dict[str, Any]

# X's snowflake epoch (2010-11-04). Ids built from it look and sort like real tweet ids.
TWITTER_EPOCH_MS: Final = 1_288_834_974_657
_SEQUENCE_BITS: Final = 22

STATE_FORMAT: Final = "webcare-sandbox-x/1"

_ACCOUNT_MENTION = re.compile(rf"@{DEMO_USERNAME}\b", re.IGNORECASE)


class UnknownTweetError(LookupError):
    """A tweet id that the sandbox has never seen (or that was reset away)."""

    def __init__(self, tweet_id: str) -> None:
        super().__init__(tweet_id)
        self.tweet_id = tweet_id


class DuplicateContentError(ValueError):
    """The account already posted this exact text; X refuses to post it twice."""


class UnknownConversationError(LookupError):
    """A DM conversation the account is not part of, or a recipient X does not know."""


def one_to_one_conversation_id(user_id: str, other_user_id: str) -> str:
    """X's id of the one-to-one DM conversation of two users: smaller id, dash, larger id."""
    smaller, larger = sorted((user_id, other_user_id), key=int)
    return f"{smaller}-{larger}"


def format_timestamp(moment: datetime) -> str:
    """Format like X does: UTC, millisecond precision, trailing Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp that carries its own time zone.

    X rejects timestamps without a zone, and so do we: guessing a zone would make a
    start_time filter silently off by an hour or two.
    """
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; end it with Z")
    return moment.astimezone(UTC)


def plain_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): what `deepcopy` does for
    it, several times faster, because there are no cycles or objects to keep track of. A
    timeline page copies a hundred tweets and their authors on every poll."""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
    return value


def mentions_account(text: str) -> bool:
    return _ACCOUNT_MENTION.search(text) is not None


def _demo_user() -> User:
    return {
        "id": DEMO_ACCOUNT_ID,
        "name": DEMO_NAME,
        "username": DEMO_USERNAME,
        "created_at": "2022-10-03T08:00:00.000Z",
        "description": "Het officiële webcare-account van Gemeente Demodorp (sandbox).",
        "protected": False,
        "verified": True,
    }


class StateSection(Protocol):
    """Another platform's state kept in the same file (e.g. the sandbox Mastodon)."""

    def dump(self) -> Any: ...

    def restore(self, raw: Any) -> None: ...

    def clear(self) -> None: ...

    def is_empty(self) -> bool: ...


class TweetStore:
    """Thread-safe, optionally persisted state of the sandbox platform."""

    def __init__(self, state_path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._state_path = state_path
        self._last_id = 0
        self._sections: dict[str, StateSection] = {}
        self._clear()

    def register_section(self, name: str, section: StateSection) -> None:
        """Persist `section` under `name`, under this store's lock, ids and reset."""
        with self._lock:
            self._sections[name] = section

    def _clear(self) -> None:
        # _last_id deliberately survives a reset: a client that kept its since_id cursor
        # must never see new tweets with ids below it.
        self.generated_count = 0
        self._users: dict[str, User] = {DEMO_ACCOUNT_ID: _demo_user()}
        self._mentions: list[Tweet] = []
        self._replies: list[Tweet] = []
        # The tweets' ids as numbers, in the same (increasing) order as the lists above: a
        # timeline page is a bisect away, however many tweets a crisis burst has added.
        self._mention_ids: list[int] = []
        self._reply_ids: list[int] = []
        self._tweets_by_id: dict[str, Tweet] = {}
        # Both directions, oldest first: X lists the account's own DMs among its events too.
        self._direct_messages: list[DmEvent] = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock across several calls that must see one consistent state."""
        with self._lock:
            yield

    # ----------------------------------------------------------------- persistence

    def load(self) -> bool:
        """Load the state file if there is one. Returns whether anything was loaded."""
        if self._state_path is None or not self._state_path.exists():
            return False
        with self._lock:
            raw = json.loads(self._state_path.read_text(encoding="utf-8"))
            if raw.get("format") != STATE_FORMAT:
                # Refuse rather than silently wipe a file we do not understand.
                raise ValueError(f"{self._state_path} is not a sandbox state file")
            self._clear()
            self._last_id = max(self._last_id, int(raw["last_id"]))
            self.generated_count = int(raw.get("generated_count", 0))
            for user in raw["users"]:
                self._users[user["id"]] = user
            self._mentions = sorted(raw["mentions"], key=lambda tweet: int(tweet["id"]))
            self._replies = sorted(raw["replies"], key=lambda tweet: int(tweet["id"]))
            self._mention_ids = [int(tweet["id"]) for tweet in self._mentions]
            self._reply_ids = [int(tweet["id"]) for tweet in self._replies]
            for tweet in self._mentions + self._replies:
                self._tweets_by_id[tweet["id"]] = tweet
            # Absent in state files written before the sandbox knew direct messages.
            self._direct_messages = list(raw.get("direct_messages", []))
            for name, section in self._sections.items():
                section.restore(raw.get(name))
        return True

    def save(self) -> None:
        """Write the state file now (sections call this after each change)."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        if self._state_path is None:
            return
        payload = {
            "format": STATE_FORMAT,
            "last_id": str(self._last_id),
            "generated_count": self.generated_count,
            "users": list(self._users.values()),
            "mentions": self._mentions,
            "replies": self._replies,
            "direct_messages": self._direct_messages,
        }
        for name, section in self._sections.items():
            payload[name] = section.dump()
        directory = self._state_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        # Write next to the target and rename over it: a crash mid-write leaves the old
        # file intact instead of a half-written one that would refuse to load.
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=".sandbox-", suffix=".tmp", delete=False
        ) as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, self._state_path)

    # ----------------------------------------------------------------- ids & users

    def next_id(self) -> str:
        """A snowflake-like id, strictly greater than every id handed out before.

        The clock part makes ids look like X's; taking the maximum with last + 1 keeps
        them increasing within one millisecond and when the clock jumps backwards (or a
        state file from a faster clock is loaded), which since_id filtering relies on.
        """
        with self._lock:
            from_clock = (int(time.time() * 1000) - TWITTER_EPOCH_MS) << _SEQUENCE_BITS
            self._last_id = max(from_clock, self._last_id + 1)
            return str(self._last_id)

    def ensure_user(self, username: str, name: str, user_id: str | None = None) -> User:
        """Find or register a citizen; the same username always maps to the same id."""
        with self._lock:
            resolved_id = user_id or self._user_id_for_username(username)
            if resolved_id == DEMO_ACCOUNT_ID:
                raise ValueError("citizens cannot post as the municipality's own account")
            user = self._users.get(resolved_id)
            if user is None:
                user = {
                    "id": resolved_id,
                    "name": name,
                    "username": username,
                    "created_at": format_timestamp(datetime.now(UTC)),
                    "description": "",
                    "protected": False,
                    "verified": False,
                }
                self._users[resolved_id] = user
            else:
                # People rename themselves on X; keep the newest name and handle.
                user["name"], user["username"] = name, username
            return deepcopy(user)

    def _user_id_for_username(self, username: str) -> str:
        for user in self._users.values():
            if user["username"].lower() == username.lower():
                return str(user["id"])
        return stable_user_id(username)

    def get_user(self, user_id: str) -> User | None:
        with self._lock:
            user = self._users.get(user_id)
            return plain_copy(user) if user else None

    # ----------------------------------------------------------------- tweets

    def get_tweet(self, tweet_id: str) -> Tweet | None:
        with self._lock:
            tweet = self._tweets_by_id.get(tweet_id)
            return plain_copy(tweet) if tweet else None

    def _new_tweet(
        self, text: str, author_id: str, in_reply_to_tweet_id: str | None, created_at: datetime
    ) -> Tweet:
        tweet_id = self.next_id()
        tweet: Tweet = {
            "id": tweet_id,
            "text": text,
            "created_at": format_timestamp(created_at),
            "author_id": author_id,
            "conversation_id": tweet_id,
            "lang": "nl",
            "edit_history_tweet_ids": [tweet_id],
        }
        if in_reply_to_tweet_id is not None:
            parent = self._tweets_by_id.get(in_reply_to_tweet_id)
            if parent is None:
                raise UnknownTweetError(in_reply_to_tweet_id)
            # Like X: a reply joins the thread of its parent, however deep the thread is.
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        return tweet

    def add_mention(
        self,
        text: str,
        author_id: str,
        in_reply_to_tweet_id: str | None = None,
        created_at: datetime | None = None,
        lang: str = "nl",
        media: list[dict[str, Any]] | None = None,
    ) -> Tweet:
        """Store a citizen tweet; it always mentions the account, as a mention must.

        ``media`` items need ``type`` ("photo", "video", "animated_gif") and ``url``, and may
        have ``alt_text``; each gets a media key, as X's uploads do.
        """
        if not mentions_account(text):
            text = f"@{DEMO_USERNAME} {text}"
        with self._lock:
            if author_id not in self._users:
                raise ValueError(f"unknown author {author_id}; register with ensure_user")
            tweet = self._new_tweet(
                text, author_id, in_reply_to_tweet_id, created_at or datetime.now(UTC)
            )
            tweet["lang"] = lang
            if media:
                tweet["media"] = [
                    {**item, "media_key": f"3_{tweet['id']}{index}"}
                    for index, item in enumerate(media)
                ]
                tweet["attachments"] = {
                    "media_keys": [item["media_key"] for item in tweet["media"]]
                }
            self._mentions.append(tweet)
            self._mention_ids.append(int(tweet["id"]))
            self._tweets_by_id[tweet["id"]] = tweet
            self._save()
            return deepcopy(tweet)

    def post_as_account(self, text: str, in_reply_to_tweet_id: str | None) -> Tweet:
        """Store a tweet by the municipality, checked the way X checks a POST /2/tweets."""
        with self._lock:
            # X compares against the account's earlier tweets, not everyone's.
            if any(reply["text"] == text for reply in self._replies):
                raise DuplicateContentError(text)
            tweet = self._new_tweet(text, DEMO_ACCOUNT_ID, in_reply_to_tweet_id, datetime.now(UTC))
            self._replies.append(tweet)
            self._reply_ids.append(int(tweet["id"]))
            self._tweets_by_id[tweet["id"]] = tweet
            self._save()
            return deepcopy(tweet)

    # ----------------------------------------------------------------- direct messages

    def add_direct_message(
        self, text: str, sender_id: str, created_at: datetime | None = None
    ) -> DmEvent:
        """Store a citizen's direct message to the account (their one-to-one conversation)."""
        with self._lock:
            if sender_id not in self._users:
                raise ValueError(f"unknown sender {sender_id}; register with ensure_user")
            event = self._new_dm_event(
                text,
                sender_id,
                one_to_one_conversation_id(sender_id, DEMO_ACCOUNT_ID),
                created_at or datetime.now(UTC),
            )
            self._save()
            return deepcopy(event)

    def send_dm_as_account(
        self, text: str, *, participant_id: str | None = None, conversation_id: str | None = None
    ) -> DmEvent:
        """Store a direct message by the account, to a user or into an existing conversation."""
        with self._lock:
            if participant_id is not None:
                if participant_id == DEMO_ACCOUNT_ID or participant_id not in self._users:
                    raise UnknownConversationError(participant_id)
                conversation_id = one_to_one_conversation_id(participant_id, DEMO_ACCOUNT_ID)
            elif conversation_id is None or not any(
                event["dm_conversation_id"] == conversation_id for event in self._direct_messages
            ):
                # X only lets a user write into a conversation they take part in; the
                # sandbox's conversations are the ones that have messages.
                raise UnknownConversationError(str(conversation_id))
            event = self._new_dm_event(text, DEMO_ACCOUNT_ID, conversation_id, datetime.now(UTC))
            self._save()
            return deepcopy(event)

    def _new_dm_event(
        self, text: str, sender_id: str, conversation_id: str, created_at: datetime
    ) -> DmEvent:
        event: DmEvent = {
            "id": self.next_id(),
            "event_type": "MessageCreate",
            "text": text,
            "created_at": format_timestamp(created_at),
            "sender_id": sender_id,
            "dm_conversation_id": conversation_id,
        }
        self._direct_messages.append(event)
        return event

    def direct_messages(self) -> list[DmEvent]:
        """Every DM event, sent and received, oldest first."""
        with self._lock:
            return deepcopy(self._direct_messages)

    def direct_replies(self) -> list[DmEvent]:
        """The direct messages the account sent, oldest first."""
        with self._lock:
            return deepcopy(
                [event for event in self._direct_messages if event["sender_id"] == DEMO_ACCOUNT_ID]
            )

    # ----------------------------------------------------------------- timelines

    def mentions(self) -> list[Tweet]:
        """All citizen tweets, oldest first."""
        with self._lock:
            return deepcopy(self._mentions)

    def replies(self) -> list[Tweet]:
        """All tweets the account posted, oldest first."""
        with self._lock:
            return deepcopy(self._replies)

    def timeline_page(
        self,
        kind: str,
        *,
        since_id: int | None,
        below_id: int | None,
        limit: int,
        matches: Callable[[Tweet], bool],
    ) -> list[Tweet]:
        """Up to `limit` tweets of a timeline ("mentions" or "replies"), newest first, with
        ids in (since_id, below_id) that `matches` accepts; copies.

        Ids only grow, so the id window is two bisects and only the tweets inside it are
        looked at: a poll reading a page of a 50,000-tweet timeline copies 100 tweets, not
        50,000 (which took 8 s a page at 50,000: docs/performance.md, "Crisis burst").
        """
        with self._lock:
            tweets, ids = (
                (self._mentions, self._mention_ids)
                if kind == "mentions"
                else (self._replies, self._reply_ids)
            )
            low = 0 if since_id is None else bisect.bisect_right(ids, since_id)
            high = len(ids) if below_id is None else bisect.bisect_left(ids, below_id)
            page: list[Tweet] = []
            for index in range(high - 1, low - 1, -1):
                if matches(tweets[index]):
                    page.append(plain_copy(tweets[index]))
                    if len(page) >= limit:
                        break
            return page

    def timelines_for_reading(self) -> tuple[Sequence[Tweet], Sequence[Tweet]]:
        """Mentions and replies themselves, not copies, for a caller that holds
        `transaction()` and only reads them (the generator drafting a follow-up): copying
        every tweet of a crisis burst for each generated message stalled the sandbox."""
        return self._mentions, self._replies

    def users(self) -> list[User]:
        with self._lock:
            return deepcopy(list(self._users.values()))

    def snapshot(self) -> dict[str, list[Any]]:
        """Mentions, replies, direct messages and users as one consistent copy (oldest first)."""
        with self._lock:
            return {
                "mentions": deepcopy(self._mentions),
                "replies": deepcopy(self._replies),
                "direct_messages": deepcopy(self._direct_messages),
                "users": deepcopy(list(self._users.values())),
            }

    def is_empty(self) -> bool:
        with self._lock:
            return (
                not self._mentions
                and not self._replies
                and not self._direct_messages
                and all(section.is_empty() for section in self._sections.values())
            )

    def count_generated(self) -> int:
        """Advance and return the generator's sequence number (persisted with the state)."""
        with self._lock:
            self.generated_count += 1
            return self.generated_count

    def reset(self) -> None:
        with self._lock:
            self._clear()
            for section in self._sections.values():
                section.clear()
            self._save()
