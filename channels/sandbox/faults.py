"""Misbehaviour on demand (injected faults) and X's rate-limit bookkeeping.

Our connector must survive rate limits, outages, slow answers and the nasty case where X
did post the reply but the response never arrived. Tests cannot wait for X to do that,
so they ask the sandbox to.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any, Final

from channels.sandbox.xapi import ApiResponse, problem

# A rate-limited client is told to come back after this many seconds.
RATE_LIMIT_RETRY_SECONDS: Final = 15
RATE_LIMIT_WINDOW_SECONDS: Final = 15 * 60
MAX_FAULT_DELAY_SECONDS: Final = 120.0

# Requests per 15-minute window, per endpoint, in line with X's published limits for the
# endpoints we use. Enforced, so a connector that polls too eagerly finds out here.
RATE_LIMITS: Final = {
    "GET /2/users/me": 75,
    "GET /2/users/:id/mentions": 450,
    "GET /2/users/:id/tweets": 1500,
    "POST /2/tweets": 200,
    "GET /2/dm_events": 300,
    "POST /2/dm_conversations/with/:participant_id/messages": 200,
    "POST /2/dm_conversations/:dm_conversation_id/messages": 200,
}
DEFAULT_RATE_LIMIT: Final = 300


@dataclass
class Fault:
    """The next ``remaining`` requests matching method and path prefix misbehave.

    ``status`` None means "answer normally, only late" (with ``delay_seconds``), which is
    how a test provokes a client-side timeout. ``after_processing`` performs the real
    action first and only then misbehaves: the platform did it, the client never heard.
    ``spoil`` answers normally but spoils the answer's body (see `SPOILERS`).
    """

    path_prefix: str
    status: int | None
    remaining: int = 1
    method: str | None = None
    delay_seconds: float = 0.0
    after_processing: bool = False
    spoil: str | None = None

    def __post_init__(self) -> None:
        if not self.path_prefix.startswith("/"):
            raise ValueError("path_prefix must start with '/'")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599) or null")
        if self.spoil is not None and self.spoil not in SPOILERS:
            raise ValueError(f"spoil must be one of {sorted(SPOILERS)} or null")
        if self.spoil is not None and self.status is not None:
            raise ValueError("a spoiled answer is a 200: give spoil or status, not both")
        if self.status is None and self.delay_seconds <= 0 and self.spoil is None:
            raise ValueError("a fault needs a status, a delay_seconds or a spoil")
        if self.remaining < 1:
            raise ValueError("count must be at least 1")
        if not 0 <= self.delay_seconds <= MAX_FAULT_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be between 0 and {MAX_FAULT_DELAY_SECONDS}")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in (None, method)

    def response(self) -> ApiResponse:
        """The injected error, in X's problem shape, marked so logs show it was staged."""
        if self.status is None:
            raise ValueError("a delay-only fault has no error response")
        phrase = HTTPStatus(self.status).phrase
        response = problem(self.status, phrase, phrase)
        response.headers["x-sandbox-fault"] = "injected"
        if self.status == HTTPStatus.TOO_MANY_REQUESTS:
            response.headers.update(
                {
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(int(time.time()) + RATE_LIMIT_RETRY_SECONDS),
                }
            )
        return response

    def describe(self) -> dict[str, Any]:
        described = asdict(self)
        described["count"] = described.pop("remaining")
        return described

    @property
    def kind(self) -> str:
        """What kind of misbehaviour this is, as the injection counters name it."""
        if self.spoil is not None:
            return self.spoil
        if self.after_processing and self.status is not None:
            return "lost_answer"
        if self.status == HTTPStatus.TOO_MANY_REQUESTS:
            return "rate_limit"
        if self.status is not None and self.status >= 500:
            return "server_error"
        if self.status is not None:
            return f"status_{self.status}"
        return "slow"


def _items(payload: Any) -> list[Any] | None:
    """The list of items of a platform answer: X's and Graph's `data`, Mastodon's body."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return payload["data"]
    return None


def _with_items(response: ApiResponse, change: Callable[[list[Any]], None]) -> ApiResponse:
    payload = json.loads(response.body)
    items = _items(payload)
    if items:
        change(items)
        response.body = json.dumps(payload).encode("utf-8")
    return response


def _truncate(response: ApiResponse) -> ApiResponse:
    # A connection cut off mid-answer: JSON that ends half-way.
    response.body = response.body[: max(1, len(response.body) // 2)]
    return response


def _duplicate_item(response: ApiResponse) -> ApiResponse:
    # Platforms repeat items across (and within) pages when the timeline moves meanwhile.
    return _with_items(response, lambda items: items.append(items[0]))


def _strip_item(response: ApiResponse) -> ApiResponse:
    # One item comes back without the fields a connector needs (author, text, time …),
    # as when a platform withholds them; only its id is left.
    def strip(items: list[Any]) -> None:
        if isinstance(items[0], dict):
            items[0] = {"id": items[0].get("id")}

    return _with_items(response, strip)


def _reorder(response: ApiResponse) -> ApiResponse:
    # A page whose items come in another order than the documented newest first (a
    # platform merging shards): a connector must not take "the first item" as the newest.
    return _with_items(response, lambda items: items.reverse())


def _overlap(response: ApiResponse) -> ApiResponse:
    # Needs the previous page of the same endpoint: the injector applies it (_overlapped).
    return response


# How a `spoil` fault spoils a successful answer, by name. `overlap` (a page that starts
# before the previous page ended, repeating its last items) needs the previous page, which
# only the injector knows: it is applied there.
SPOILERS: Final[dict[str, Callable[[ApiResponse], ApiResponse]]] = {
    "truncate": _truncate,
    "duplicate_item": _duplicate_item,
    "strip_item": _strip_item,
    "reorder": _reorder,
    "overlap": _overlap,
}

# Spoilers that only change a list of items; on an answer without one they do nothing, so
# random chaos draws them only for GET requests.
LIST_SPOILERS: Final = frozenset({"duplicate_item", "strip_item", "reorder", "overlap"})

# How many of the previous page's last items an overlapping page repeats.
OVERLAP_ITEMS: Final = 2


def _overlapped(response: ApiResponse, previous: Mapping[str, Any] | list[Any]) -> ApiResponse:
    """The answer with the previous page's last items in front of its own, as when a
    timeline moved between two page requests. X's expansions (`includes`) come along, so
    the repeated items stay readable."""
    payload = json.loads(response.body)
    items = _items(payload)
    previous_items = _items(previous)
    if items is None or not previous_items:
        return response
    items[:0] = previous_items[-OVERLAP_ITEMS:]
    if isinstance(payload, dict) and isinstance(previous, Mapping):
        previous_includes = previous.get("includes")
        if isinstance(previous_includes, dict):
            includes = payload.setdefault("includes", {})
            for name, extra in previous_includes.items():
                if isinstance(extra, list) and isinstance(includes.get(name, []), list):
                    includes[name] = [*includes.get(name, []), *extra]
    response.body = json.dumps(payload).encode("utf-8")
    return response


# The kinds random chaos can inject, in the fixed order a draw walks them (so that one seed
# always means the same faults for the same sequence of requests).
CHAOS_KINDS: Final = (
    "rate_limit",
    "server_error",
    "slow",
    "lost_answer",
    "truncate",
    "duplicate_item",
    "strip_item",
    "reorder",
    "overlap",
)
# Every platform API the sandbox speaks: X (/2/), Mastodon (/api/), Graph (/v25.0/).
DEFAULT_CHAOS_PATH_PREFIXES: Final = ("/2/", "/api/", "/v")


@dataclass
class Chaos:
    """Random faults: each API request matching a path prefix (and method, when given)
    draws one number from a generator seeded with `seed`; it falls in the band of at most
    one kind (`probabilities`, summing to at most 1) or in none. The same seed and the same
    sequence of requests give the same faults."""

    seed: int
    probabilities: dict[str, float]
    path_prefixes: tuple[str, ...] = DEFAULT_CHAOS_PATH_PREFIXES
    methods: tuple[str, ...] | None = None
    delay_seconds: float = 2.0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.probabilities) - set(CHAOS_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {list(CHAOS_KINDS)}")
        if any(not 0 <= chance <= 1 for chance in self.probabilities.values()):
            raise ValueError("each probability must be between 0 and 1")
        if sum(self.probabilities.values()) > 1:
            raise ValueError("the probabilities must add up to at most 1")
        if not self.path_prefixes or any(not p.startswith("/") for p in self.path_prefixes):
            raise ValueError("path_prefixes must be paths starting with '/'")
        if not 0 < self.delay_seconds <= MAX_FAULT_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be above 0 and at most {MAX_FAULT_DELAY_SECONDS}")
        if self.methods is not None:
            self.methods = tuple(method.upper() for method in self.methods)
        self._random = random.Random(self.seed)  # noqa: S311 - faults, not secrets

    def draw(self, method: str, path: str) -> Fault | None:
        """The fault this request gets, if any. Not thread-safe: the injector locks."""
        if not path.startswith(self.path_prefixes):
            return None
        if self.methods is not None and method not in self.methods:
            return None
        roll = self._random.random()
        for kind in CHAOS_KINDS:
            chance = self.probabilities.get(kind, 0.0)
            if roll < chance:
                return self._fault(kind, method, path)
            roll -= chance
        return None

    def _fault(self, kind: str, method: str, path: str) -> Fault | None:
        if kind in LIST_SPOILERS and method != "GET":
            return None
        if kind == "rate_limit":
            return Fault(path, HTTPStatus.TOO_MANY_REQUESTS)
        if kind == "server_error":
            return Fault(path, HTTPStatus.SERVICE_UNAVAILABLE)
        if kind == "slow":
            return Fault(path, None, delay_seconds=self.delay_seconds)
        if kind == "lost_answer":
            return Fault(path, HTTPStatus.BAD_GATEWAY, after_processing=True)
        # A spoilt answer: the platform did its work, the body comes back wrong.
        return Fault(path, None, spoil=kind, after_processing=True)

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "probabilities": dict(self.probabilities),
            "path_prefixes": list(self.path_prefixes),
            "methods": list(self.methods) if self.methods is not None else None,
            "delay_seconds": self.delay_seconds,
        }


class FaultInjector:
    """The queue of staged faults; the first matching one wins and is used up. When none
    matches, random chaos (if switched on) may inject one. Counts every injected fault by
    kind, and keeps each endpoint's last page of items for `overlap`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._chaos: Chaos | None = None
        self._injected: Counter[str] = Counter()
        self._last_page: dict[str, Any] = {}

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget the staged faults (random chaos and the counters stay)."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget the staged faults, random chaos, the counters and the remembered pages."""
        with self._lock:
            self._faults.clear()
            self._chaos = None
            self._injected.clear()
            self._last_page.clear()

    def start_chaos(self, chaos: Chaos) -> None:
        with self._lock:
            self._chaos = chaos

    def stop_chaos(self) -> None:
        """No more random faults; the counters stay readable."""
        with self._lock:
            self._chaos = None

    def chaos_state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self._chaos is not None,
                **(self._chaos.describe() if self._chaos is not None else {}),
                "injected": dict(sorted(self._injected.items())),
                "staged": len(self._faults),
            }

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    self._injected[fault.kind] += 1
                    return fault
            drawn = self._chaos.draw(method, path) if self._chaos is not None else None
            if drawn is not None:
                self._injected[drawn.kind] += 1
            return drawn

    def _spoil(self, fault: Fault, path: str, response: ApiResponse) -> ApiResponse:
        if fault.spoil == "overlap":
            with self._lock:
                previous = self._last_page.get(path)
            return _overlapped(response, previous) if previous is not None else response
        return SPOILERS[str(fault.spoil)](response)

    def _remember_page(self, method: str, path: str, response: ApiResponse) -> None:
        """Keep the last good page of items per endpoint, for a later `overlap`."""
        if method != "GET" or response.status >= 400:
            return
        try:
            payload = json.loads(response.body)
        except ValueError:
            return
        if _items(payload):
            with self._lock:
                self._last_page[path] = payload

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def serve(
        self,
        method: str,
        path: str,
        *,
        answer: Callable[[], ApiResponse],
        fault_answer: Callable[[Fault, int], ApiResponse],
    ) -> ApiResponse:
        """Answer one platform request, misbehaving as the next matching fault says.

        A fault before processing answers instead of the platform (late, or with its
        error, in the platform's own error shape from `fault_answer`). A fault after
        processing lets `answer` act first (reply stored, state saved) and then loses,
        delays or spoils the answer: the platform did it, the client never heard.
        """
        fault = self.take(method, path)
        if fault is not None and not fault.after_processing:
            time.sleep(fault.delay_seconds)
            if fault.status is not None:
                return fault_answer(fault, fault.status)
        response = answer()
        if fault is not None and fault.spoil is not None and response.status < 400:
            response = self._spoil(fault, path, response)
            response.headers["x-sandbox-fault"] = "injected"
        elif fault is None:
            self._remember_page(method, path, response)
        if fault is not None and fault.after_processing:
            time.sleep(fault.delay_seconds)
            if fault.status is not None:
                return fault_answer(fault, fault.status)
        return response


class RateLimiter:
    """Fixed 15-minute windows per endpoint, reported in X's x-rate-limit-* headers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # endpoint -> (window reset as epoch seconds, requests used in this window)
        self._windows: dict[str, tuple[int, int]] = {}
        # Limits other than X's, set through the control API until the next reset.
        self._overrides: dict[str, int] = {}

    def set_limits(self, limits: Mapping[str, int]) -> None:
        with self._lock:
            self._overrides.update({str(key): int(value) for key, value in limits.items()})

    def limits(self) -> dict[str, int]:
        """The limit of each endpoint X publishes one for, with any override applied."""
        with self._lock:
            return {**RATE_LIMITS, **self._overrides}

    def consume(self, endpoint: str) -> tuple[bool, dict[str, str]]:
        """Count one request. Returns (allowed, headers to send with the response)."""
        now = int(time.time())
        with self._lock:
            limit = self._overrides.get(endpoint) or RATE_LIMITS.get(endpoint, DEFAULT_RATE_LIMIT)
            reset_at, used = self._windows.get(endpoint, (0, 0))
            if now >= reset_at:
                reset_at, used = now + RATE_LIMIT_WINDOW_SECONDS, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[endpoint] = (reset_at, used)
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(limit - used),
            "x-rate-limit-reset": str(reset_at),
        }
        return allowed, headers

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._overrides.clear()
