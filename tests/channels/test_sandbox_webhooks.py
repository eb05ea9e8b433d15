"""The sandbox's webhook deliverer: signed like Meta, retried with backoff, never blocking."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.sandbox.webhooks import WebhookDeliverer

SECRET = "sandbox-facebook-app-secret"


class Receiver(ThreadingHTTPServer):
    """Answers POSTs with the next programmed status and records what it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses: list[int] = []
        self.received: list[tuple[bytes, str]] = []
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/facebook/demo/"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        time.sleep(self.server.delay)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((body, self.headers.get("X-Hub-Signature-256", "")))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        ok = query.get("hub.verify_token") == ["token"] and query.get("hub.mode") == ["subscribe"]
        body = query["hub.challenge"][0].encode() if ok else b""
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def deliverer_for(receiver: Receiver, sleeps: list[float], **options: object) -> WebhookDeliverer:
    return WebhookDeliverer(
        receiver.url,
        app_secret=SECRET,
        verify_token="token",
        sleep=sleeps.append,
        **options,  # type: ignore[arg-type]
    )


def test_it_signs_the_exact_bytes_it_sends(receiver):
    deliverer = deliverer_for(receiver, [])
    assert deliverer.deliver_now({"object": "page", "entry": []})
    body, header = receiver.received[0]
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_it_retries_non_2xx_with_growing_backoff_until_accepted(receiver):
    receiver.statuses = [500, 503, 403]
    sleeps: list[float] = []
    deliverer = deliverer_for(receiver, sleeps, backoff_seconds=1.0)
    assert deliverer.deliver_now({"object": "page", "entry": []})
    assert len(receiver.received) == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_it_gives_up_after_max_attempts_and_keeps_the_payload(receiver):
    receiver.statuses = [500] * 10
    deliverer = deliverer_for(receiver, [], max_attempts=3)
    assert not deliverer.deliver_now({"object": "page", "entry": [1]})
    assert len(receiver.received) == 3
    assert deliverer.failed == [{"object": "page", "entry": [1]}]


def test_an_unreachable_webcare_is_retried_too():
    sleeps: list[float] = []
    deliverer = WebhookDeliverer(
        "http://127.0.0.1:9/nowhere",
        app_secret=SECRET,
        max_attempts=2,
        timeout=1,
        sleep=sleeps.append,
    )
    assert not deliverer.deliver_now({"object": "page", "entry": []})
    assert len(sleeps) == 1


def test_delivery_happens_in_the_background_without_blocking_the_caller(receiver):
    receiver.delay = 0.3
    deliverer = deliverer_for(receiver, [])
    started = time.monotonic()
    deliverer({"object": "page", "entry": [1]})
    deliverer({"object": "page", "entry": [2]})
    assert time.monotonic() - started < 0.2
    assert deliverer.wait(timeout=5)
    deliverer.close()
    assert [body for body, _ in receiver.received] == [
        b'{"object": "page", "entry": [1]}',
        b'{"object": "page", "entry": [2]}',
    ]


def test_the_handshake_passes_only_with_the_right_token(receiver):
    assert deliverer_for(receiver, []).verify()
    wrong = WebhookDeliverer(receiver.url, app_secret=SECRET, verify_token="other")
    assert not wrong.verify()


def test_the_sandbox_command_takes_a_webhook_url_and_verify_token():
    from channels.sandbox.__main__ import parse_arguments

    arguments = parse_arguments(
        ["--facebook-webhook-url", "http://127.0.0.1:8000/x/", "--facebook-verify-token", "t"]
    )
    assert arguments.facebook_webhook_url == "http://127.0.0.1:8000/x/"
    assert arguments.facebook_verify_token == "t"
    assert parse_arguments([]).facebook_webhook_url == ""
