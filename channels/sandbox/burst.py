"""A crisis burst: the sandbox publishes thousands of citizen tweets by itself, on time.

`POST /_sandbox/burst {"count": 50000, "seconds": 300, "channel": "x-mentions", "seed": 1}`
starts one (the benchmark's crisis section, bench/burst.py, and anyone trying the inbox
under a storm); `GET /_sandbox/burst` tells how many are out so far. Arrival times are
drawn up front (a Poisson process: `count` moments spread uniformly over `seconds`), the
tweets themselves are drafted and stored by a thread of their own when their moment comes,
in small batches, and stamped with that moment. Storing 50,000 tweets therefore never holds
the store's lock for long: the API answers polls all through the burst.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, Final

from channels.sandbox.generator import (
    CRISIS_RECENT_WINDOW,
    CrisisGenerator,
    PublishedTweet,
)
from channels.sandbox.store import TweetStore, format_timestamp

BURST_CHANNELS: Final = ("x-mentions",)
MAX_BURST_COUNT: Final = 200_000
MAX_BURST_SECONDS: Final = 3600.0
# The thread wakes at least this often, and stores what is due in one go.
_TICK_SECONDS: Final = 0.02
# At most this many tweets per hold of the store's lock, so that a late thread catching up
# does not keep API requests waiting.
_BATCH: Final = 200


class BurstError(ValueError):
    """A burst cannot start as asked (bad numbers, or one is running already)."""


class CrisisBurst:
    """One burst: its schedule, the thread publishing it, and what it published so far."""

    def __init__(
        self, store: TweetStore, *, count: int, seconds: float, seed: int, channel: str
    ) -> None:
        if channel not in BURST_CHANNELS:
            raise BurstError(f"'channel' must be one of {list(BURST_CHANNELS)}.")
        if not 1 <= count <= MAX_BURST_COUNT:
            raise BurstError(f"'count' must be a whole number from 1 to {MAX_BURST_COUNT}.")
        if not 0 < seconds <= MAX_BURST_SECONDS:
            raise BurstError(f"'seconds' must be more than 0 and at most {MAX_BURST_SECONDS:g}.")
        self.count = count
        self.seconds = seconds
        self.seed = seed
        self.channel = channel
        self._store = store
        self._generator = CrisisGenerator(seed, count)
        schedule = random.Random(f"{seed}:burst-schedule")  # noqa: S311 - not for security
        self._offsets = sorted(schedule.uniform(0, seconds) for _ in range(count))
        self._recent: deque[PublishedTweet] = deque(maxlen=CRISIS_RECENT_WINDOW)
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-burst", daemon=True)
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.last_published_at: datetime | None = None
        self.error = ""

    def start(self) -> CrisisBurst:
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def state(self, *, with_ids: bool = False) -> dict[str, Any]:
        with self._lock:
            published = len(self._ids)
            state: dict[str, Any] = {
                "channel": self.channel,
                "count": self.count,
                "seconds": self.seconds,
                "seed": self.seed,
                "published": published,
                "running": self.running,
                "started_at": _timestamp(self.started_at),
                "last_published_at": _timestamp(self.last_published_at),
                "finished_at": _timestamp(self.finished_at),
                "first_id": self._ids[0] if self._ids else None,
                "last_id": self._ids[-1] if self._ids else None,
                "error": self.error,
            }
            if with_ids:
                state["ids"] = list(self._ids)
        return state

    def _run(self) -> None:
        try:
            published = 0
            while published < self.count and not self._stopping.is_set():
                elapsed = time.monotonic() - self._started
                batch_end = min(self.count, published + _BATCH)
                due = bisect.bisect_right(self._offsets, elapsed, published, batch_end)
                if due > published:
                    self._publish(published, due)
                    published = due
                    continue
                wait = self._offsets[published] - elapsed
                self._stopping.wait(min(max(wait, 0.0), _TICK_SECONDS))
        except Exception as error:  # the state says so; a half burst must not look whole
            self.error = repr(error)
        finally:
            self.finished_at = datetime.now(UTC)

    def _publish(self, first: int, end: int) -> None:
        """Store tweets number first … end - 1, stamped with the moment they are stored.

        Each is drafted after the one before it is stored, so that it may answer it: the
        same seed gives the same threads, however the tweets fall into batches.
        """
        now = datetime.now(UTC)
        new_ids = []
        with self._store.transaction():
            for sequence_number in range(first, end):
                draft = self._generator.draft(sequence_number, self._recent)
                author = self._store.ensure_user(
                    draft.author.username, draft.author.name, draft.author.user_id
                )
                tweet = self._store.add_mention(
                    draft.text, author["id"], draft.in_reply_to_tweet_id, now
                )
                self._recent.append(PublishedTweet(tweet["id"], draft.author))
                new_ids.append(tweet["id"])
        with self._lock:
            self._ids.extend(new_ids)
            self.last_published_at = now


def _timestamp(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None
