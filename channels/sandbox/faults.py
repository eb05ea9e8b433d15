"""Misbehaviour on demand (injected faults) and X's rate-limit bookkeeping.

Our connector must survive rate limits, outages, slow answers and the nasty case where X
did post the reply but the response never arrived. Tests cannot wait for X to do that,
so they ask the sandbox to.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
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


# How a `spoil` fault spoils a successful answer, by name.
SPOILERS: Final[dict[str, Callable[[ApiResponse], ApiResponse]]] = {
    "truncate": _truncate,
    "duplicate_item": _duplicate_item,
    "strip_item": _strip_item,
}


class FaultInjector:
    """The queue of staged faults; the first matching one wins and is used up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

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
            response = SPOILERS[fault.spoil](response)
            response.headers["x-sandbox-fault"] = "injected"
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

    def consume(self, endpoint: str) -> tuple[bool, dict[str, str]]:
        """Count one request. Returns (allowed, headers to send with the response)."""
        limit = RATE_LIMITS.get(endpoint, DEFAULT_RATE_LIMIT)
        now = int(time.time())
        with self._lock:
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
