"""The Mastodon API endpoints the sandbox imitates, with their own state section.

The sandbox hosts one Mastodon instance (`MASTODON_DOMAIN`) on which the municipality has
an account; citizens write from other instances. Served: the instance information (v1 and
v2), verify_credentials, mention notifications with Mastodon's Link-header paging, posting
a status (form or JSON body, Idempotency-Key honoured), an account's statuses and one
status. Shapes, status codes and error wording follow Mastodon 4.3, and so do the rate
limit headers (`X-RateLimit-Reset` is an ISO timestamp). Standard library only: this must
not agree with Mastodon.py's bugs instead of with Mastodon.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from copy import deepcopy
from datetime import UTC, datetime
from html import escape
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from channels.mastodon_text import DEFAULT_MAX_CHARACTERS, MENTION_PATTERN, status_length
from channels.sandbox.accounts import (
    DEMO_NAME,
    DEMO_USERNAME,
    MASTODON_ACCOUNT_ID,
    MASTODON_CREDENTIALS,
    MASTODON_DOMAIN,
    stable_user_id,
)
from channels.sandbox.faults import RATE_LIMIT_RETRY_SECONDS, FaultInjector
from channels.sandbox.store import TweetStore, format_timestamp, parse_timestamp
from channels.sandbox.xapi import ApiResponse, json_response

PATH_PREFIXES: Final = ("/api/v1/", "/api/v2/")
STATE_SECTION: Final = "mastodon"
# Mastodon: 300 requests per 5 minutes per account, over all endpoints.
RATE_LIMIT: Final = 300
RATE_LIMIT_WINDOW_SECONDS: Final = 5 * 60
NOTIFICATIONS_DEFAULT_LIMIT: Final = 40
NOTIFICATIONS_MAX_LIMIT: Final = 80
STATUSES_DEFAULT_LIMIT: Final = 20
STATUSES_MAX_LIMIT: Final = 40
VISIBILITIES: Final = ("public", "unlisted", "private", "direct")
# Instances citizens write from; chosen per username so the same citizen keeps theirs.
CITIZEN_DOMAINS: Final = ("mastodon.nl", "mastodon.social", "todon.nl", "mastodon.online")

_ACCOUNT_STATUSES_ROUTE = re.compile(r"^/api/v1/accounts/([^/]+)/statuses/?$")
_STATUS_ROUTE = re.compile(r"^/api/v1/statuses/([^/]+)/?$")
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_USERNAME = re.compile(r"^[a-z0-9_]+([.-]+[a-z0-9_]+)*$", re.IGNORECASE)

Status = dict[str, Any]
Account = dict[str, Any]


def citizen_domain(username: str) -> str:
    return CITIZEN_DOMAINS[int(stable_user_id(username)) % len(CITIZEN_DOMAINS)]


def error(status: int, message: str) -> ApiResponse:
    """Mastodon's error shape: {"error": "..."}."""
    return json_response(status, {"error": message})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _link_text(url: str) -> str:
    """A link as Mastodon writes it: scheme hidden, long URLs shortened with an ellipsis."""
    scheme, _, rest = url.partition("://")
    shown, hidden = rest[:30], rest[30:]
    return (
        f'<a href="{escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{escape(scheme)}://</span>'
        f'<span class="{"ellipsis" if hidden else ""}">{escape(shown)}</span>'
        f'<span class="invisible">{escape(hidden)}</span></a>'
    )


def _mention_html(account: Account) -> str:
    return (
        f'<span class="h-card" translate="no"><a href="{escape(account["url"])}" '
        f'class="u-url mention">@<span>{escape(account["username"])}</span></a></span>'
    )


class MastodonStore:
    """Accounts, statuses, notifications and idempotency keys; persisted with the X state."""

    def __init__(self, store: TweetStore) -> None:
        self._store = store
        self._lock = threading.RLock()
        self.clear()
        store.register_section(STATE_SECTION, self)

    # ----------------------------------------------------------------- section protocol

    def clear(self) -> None:
        with self._lock:
            self._accounts: dict[str, Account] = {MASTODON_ACCOUNT_ID: self._own_account()}
            self._statuses: dict[str, Status] = {}
            # Newest last; a notification names its status, or is a raw (malformed) item.
            self._notifications: list[dict[str, Any]] = []
            self._idempotency: dict[str, str] = {}

    def dump(self) -> Any:
        with self._lock:
            return {
                "accounts": list(self._accounts.values()),
                "statuses": list(self._statuses.values()),
                "notifications": self._notifications,
                "idempotency": self._idempotency,
            }

    def restore(self, raw: Any) -> None:
        with self._lock:
            self.clear()
            if not isinstance(raw, dict):
                return
            for account in raw.get("accounts", []):
                self._accounts[account["id"]] = account
            for status in raw.get("statuses", []):
                self._statuses[status["id"]] = status
            self._notifications = list(raw.get("notifications", []))
            self._idempotency = dict(raw.get("idempotency", {}))

    def is_empty(self) -> bool:
        with self._lock:
            return not self._statuses and not self._notifications

    # ----------------------------------------------------------------- accounts

    own_account_id: Final = MASTODON_ACCOUNT_ID

    @staticmethod
    def _own_account() -> Account:
        return {
            "id": MASTODON_ACCOUNT_ID,
            "username": DEMO_USERNAME,
            "acct": DEMO_USERNAME,
            "display_name": DEMO_NAME,
            "url": f"https://{MASTODON_DOMAIN}/@{DEMO_USERNAME}",
            "created_at": "2022-11-07T00:00:00.000Z",
            "note": "<p>Het officiële webcare-account van Gemeente Demodorp (sandbox).</p>",
        }

    def ensure_account(
        self, username: str, display_name: str | None = None, domain: str | None = None
    ) -> Account:
        """Find or register a citizen on another instance; same address, same id."""
        if not _USERNAME.match(username):
            raise ValueError("a Mastodon username has letters, digits, underscores, . and -")
        domain = domain or citizen_domain(username)
        acct = f"{username}@{domain}"
        if acct.lower() == f"{DEMO_USERNAME}@{MASTODON_DOMAIN}":
            return deepcopy(self._accounts[MASTODON_ACCOUNT_ID])
        account_id = stable_user_id(f"mastodon:{acct}")
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                account = {
                    "id": account_id,
                    "username": username,
                    "acct": acct,
                    "display_name": display_name or username,
                    "url": f"https://{domain}/@{username}",
                    "created_at": format_timestamp(datetime.now(UTC)),
                    "note": "",
                }
                self._accounts[account_id] = account
            elif display_name:
                account["display_name"] = display_name
            return deepcopy(account)

    def account(self, account_id: str) -> Account | None:
        with self._lock:
            account = self._accounts.get(account_id)
            return deepcopy(account) if account else None

    def _account_by_acct(self, acct: str) -> Account | None:
        wanted = acct.lower()
        if wanted == f"{DEMO_USERNAME}@{MASTODON_DOMAIN}":
            wanted = DEMO_USERNAME
        for account in self._accounts.values():
            if account["acct"].lower() == wanted:
                return account
        return None

    # ----------------------------------------------------------------- statuses

    def to_html(self, text: str) -> tuple[str, list[str]]:
        """Mastodon's rendering of a plain-text status, and the ids of the accounts it
        mentions: paragraphs, line breaks, links and mentions; everything else escaped."""
        mentioned: list[str] = []

        def render_line(line: str) -> str:
            pieces: list[str] = []
            position = 0
            tokens = sorted(
                [(m.start(), m.end(), "url", m) for m in _URL.finditer(line)]
                + [(m.start(), m.end(), "mention", m) for m in MENTION_PATTERN.finditer(line)],
                key=lambda token: token[0],
            )
            for start, end, kind, match in tokens:
                if start < position:
                    continue
                pieces.append(escape(line[position:start]))
                if kind == "url":
                    pieces.append(_link_text(match.group(0)))
                else:
                    account = self._account_by_acct(match.group(1))
                    if account is None:
                        pieces.append(escape(match.group(0)))
                    else:
                        if account["id"] not in mentioned:
                            mentioned.append(account["id"])
                        pieces.append(_mention_html(account))
                position = end
            pieces.append(escape(line[position:]))
            return "".join(pieces)

        paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
        html = "".join(
            "<p>" + "<br />".join(render_line(line) for line in paragraph.split("\n")) + "</p>"
            for paragraph in paragraphs
        )
        return html, mentioned

    def add_status(
        self,
        *,
        account_id: str,
        text: str,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        created_at: datetime | None = None,
        content: str | None = None,
        media: Sequence[Mapping[str, Any]] = (),
        notify: bool = True,
    ) -> Status:
        """Store a status; one that mentions the municipality (or is direct to it) notifies it.

        `content` replaces the HTML Mastodon would render from `text` (remote servers send
        their own markup: this is how tests give us hostile HTML).
        """
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self._lock:
            parent = None
            if in_reply_to_id is not None:
                parent = self._statuses.get(in_reply_to_id)
                if parent is None:
                    raise LookupError(in_reply_to_id)
            html, mentioned = self.to_html(text)
            status_id = self._store.next_id()
            moment = created_at or datetime.now(UTC)
            status: Status = {
                "id": status_id,
                "created_at": _iso(moment),
                "account_id": account_id,
                "text": text,
                "content": html if content is None else content,
                "visibility": visibility,
                "in_reply_to_id": in_reply_to_id,
                "in_reply_to_account_id": parent["account_id"] if parent else None,
                "mentions": mentioned,
                "media_attachments": [
                    {
                        "id": self._store.next_id(),
                        "type": str(item.get("type", "image")),
                        "url": str(item["url"]),
                        "preview_url": str(item.get("preview_url", item["url"])),
                        "remote_url": None,
                        "description": item.get("description"),
                        "blurhash": None,
                        "meta": {},
                    }
                    for item in media
                ],
                "language": "nl",
            }
            self._statuses[status_id] = status
            # Like Mastodon: no notification for the account's own statuses.
            addressed_to_us = MASTODON_ACCOUNT_ID in mentioned or (
                parent is not None and parent["account_id"] == MASTODON_ACCOUNT_ID
            )
            if notify and account_id != MASTODON_ACCOUNT_ID and addressed_to_us:
                self._notify(status, moment)
            self._store.save()
            return deepcopy(status)

    def _notify(self, status: Status, moment: datetime) -> dict[str, Any]:
        notification = {
            "id": self._store.next_id(),
            "type": "mention",
            "created_at": _iso(moment),
            "account_id": status["account_id"],
            "status_id": status["id"],
        }
        self._notifications.append(notification)
        return notification

    def notify_about(self, status_id: str) -> None:
        """A mention notification for an existing status (e.g. one of our own)."""
        with self._lock:
            status = self._statuses[status_id]
            self._notify(status, parse_timestamp(status["created_at"]))
            self._store.save()

    def add_raw_notification(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A notification served exactly as given (for unreadable items); it gets an id."""
        with self._lock:
            notification = {"raw": {**raw, "id": self._store.next_id()}}
            notification["id"] = notification["raw"]["id"]
            self._notifications.append(notification)
            self._store.save()
            return deepcopy(notification["raw"])

    def status(self, status_id: str) -> Status | None:
        with self._lock:
            status = self._statuses.get(status_id)
            return deepcopy(status) if status else None

    def statuses(self) -> list[Status]:
        """Every status, oldest first."""
        with self._lock:
            return deepcopy(sorted(self._statuses.values(), key=lambda status: int(status["id"])))

    def notifications(self) -> list[dict[str, Any]]:
        with self._lock:
            return deepcopy(self._notifications)

    def post_as_account(
        self,
        *,
        text: str,
        visibility: str,
        in_reply_to_id: str | None,
        idempotency_key: str | None,
    ) -> tuple[Status, bool]:
        """POST /api/v1/statuses by the municipality. Returns (status, created)."""
        with self._lock:
            if idempotency_key and idempotency_key in self._idempotency:
                existing = self._statuses.get(self._idempotency[idempotency_key])
                if existing is not None:
                    return deepcopy(existing), False
            status = self.add_status(
                account_id=MASTODON_ACCOUNT_ID,
                text=text,
                visibility=visibility,
                in_reply_to_id=in_reply_to_id,
            )
            if idempotency_key:
                self._idempotency[idempotency_key] = status["id"]
                self._store.save()
            return status, True

    # ----------------------------------------------------------------- rendering

    def render_account(self, account: Account, base_url: str) -> dict[str, Any]:
        avatar = f"{base_url}/_sandbox/avatars/{account['id']}.svg"
        return {
            "id": account["id"],
            "username": account["username"],
            "acct": account["acct"],
            "display_name": account["display_name"],
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": account["created_at"],
            "note": account["note"],
            "url": account["url"],
            "uri": account["url"].replace("/@", "/users/"),
            "avatar": avatar,
            "avatar_static": avatar,
            "header": "",
            "header_static": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def render_status(self, status: Status, base_url: str) -> dict[str, Any]:
        with self._lock:
            account = self._accounts[status["account_id"]]
            mentions = [
                {
                    "id": mentioned["id"],
                    "username": mentioned["username"],
                    "url": mentioned["url"],
                    "acct": mentioned["acct"],
                }
                for mentioned in (self._accounts.get(i) for i in status["mentions"])
                if mentioned is not None
            ]
            url = f"{account['url']}/{status['id']}"
            return {
                "id": status["id"],
                "created_at": status["created_at"],
                "in_reply_to_id": status["in_reply_to_id"],
                "in_reply_to_account_id": status["in_reply_to_account_id"],
                "sensitive": False,
                "spoiler_text": "",
                "visibility": status["visibility"],
                "language": status["language"],
                "uri": url.replace("/@", "/users/").replace(
                    f"/{status['id']}", f"/statuses/{status['id']}"
                ),
                "url": url,
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "edited_at": None,
                "content": status["content"],
                "reblog": None,
                "account": self.render_account(account, base_url),
                "media_attachments": deepcopy(status["media_attachments"]),
                "mentions": mentions,
                "tags": [],
                "emojis": [],
                "card": None,
                "poll": None,
            }

    def render_notification(self, notification: Mapping[str, Any], base_url: str) -> Any:
        if "raw" in notification:
            return deepcopy(notification["raw"])
        with self._lock:
            status = self._statuses[notification["status_id"]]
            return {
                "id": notification["id"],
                "type": notification["type"],
                "created_at": notification["created_at"],
                "group_key": f"ungrouped-{notification['id']}",
                "account": self.render_account(
                    self._accounts[notification["account_id"]], base_url
                ),
                "status": self.render_status(status, base_url),
            }


class _RateLimiter:
    """Mastodon's one window per account, reported in X-RateLimit-* headers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_at = 0.0
        self._used = 0

    def consume(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self._lock:
            if now >= self._reset_at:
                # Mastodon's windows are aligned to the clock (every 5 minutes).
                self._reset_at = (now // RATE_LIMIT_WINDOW_SECONDS + 1) * RATE_LIMIT_WINDOW_SECONDS
                self._used = 0
            allowed = self._used < RATE_LIMIT
            if allowed:
                self._used += 1
            remaining = RATE_LIMIT - self._used
            reset_at = self._reset_at
        return allowed, rate_limit_headers(remaining, reset_at)

    def reset(self) -> None:
        with self._lock:
            self._reset_at = 0.0
            self._used = 0


def rate_limit_headers(remaining: int, reset_at: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(RATE_LIMIT),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": _iso(datetime.fromtimestamp(reset_at, UTC)),
    }


def _single(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _limit(query: Mapping[str, list[str]], default: int, maximum: int) -> int:
    raw = _single(query, "limit")
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(1, min(value, maximum))


def _id_window(items: list[Any], query: Mapping[str, list[str]], limit: int) -> list[Any]:
    """Mastodon's id paging over items sorted newest first (each with an int-able "id")."""
    since_id, max_id, min_id = (_single(query, name) for name in ("since_id", "max_id", "min_id"))
    selected = items
    if max_id:
        selected = [item for item in selected if int(item["id"]) < int(max_id)]
    if since_id:
        selected = [item for item in selected if int(item["id"]) > int(since_id)]
    if min_id:
        # min_id reads forward: the oldest `limit` items after it, still served newest first.
        above = [item for item in selected if int(item["id"]) > int(min_id)]
        return list(reversed(list(reversed(above))[:limit]))
    return selected[:limit]


def _link_header(
    base_url: str, path: str, params: Mapping[str, Any], page: Sequence[Mapping[str, Any]]
) -> str:
    """`Link: <…?max_id=…>; rel="next", <…?min_id=…>; rel="prev"`, as Mastodon sends it."""
    first, last = page[0]["id"], page[-1]["id"]
    next_url = f"{base_url}{path}?{urlencode({**params, 'max_id': last}, doseq=True)}"
    prev_url = f"{base_url}{path}?{urlencode({**params, 'min_id': first}, doseq=True)}"
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true", "t", "on", "yes"}


class MastodonApi:
    """Request in, `ApiResponse` out, for every path under /api/v1/ and /api/v2/."""

    def __init__(self, store: MastodonStore, faults: FaultInjector) -> None:
        self.store = store
        self.faults = faults
        self.rate_limiter = _RateLimiter()
        self.access_token = MASTODON_CREDENTIALS["access_token"]

    def respond(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        """Faults first (matched by path prefix, like X's), then rate limit, then the API."""

        def answer() -> ApiResponse:
            allowed, rate_headers = self.rate_limiter.consume()
            if allowed:
                response = self._handle(method, path, query, headers, body, base_url)
            else:
                response = error(429, "Too many requests")
            response.headers = {**rate_headers, **response.headers}
            return response

        return self.faults.serve(
            method,
            path,
            answer=answer,
            fault_answer=lambda _fault, status: self._fault_response(status),
        )

    def _fault_response(self, status: int) -> ApiResponse:
        response = error(status, HTTPStatus(status).phrase)
        response.headers["X-Sandbox-Fault"] = "injected"
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            response.headers.update(rate_limit_headers(0, time.time() + RATE_LIMIT_RETRY_SECONDS))
        return response

    def _handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        route = path.rstrip("/")
        if method == "GET" and route == "/api/v1/instance":
            return json_response(200, self._instance_v1(base_url))
        if method == "GET" and route == "/api/v2/instance":
            return json_response(200, self._instance_v2(base_url))
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.access_token:
            return error(401, "The access token is invalid")
        if method == "GET" and route == "/api/v1/accounts/verify_credentials":
            account = self.store.render_account(
                self.store.account(MASTODON_ACCOUNT_ID) or {}, base_url
            )
            account["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": "nl",
                "note": "",
                "fields": [],
            }
            return json_response(200, account)
        if method == "GET" and route == "/api/v1/notifications":
            return self._notifications(path, query, base_url)
        if method == "POST" and route == "/api/v1/statuses":
            return self._post_status(headers, body, base_url)
        timeline = _ACCOUNT_STATUSES_ROUTE.match(path)
        if method == "GET" and timeline:
            return self._account_statuses(timeline.group(1), path, query, base_url)
        single = _STATUS_ROUTE.match(path)
        if method == "GET" and single:
            status = self.store.status(single.group(1))
            if status is None:
                return error(404, "Record not found")
            return json_response(200, self.store.render_status(status, base_url))
        return error(404, "Not Found")

    @staticmethod
    def _instance_configuration() -> dict[str, Any]:
        return {
            "statuses": {
                "max_characters": DEFAULT_MAX_CHARACTERS,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {"image_size_limit": 16777216, "video_size_limit": 103809024},
            "polls": {"max_options": 4, "max_characters_per_option": 50},
        }

    def _instance_v2(self, base_url: str) -> dict[str, Any]:
        return {
            "domain": MASTODON_DOMAIN,
            "title": "Sandbox Mastodon Demodorp",
            "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "Een nagebootste Mastodon-server voor de webcare-inbox.",
            "usage": {"users": {"active_month": 1}},
            "thumbnail": {"url": f"{base_url}/_sandbox/avatars/{MASTODON_ACCOUNT_ID}.svg"},
            "languages": ["nl"],
            "configuration": {
                "urls": {"streaming": ""},
                "accounts": {"max_featured_tags": 10},
                **self._instance_configuration(),
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "api_versions": {"mastodon": 2},
            "contact": {"email": "webcare@demodorp.nl", "account": None},
            "rules": [],
        }

    def _instance_v1(self, base_url: str) -> dict[str, Any]:
        return {
            "uri": MASTODON_DOMAIN,
            "title": "Sandbox Mastodon Demodorp",
            "short_description": "Een nagebootste Mastodon-server voor de webcare-inbox.",
            "description": "",
            "email": "webcare@demodorp.nl",
            "version": "4.3.0",
            "urls": {"streaming_api": ""},
            "stats": {"user_count": 1, "status_count": 0, "domain_count": 1},
            "thumbnail": None,
            "languages": ["nl"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": self._instance_configuration(),
            "contact_account": None,
            "rules": [],
        }

    def _notifications(
        self, path: str, query: Mapping[str, list[str]], base_url: str
    ) -> ApiResponse:
        types = set(query.get("types[]", [])) | set(query.get("types", []))
        excluded = set(query.get("exclude_types[]", [])) | set(query.get("exclude_types", []))
        limit = _limit(query, NOTIFICATIONS_DEFAULT_LIMIT, NOTIFICATIONS_MAX_LIMIT)
        items = [
            item
            for item in reversed(self.store.notifications())
            if (not types or item.get("type", item.get("raw", {}).get("type")) in types)
            and item.get("type") not in excluded
        ]
        try:
            page = _id_window(items, query, limit)
        except ValueError:
            return error(422, "Invalid id")
        response = json_response(
            200, [self.store.render_notification(item, base_url) for item in page]
        )
        if page:
            params: dict[str, Any] = {"limit": limit}
            if types:
                params["types[]"] = sorted(types)
            if excluded:
                params["exclude_types[]"] = sorted(excluded)
            response.headers["Link"] = _link_header(base_url, path, params, page)
        return response

    def _account_statuses(
        self, account_id: str, path: str, query: Mapping[str, list[str]], base_url: str
    ) -> ApiResponse:
        if self.store.account(account_id) is None:
            return error(404, "Record not found")
        limit = _limit(query, STATUSES_DEFAULT_LIMIT, STATUSES_MAX_LIMIT)
        items = [
            status
            for status in reversed(self.store.statuses())
            if status["account_id"] == account_id
            and not (_truthy(_single(query, "exclude_replies")) and status["in_reply_to_id"])
            and not (_truthy(_single(query, "only_media")) and not status["media_attachments"])
        ]
        try:
            page = _id_window(items, query, limit)
        except ValueError:
            return error(422, "Invalid id")
        response = json_response(200, [self.store.render_status(s, base_url) for s in page])
        if page:
            link = _link_header(base_url, path, {"limit": limit}, page)
            if len(page) < limit:
                # Statuses paginate on only while a page is full (records_continue?).
                link = link.split(", ", 1)[1]
            response.headers["Link"] = link
        return response

    def _post_status(self, headers: Mapping[str, str], body: bytes, base_url: str) -> ApiResponse:
        content_type = headers.get("content-type", "")
        try:
            if content_type.startswith("application/json"):
                form = json.loads(body or b"{}")
                if not isinstance(form, dict):
                    return error(422, "Validation failed: Text can't be blank")
                params = {key: value for key, value in form.items() if value is not None}
            else:
                params = {
                    key: values[-1]
                    for key, values in parse_qs(
                        body.decode("utf-8"), keep_blank_values=True
                    ).items()
                }
        except (UnicodeDecodeError, json.JSONDecodeError):
            return error(400, "Invalid request body")
        text = str(params.get("status", ""))
        visibility = str(params.get("visibility") or "public")
        in_reply_to_id = params.get("in_reply_to_id")
        if visibility not in VISIBILITIES:
            return error(422, "Validation failed: Visibility is not included in the list")
        if not text.strip():
            return error(422, "Validation failed: Text can't be blank")
        if status_length(text) > DEFAULT_MAX_CHARACTERS:
            return error(
                422, f"Validation failed: Text character limit of {DEFAULT_MAX_CHARACTERS} exceeded"
            )
        try:
            status, _created = self.store.post_as_account(
                text=text,
                visibility=visibility,
                in_reply_to_id=str(in_reply_to_id) if in_reply_to_id else None,
                idempotency_key=headers.get("idempotency-key"),
            )
        except LookupError:
            return error(404, "Record not found")
        return json_response(200, self.store.render_status(status, base_url))


def status_from_draft(
    store: MastodonStore,
    *,
    text: str,
    username: str,
    display_name: str,
    created_at: datetime | None = None,
    direct: bool = False,
    link: str | None = None,
) -> Status:
    """A generated citizen message (generator.py's Dutch texts) as a Mastodon mention."""
    author = store.ensure_account(username, display_name)
    mention = f"@{DEMO_USERNAME}@{MASTODON_DOMAIN}"
    body = re.sub(rf"@{DEMO_USERNAME}\b", "", text).strip(" ,")
    full = f"{mention} {body}"
    if link:
        full += f"\n\nMeer info: {link}"
    return store.add_status(
        account_id=author["id"],
        text=full,
        visibility="direct" if direct else "public",
        created_at=created_at,
    )


def parse_created_at(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return parse_timestamp(str(value))
