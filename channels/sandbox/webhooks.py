"""Delivers the sandbox's Graph webhook events to Webcare the way Meta does: signed with the
app secret (`X-Hub-Signature-256`), retried with backoff on anything but a 2xx, from a
background thread so that the sandbox API never waits for Webcare. Stdlib only.

    deliverer = WebhookDeliverer(url, app_secret=..., verify_token=...)
    deliverer.verify()                      # Meta's subscription handshake, once
    server.on_facebook_event = deliverer    # every citizen comment and message
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDeliverer:
    """Callable with a payload; delivers it in order, in its own thread, until `close()`."""

    def __init__(
        self,
        url: str,
        *,
        app_secret: str,
        verify_token: str = "",
        timeout: float = 5.0,
        max_attempts: int = 6,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Payloads given up on after max_attempts, for tests and the log.
        self.failed: list[dict[str, Any]] = []
        self.delivered = 0

    def __call__(self, payload: dict[str, Any]) -> None:
        self.deliver(payload)

    def deliver(self, payload: dict[str, Any]) -> None:
        """Queue a payload; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(payload)

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until every queued payload is delivered or given up on (for tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self.timeout * 2)

    def verify(self) -> bool:
        """Meta's subscription handshake: Webcare must echo the challenge for our token."""
        challenge = secrets.token_hex(8)
        query = urllib.parse.urlencode(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": self.verify_token,
                "hub.challenge": challenge,
            }
        )
        separator = "&" if "?" in self.url else "?"
        try:
            with urllib.request.urlopen(  # noqa: S310 (the URL is the sandbox operator's)
                f"{self.url}{separator}{query}", timeout=self.timeout
            ) as response:
                return bool(response.read().decode() == challenge)
        except (urllib.error.URLError, OSError):
            return False

    def deliver_now(self, payload: dict[str, Any]) -> bool:
        """One delivery with Meta's retries; True once Webcare answered 2xx."""
        body = json.dumps(payload).encode()
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(
                    min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
                )
            if self._post(body):
                self.delivered += 1
                return True
        logger.warning("webhook given up after %d attempts", self.max_attempts)
        self.failed.append(payload)
        return False

    def _post(self, body: bytes) -> bool:
        request = urllib.request.Request(  # noqa: S310 (the URL is the sandbox operator's)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(self.app_secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return 200 <= response.status < 300
        except urllib.error.HTTPError as error:
            logger.info("webhook answered %s", error.code)
            return False
        except (urllib.error.URLError, OSError) as error:
            logger.info("webhook not delivered: %s", error)
            return False

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            try:
                if payload is None:
                    return
                self.deliver_now(payload)
            except Exception:
                logger.exception("webhook delivery crashed")
            finally:
                self._queue.task_done()
