"""Who else has a conversation open, and who is typing in it: presence kept in Redis
(docs/architecture.md, "Four-eyes approval and collision detection").

Per conversation two sorted sets, members user ids, scores the moment the entry expires:
`<cache prefix>:collision:<conversation>:viewing` (refreshed by the page's poll every 2 s, gone
VIEWING_SECONDS after the last one, when the tab was closed) and `…:typing` (refreshed by the
composer at most every 3 s, gone TYPING_SECONDS after the last keystroke). Expired members
are removed on each read; each key has a TTL too, so a conversation nobody opens any more
leaves nothing behind. One pipelined round trip per poll.

Presence is a convenience: when Redis is unreachable the functions return None, log it
(at most once a minute) and the page works without it.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

VIEWING_SECONDS = 30
TYPING_SECONDS = 6
# A poll must never hold up a page for long: Redis answers in a millisecond or not at all.
REDIS_TIMEOUT_SECONDS = 0.5
_LOG_INTERVAL_SECONDS = 60.0
_last_logged_failure = 0.0


@dataclass(frozen=True)
class Activity:
    """Colleagues (user ids) other than the caller with the conversation open, and typing."""

    viewing: tuple[int, ...]
    typing: tuple[int, ...]


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def _key(conversation_id: int, kind: str) -> str:
    # Under the cache's prefix, so two installations sharing one Redis database (or the load
    # test beside `make run`) do not see each other's colleagues.
    return f"{settings.CACHES['default']['KEY_PREFIX']}:collision:{conversation_id}:{kind}"


def _unavailable(error: redis.exceptions.RedisError) -> None:
    global _last_logged_failure
    now = time.monotonic()
    if now - _last_logged_failure >= _LOG_INTERVAL_SECONDS:
        _last_logged_failure = now
        logger.warning("Collision detection is unavailable (Redis): %s", error)


def _touch(pipe: redis.client.Pipeline, key: str, user_id: int, seconds: int, now: float) -> None:
    pipe.zadd(key, {str(user_id): now + seconds})
    pipe.expire(key, seconds)


def conversation_activity(
    *, conversation_id: int, user_id: int, viewing: bool = True, typing: bool = False
) -> Activity | None:
    """Record that `user_id` has the conversation open (and is typing, if so), and return who
    else has it open and is typing. None when Redis is unreachable."""
    now = time.time()
    viewing_key = _key(conversation_id, "viewing")
    typing_key = _key(conversation_id, "typing")
    try:
        pipe = _client(settings.REDIS_URL).pipeline(transaction=True)
        if viewing or typing:
            _touch(pipe, viewing_key, user_id, VIEWING_SECONDS, now)
        if typing:
            _touch(pipe, typing_key, user_id, TYPING_SECONDS, now)
        pipe.zremrangebyscore(viewing_key, "-inf", now)
        pipe.zremrangebyscore(typing_key, "-inf", now)
        pipe.zrange(viewing_key, 0, -1)
        pipe.zrange(typing_key, 0, -1)
        *_, viewers, typists = pipe.execute()
    except redis.exceptions.RedisError as error:
        _unavailable(error)
        return None
    me = str(user_id).encode()
    return Activity(
        viewing=tuple(sorted(int(member) for member in viewers if member != me)),
        typing=tuple(sorted(int(member) for member in typists if member != me)),
    )


def typing_stopped(*, conversation_id: int, user_id: int) -> None:
    """The user sent their reply: they are no longer typing (no need to wait for expiry)."""
    try:
        _client(settings.REDIS_URL).zrem(_key(conversation_id, "typing"), str(user_id))
    except redis.exceptions.RedisError as error:
        _unavailable(error)
