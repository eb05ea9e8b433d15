"""The Facebook Graph API endpoints the sandbox imitates, with their own state section.

The sandbox hosts one Facebook Page (`FACEBOOK_PAGE_ID`) of the municipality: its posts,
citizens' comments and replies to comments under them, and Messenger conversations with
citizens. Served under /v{NN}.0/: the page, its posts, a post's or comment's comments
(filter, order, since, limit, cursor paging, nested fields), commenting, the page's
Messenger conversations and their messages, sending a message (with the 24-hour window
and the HUMAN_AGENT tag), and the page's messaging feature review. Errors, paging and the
X-App-Usage header have Graph's shapes. Standard library only: no Django, no facebook-sdk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from channels.sandbox.accounts import stable_user_id
from channels.sandbox.faults import RATE_LIMIT_RETRY_SECONDS, FaultInjector
from channels.sandbox.store import TweetStore
from channels.sandbox.xapi import ApiResponse, json_response

FACEBOOK_PAGE_ID: Final = "102030405060708"
FACEBOOK_PAGE_NAME: Final = "Gemeente Demodorp"
# Fixed, public, made-up values that only unlock this sandbox; the keys are the channel's
# credential names (a page access token and the app secret for appsecret_proof).
FACEBOOK_CREDENTIALS: Final = {
    "access_token": "sandbox-facebook-page-token",
    "app_secret": "sandbox-facebook-app-secret",
}
PATH_PATTERN: Final = re.compile(r"^/v\d+\.\d+/")
STATE_SECTION: Final = "facebook"
# Calls per hour before Graph's code 4 ("Application request limit reached").
RATE_LIMIT: Final = 2000
RATE_LIMIT_WINDOW_SECONDS: Final = 60 * 60
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 100
MESSAGES_INLINE_DEFAULT: Final = 25
STANDARD_WINDOW: Final = timedelta(hours=24)
HUMAN_AGENT_WINDOW: Final = timedelta(days=7)
COMMENT_MAX_LENGTH: Final = 8000
MESSAGE_MAX_LENGTH: Final = 2000
OUTSIDE_WINDOW_SUBCODE: Final = 2018278

Comment = dict[str, Any]
Event = dict[str, Any]


def graph_time(moment: datetime) -> str:
    """Graph's timestamp format: 2026-11-28T10:00:00+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_graph_time(value: str | int | float) -> datetime:
    """Unix seconds or any ISO form Graph accepts in `since`/`until`."""
    if isinstance(value, int | float) or str(value).lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    text = str(value).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def graph_error(
    status: int,
    message: str,
    code: int,
    *,
    error_type: str = "OAuthException",
    subcode: int | None = None,
) -> ApiResponse:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "Asandbox" + hashlib.sha1(message.encode()).hexdigest()[:16]  # noqa: S324
    response = json_response(status, {"error": error})
    response.headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "{error_type}" "{message}"'
    return response


def parse_fields(spec: str) -> dict[str, Any]:
    """`id,from{id,name},messages.limit(5){id,message}` → {"id": {}, "from": {...}, ...};
    a modifier such as `.limit(5)` is kept under the key "__limit"."""
    fields: dict[str, Any] = {}
    position = 0

    def parse_level(end_char: str | None) -> dict[str, Any]:
        nonlocal position
        level: dict[str, Any] = {}
        name = ""
        while position < len(spec):
            char = spec[position]
            if char == ",":
                if name:
                    level.setdefault(name.strip(), {})
                name = ""
                position += 1
            elif char == "{":
                position += 1
                sub = parse_level("}")
                base, limit = _modifier(name.strip())
                if limit is not None:
                    sub["__limit"] = limit
                level[base] = sub
                name = ""
            elif char == "}" and end_char == "}":
                position += 1
                if name:
                    level.setdefault(name.strip(), {})
                return level
            else:
                name += char
                position += 1
        if name:
            base, limit = _modifier(name.strip())
            level[base] = {"__limit": limit} if limit is not None else {}
        return level

    fields = parse_level(None)
    # Names with a modifier but no braces were stored under their full text; normalise.
    for key in list(fields):
        base, limit = _modifier(key)
        if base != key:
            fields[base] = {"__limit": limit} if limit is not None else {}
            del fields[key]
    return fields


def _modifier(name: str) -> tuple[str, int | None]:
    match = re.match(r"^([\w]+)\.limit\((\d+)\)$", name)
    if match:
        return match.group(1), int(match.group(2))
    return name, None


def _pick(item: Mapping[str, Any], fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """Only the asked-for fields (and always `id`), as Graph does."""
    if not fields:
        return {key: value for key, value in item.items() if not key.startswith("_")}
    picked: dict[str, Any] = {}
    for key, sub in fields.items():
        if key.startswith("__") or key not in item:
            continue
        value = item[key]
        if isinstance(value, dict) and sub and not key.startswith("_"):
            picked[key] = _pick(value, {k: v for k, v in sub.items() if not k.startswith("__")})
        else:
            picked[key] = value
    if "id" in item:
        picked["id"] = item["id"]
    return picked


class FacebookStore:
    """Posts, comments, Messenger messages and the page's settings; persisted with the X state."""

    def __init__(self, store: TweetStore) -> None:
        self._store = store
        self._lock = threading.RLock()
        self._last_id = 0
        self.clear()
        store.register_section(STATE_SECTION, self)

    # ----------------------------------------------------------------- section protocol

    def clear(self) -> None:
        with self._lock:
            # Oldest first. Ids keep increasing across resets, as X's do.
            self._posts: list[dict[str, Any]] = []
            self._comments: list[Comment] = []
            self._messages: list[Event] = []
            self._names: dict[str, str] = {}
            self.human_agent_approved = True
            self.private_replied_comments: set[str] = set()

    def dump(self) -> Any:
        with self._lock:
            return {
                "last_id": self._last_id,
                "posts": self._posts,
                "comments": self._comments,
                "messages": self._messages,
                "names": self._names,
                "human_agent_approved": self.human_agent_approved,
                "private_replied_comments": sorted(self.private_replied_comments),
            }

    def restore(self, raw: Any) -> None:
        with self._lock:
            self.clear()
            if not isinstance(raw, dict):
                return
            self._last_id = max(self._last_id, int(raw.get("last_id", 0)))
            self._posts = list(raw.get("posts", []))
            self._comments = list(raw.get("comments", []))
            self._messages = list(raw.get("messages", []))
            self._names = dict(raw.get("names", {}))
            self.human_agent_approved = bool(raw.get("human_agent_approved", True))
            self.private_replied_comments = set(raw.get("private_replied_comments", []))

    def is_empty(self) -> bool:
        with self._lock:
            return not self._posts and not self._messages

    def _next(self) -> int:
        self._last_id += 1
        return self._last_id

    # ----------------------------------------------------------------- writing

    def user_id(self, name: str) -> str:
        """A citizen's (page-scoped) id, stable per name."""
        user_id = str(2_000_000_000_000_000 + int(stable_user_id(f"fb:{name}")) % 10**15)
        self._names[user_id] = name
        return user_id

    def add_post(self, message: str, created_at: datetime | None = None) -> dict[str, Any]:
        with self._lock:
            post = {
                "id": f"{FACEBOOK_PAGE_ID}_{9_000_000 + self._next()}",
                "message": message,
                "created_time": (created_at or datetime.now(UTC)).timestamp(),
            }
            self._posts.append(post)
            self._store.save()
            return post

    def latest_post(self) -> dict[str, Any]:
        with self._lock:
            if not self._posts:
                return self.add_post("Nieuws uit de gemeente Demodorp.")
            return self._posts[-1]

    def post(self, post_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((post for post in self._posts if post["id"] == post_id), None)

    def comment(self, comment_id: str) -> Comment | None:
        with self._lock:
            return next((c for c in self._comments if c.get("id") == comment_id), None)

    def add_comment(
        self,
        *,
        post_id: str,
        message: str,
        author_id: str,
        author_name: str,
        parent_id: str | None = None,
        created_at: datetime | None = None,
        attachment: dict[str, Any] | None = None,
        hide_from: bool = False,
    ) -> Comment:
        with self._lock:
            post_number = post_id.rsplit("_", 1)[-1]
            comment: Comment = {
                "id": f"{post_number}_{9_000_000 + self._next()}",
                "post_id": post_id,
                "parent_id": parent_id,
                "author_id": author_id,
                "author_name": author_name,
                "message": message,
                "created_time": (created_at or datetime.now(UTC)).timestamp(),
                "attachment": attachment,
                "hide_from": hide_from,
            }
            self._comments.append(comment)
            self._store.save()
            return comment

    def add_raw_comment(self, post_id: str, raw: Mapping[str, Any]) -> Comment:
        """A comment served exactly as given (an unreadable item), under `post_id`."""
        with self._lock:
            comment = {"_raw": dict(raw), "post_id": post_id, "created_time": time.time()}
            self._comments.append(comment)
            self._store.save()
            return comment

    def add_message(
        self,
        *,
        psid: str,
        text: str,
        from_page: bool,
        created_at: datetime | None = None,
        attachments: list[dict[str, Any]] | None = None,
        tag: str = "",
    ) -> Event:
        with self._lock:
            event: Event = {
                "id": f"m_sandbox{self._next():012d}",
                "psid": psid,
                "from_page": from_page,
                "text": text,
                "created_time": (created_at or datetime.now(UTC)).timestamp(),
                "attachments": attachments or [],
                "tag": tag,
            }
            self._messages.append(event)
            self._store.save()
            return event

    # ----------------------------------------------------------------- reading

    def posts(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._posts)

    def comments(self) -> list[Comment]:
        with self._lock:
            return list(self._comments)

    def messages(self) -> list[Event]:
        with self._lock:
            return list(self._messages)

    def name(self, user_id: str) -> str:
        return self._names.get(user_id, f"Gebruiker {user_id[-4:]}")

    def render_comment(self, comment: Comment) -> dict[str, Any]:
        if "_raw" in comment:
            return dict(comment["_raw"])
        rendered: dict[str, Any] = {
            "id": comment["id"],
            "message": comment["message"],
            "created_time": graph_time(datetime.fromtimestamp(comment["created_time"], UTC)),
        }
        if not comment.get("hide_from"):
            rendered["from"] = {"id": comment["author_id"], "name": comment["author_name"]}
        if comment.get("parent_id"):
            parent = self.comment(comment["parent_id"])
            rendered["parent"] = (
                self.render_comment(parent) if parent else {"id": comment["parent_id"]}
            )
        if comment.get("attachment"):
            rendered["attachment"] = comment["attachment"]
        return rendered

    def render_message(self, event: Event) -> dict[str, Any]:
        page = {"id": FACEBOOK_PAGE_ID, "name": FACEBOOK_PAGE_NAME}
        citizen = {"id": event["psid"], "name": self.name(event["psid"])}
        rendered: dict[str, Any] = {
            "id": event["id"],
            "message": event["text"],
            "created_time": graph_time(datetime.fromtimestamp(event["created_time"], UTC)),
            "from": page if event["from_page"] else citizen,
            "to": {"data": [citizen if event["from_page"] else page]},
        }
        if event.get("attachments"):
            rendered["attachments"] = {"data": event["attachments"]}
        return rendered

    def conversation_id(self, psid: str) -> str:
        return f"t_{psid}"

    def last_citizen_message(self, psid: str) -> Event | None:
        with self._lock:
            return next(
                (m for m in reversed(self._messages) if m["psid"] == psid and not m["from_page"]),
                None,
            )


class _AppUsage:
    """Graph's app-level rate limit: a share of the hourly budget in X-App-Usage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window_start = 0.0
        self._used = 0

    def consume(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self._lock:
            if now - self._window_start >= RATE_LIMIT_WINDOW_SECONDS:
                self._window_start, self._used = now, 0
            allowed = self._used < RATE_LIMIT
            if allowed:
                self._used += 1
            percent = min(100, self._used * 100 // RATE_LIMIT)
            regain = (
                0
                if allowed
                else int((self._window_start + RATE_LIMIT_WINDOW_SECONDS - now) // 60) + 1
            )
        return allowed, usage_headers(percent, regain)

    def reset(self) -> None:
        with self._lock:
            self._window_start, self._used = 0.0, 0


def usage_headers(percent: int, regain_minutes: int) -> dict[str, str]:
    return {
        "X-App-Usage": json.dumps(
            {"call_count": percent, "total_cputime": percent // 2, "total_time": percent // 2}
        ),
        "X-Business-Use-Case-Usage": json.dumps(
            {
                FACEBOOK_PAGE_ID: [
                    {
                        "type": "pages",
                        "call_count": percent,
                        "total_cputime": percent // 2,
                        "total_time": percent // 2,
                        "estimated_time_to_regain_access": regain_minutes,
                    }
                ]
            }
        ),
    }


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _json_param(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


class GraphApi:
    """Request in, `ApiResponse` out, for every path under /v{NN}.0/."""

    def __init__(
        self,
        store: FacebookStore,
        faults: FaultInjector,
    ) -> None:
        self.store = store
        self.faults = faults
        self.usage = _AppUsage()
        self.access_token = FACEBOOK_CREDENTIALS["access_token"]
        self.app_secret = FACEBOOK_CREDENTIALS["app_secret"]

    def respond(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        """Faults first (matched by path prefix, like X's), then the usage limit, then Graph."""

        def answer() -> ApiResponse:
            allowed, usage = self.usage.consume()
            if allowed:
                response = self._handle(method, path, query, headers, body, base_url)
            else:
                response = graph_error(403, "(#4) Application request limit reached", 4)
            response.headers = {**usage, **response.headers}
            return response

        return self.faults.serve(
            method,
            path,
            answer=answer,
            fault_answer=lambda _fault, status: self._fault_response(status),
        )

    @staticmethod
    def _fault_response(status: int) -> ApiResponse:
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            # Graph does not use 429: the limit is an error with code 4 (or 17, 32, 613).
            response = graph_error(403, "(#4) Application request limit reached", 4)
            response.headers.update(usage_headers(100, RATE_LIMIT_RETRY_SECONDS // 60 + 1))
        elif status >= 500:
            response = graph_error(
                status, "An unexpected error has occurred. Please retry your request later.", 2
            )
        else:
            response = graph_error(status, HTTPStatus(status).phrase, 100)
        response.headers["X-Sandbox-Fault"] = "injected"
        return response

    # ------------------------------------------------------------------ routing

    def _handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
    ) -> ApiResponse:
        params: dict[str, list[str]] = {key: list(values) for key, values in query.items()}
        if body and "json" in headers.get("content-type", ""):
            try:
                decoded = json.loads(body)
            except ValueError:
                return graph_error(400, "Invalid JSON in the request body", 100)
            if isinstance(decoded, dict):
                for key, value in decoded.items():
                    params[key] = [value if isinstance(value, str) else json.dumps(value)]
        elif body:
            params.update(parse_qs(body.decode("utf-8"), keep_blank_values=True))
        token = _single(params, "access_token")
        authorization = headers.get("authorization", "")
        if not token and authorization.lower().startswith(("bearer ", "oauth ")):
            token = authorization.split(" ", 1)[1].strip()
        if not token:
            return graph_error(
                400,
                "An active access token must be used to query information about the current user.",
                2500,
            )
        if token != self.access_token:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190)
        proof = _single(params, "appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if proof is None:
            return graph_error(
                400, "API calls from the server require an appsecret_proof argument", 100
            )
        if not hmac.compare_digest(proof, expected):
            return graph_error(400, "Invalid appsecret_proof provided in the API argument", 100)

        parts = [part for part in PATH_PATTERN.sub("", path).strip("/").split("/") if part]
        if not parts:
            return graph_error(
                400, "Unsupported get request.", 100, error_type="GraphMethodException"
            )
        node = FACEBOOK_PAGE_ID if parts[0] == "me" else parts[0]
        edge = parts[1] if len(parts) > 1 else ""
        fields = parse_fields(_single(params, "fields") or "")
        link = f"{base_url}{path}"
        if method == "GET" and node == FACEBOOK_PAGE_ID and not edge:
            return json_response(
                200, _pick({"id": FACEBOOK_PAGE_ID, "name": FACEBOOK_PAGE_NAME}, fields)
            )
        if method == "GET" and node == FACEBOOK_PAGE_ID and edge == "messaging_feature_review":
            status = "approved" if self.store.human_agent_approved else "rejected"
            return json_response(200, {"data": [{"feature": "human_agent", "status": status}]})
        if method == "GET" and node == FACEBOOK_PAGE_ID and edge == "posts":
            return self._posts(params, fields, link)
        if method == "GET" and node == FACEBOOK_PAGE_ID and edge == "conversations":
            return self._conversations(params, fields, link)
        if method == "POST" and node == FACEBOOK_PAGE_ID and edge == "messages":
            return self._send_message(params)
        if method == "GET" and edge == "comments":
            return self._comments(node, params, fields, link)
        if method == "POST" and edge == "comments":
            return self._post_comment(node, params)
        if method == "GET" and node.startswith("t_") and edge == "messages":
            return self._conversation_messages(node, params, fields, link)
        if method == "GET" and not edge:
            comment = self.store.comment(node)
            if comment is not None:
                return json_response(200, _pick(self.store.render_comment(comment), fields))
        return graph_error(
            400,
            f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            100,
            error_type="GraphMethodException",
            subcode=33,
        )

    # ------------------------------------------------------------------ paging

    @staticmethod
    def _page(
        items: list[dict[str, Any]], params: Mapping[str, list[str]], link: str
    ) -> dict[str, Any]:
        """Cursor paging: `after` is an opaque cursor of the offset, as far as clients know."""
        try:
            limit = max(1, min(MAX_LIMIT, int(_single(params, "limit") or DEFAULT_LIMIT)))
            after = _single(params, "after")
            start = int(bytes.fromhex(after).decode()) if after else 0
        except ValueError:
            start, limit = 0, DEFAULT_LIMIT
        chunk = items[start : start + limit]
        page: dict[str, Any] = {"data": chunk}
        if chunk:
            cursors = {
                "before": str(start).encode().hex(),
                "after": str(start + len(chunk) - 1 + 1).encode().hex(),
            }
            paging: dict[str, Any] = {"cursors": cursors}
            if start + limit < len(items):
                next_params = {key: values[-1] for key, values in params.items()}
                next_params.pop("appsecret_proof", None)
                next_params["limit"] = str(limit)
                next_params["after"] = cursors["after"]
                paging["next"] = f"{link}?{urlencode(next_params)}"
            page["paging"] = paging
        return page

    @staticmethod
    def _time_window(params: Mapping[str, list[str]]) -> tuple[float | None, float | None]:
        since, until = _single(params, "since"), _single(params, "until")
        return (
            parse_graph_time(since).timestamp() if since else None,
            parse_graph_time(until).timestamp() if until else None,
        )

    # ------------------------------------------------------------------ endpoints

    def _posts(
        self, params: Mapping[str, list[str]], fields: Mapping[str, Any], link: str
    ) -> ApiResponse:
        try:
            since, until = self._time_window(params)
        except ValueError:
            return graph_error(400, "(#100) Invalid value for since", 100)
        posts = [
            post
            for post in reversed(self.store.posts())
            if (since is None or post["created_time"] >= since)
            and (until is None or post["created_time"] <= until)
        ]
        rendered = [
            _pick(
                {
                    "id": post["id"],
                    "message": post["message"],
                    "created_time": graph_time(datetime.fromtimestamp(post["created_time"], UTC)),
                },
                fields,
            )
            for post in posts
        ]
        return json_response(200, self._page(rendered, params, link))

    def _comments(
        self, node: str, params: Mapping[str, list[str]], fields: Mapping[str, Any], link: str
    ) -> ApiResponse:
        post = self.store.post(node)
        parent = None if post is not None else self.store.comment(node)
        if post is None and parent is None:
            return graph_error(
                400,
                f"Unsupported get request. Object with ID '{node}' does not exist.",
                100,
                error_type="GraphMethodException",
                subcode=33,
            )
        try:
            since, until = self._time_window(params)
        except ValueError:
            return graph_error(400, "(#100) Invalid value for since", 100)
        stream = _single(params, "filter") == "stream"
        order = _single(params, "order") or "chronological"
        if order not in ("chronological", "reverse_chronological", "ranked"):
            return graph_error(
                400, "(#100) order must be one of chronological, reverse_chronological, ranked", 100
            )
        selected = []
        for comment in self.store.comments():
            if post is not None:
                if comment["post_id"] != node:
                    continue
                if not stream and comment.get("parent_id"):
                    continue
            elif comment.get("parent_id") != node:
                continue
            created = comment["created_time"]
            if (since is not None and created < since) or (until is not None and created > until):
                continue
            selected.append(comment)
        if order == "reverse_chronological":
            selected.reverse()
        rendered = [_pick(self.store.render_comment(comment), fields) for comment in selected]
        return json_response(200, self._page(rendered, params, link))

    def _post_comment(self, node: str, params: Mapping[str, list[str]]) -> ApiResponse:
        message = _single(params, "message") or ""
        if not message.strip():
            return graph_error(400, "(#100) The parameter message is required", 100)
        if len(message) > COMMENT_MAX_LENGTH:
            return graph_error(400, "(#100) The comment is too long", 100)
        post = self.store.post(node)
        parent = None if post is not None else self.store.comment(node)
        if post is None and (parent is None or "_raw" in parent):
            return graph_error(
                400,
                f"Unsupported post request. Object with ID '{node}' does not exist.",
                100,
                error_type="GraphMethodException",
                subcode=33,
            )
        if parent is not None and parent.get("parent_id"):
            # Facebook nests one level: an answer to a reply goes under its parent.
            parent = self.store.comment(parent["parent_id"]) or parent
        comment = self.store.add_comment(
            post_id=post["id"] if post is not None else parent["post_id"],  # type: ignore[index]
            message=message,
            author_id=FACEBOOK_PAGE_ID,
            author_name=FACEBOOK_PAGE_NAME,
            parent_id=parent["id"] if parent is not None else None,
        )
        return json_response(200, {"id": comment["id"]})

    def _conversations(
        self, params: Mapping[str, list[str]], fields: Mapping[str, Any], link: str
    ) -> ApiResponse:
        platform = _single(params, "platform") or "messenger"
        if platform != "messenger":
            return json_response(200, {"data": []})
        user_id = _single(params, "user_id")
        by_psid: dict[str, list[Event]] = {}
        for event in self.store.messages():
            by_psid.setdefault(event["psid"], []).append(event)
        conversations = sorted(
            by_psid.items(), key=lambda item: item[1][-1]["created_time"], reverse=True
        )
        inline_fields = fields.get("messages") or {}
        inline_limit = int(inline_fields.get("__limit") or MESSAGES_INLINE_DEFAULT)
        rendered = []
        for psid, events in conversations:
            if user_id and psid != user_id:
                continue
            conversation_id = self.store.conversation_id(psid)
            newest_first = [self.store.render_message(event) for event in reversed(events)]
            item: dict[str, Any] = {
                "id": conversation_id,
                "updated_time": graph_time(datetime.fromtimestamp(events[-1]["created_time"], UTC)),
                "participants": {
                    "data": [
                        {"id": psid, "name": self.store.name(psid)},
                        {"id": FACEBOOK_PAGE_ID, "name": FACEBOOK_PAGE_NAME},
                    ]
                },
            }
            if "messages" in fields:
                base = link.rsplit("/", 2)[0].rsplit("/", 1)[0]
                messages_link = f"{base}/{conversation_id}/messages"
                sub = {k: v for k, v in inline_fields.items() if not k.startswith("__")}
                page = self._page(
                    [_pick(message, sub) for message in newest_first],
                    {"limit": [str(inline_limit)], "fields": [_fields_text(sub)]},
                    messages_link,
                )
                item["messages"] = page
            # The inline page is already cut to its own fields; pick the others around it.
            other_fields = {key: sub for key, sub in fields.items() if key != "messages"}
            picked = _pick(item, other_fields) if other_fields or not fields else {"id": item["id"]}
            if "messages" in item:
                picked["messages"] = item["messages"]
            rendered.append(picked)
        return json_response(200, self._page(rendered, params, link))

    def _conversation_messages(
        self, node: str, params: Mapping[str, list[str]], fields: Mapping[str, Any], link: str
    ) -> ApiResponse:
        psid = node.removeprefix("t_")
        events = [event for event in self.store.messages() if event["psid"] == psid]
        if not events:
            return graph_error(400, f"Object with ID '{node}' does not exist.", 100, subcode=33)
        rendered = [_pick(self.store.render_message(event), fields) for event in reversed(events)]
        return json_response(200, self._page(rendered, params, link))

    def _send_message(self, params: Mapping[str, list[str]]) -> ApiResponse:
        recipient = _json_param(_single(params, "recipient"))
        message = _json_param(_single(params, "message"))
        messaging_type = _single(params, "messaging_type") or "RESPONSE"
        tag = _single(params, "tag") or ""
        if not isinstance(recipient, dict) or not isinstance(message, dict):
            return graph_error(400, "(#100) param recipient and message must be objects", 100)
        text = str(message.get("text") or "")
        if not text.strip():
            return graph_error(400, "(#100) The parameter message[text] is required", 100)
        if len(text) > MESSAGE_MAX_LENGTH:
            return graph_error(
                400, "(#100) Length of param message[text] must be less than or equal to 2000", 100
            )
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return graph_error(
                400, "(#100) Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG", 100
            )
        now = datetime.now(UTC)
        if "comment_id" in recipient:
            # A private reply to a public comment: once per comment, within 7 days of it.
            comment = self.store.comment(str(recipient["comment_id"]))
            if comment is None or "_raw" in comment:
                return graph_error(400, "(#100) No matching comment found", 100)
            if str(recipient["comment_id"]) in self.store.private_replied_comments:
                return graph_error(400, "(#10900) Activity already replied to", 10900)
            if now - datetime.fromtimestamp(comment["created_time"], UTC) > HUMAN_AGENT_WINDOW:
                return graph_error(
                    400,
                    "(#10) This message is sent outside of allowed window.",
                    10,
                    subcode=OUTSIDE_WINDOW_SUBCODE,
                )
            self.store.private_replied_comments.add(str(recipient["comment_id"]))
            psid = str(comment["author_id"])
            event = self.store.add_message(psid=psid, text=text, from_page=True)
            return json_response(200, {"recipient_id": psid, "message_id": event["id"]})
        psid = str(recipient.get("id") or "")
        last = self.store.last_citizen_message(psid)
        if last is None:
            return graph_error(400, "(#100) No matching user found", 100, subcode=2018001)
        age = now - datetime.fromtimestamp(last["created_time"], UTC)
        if age > STANDARD_WINDOW:
            human_agent = messaging_type == "MESSAGE_TAG" and tag == "HUMAN_AGENT"
            if human_agent and not self.store.human_agent_approved:
                return graph_error(
                    400, "(#200) The HUMAN_AGENT tag requires the Human Agent permission", 200
                )
            if not human_agent or age > HUMAN_AGENT_WINDOW:
                return graph_error(
                    400,
                    "(#10) This message is sent outside of allowed window. Learn more about the "
                    "new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                    10,
                    subcode=OUTSIDE_WINDOW_SUBCODE,
                )
        event = self.store.add_message(psid=psid, text=text, from_page=True, tag=tag)
        return json_response(200, {"recipient_id": psid, "message_id": event["id"]})


def _fields_text(fields: Mapping[str, Any]) -> str:
    parts = []
    for key, sub in fields.items():
        if key.startswith("__"):
            continue
        inner = {k: v for k, v in sub.items() if not k.startswith("__")} if sub else {}
        parts.append(f"{key}{{{_fields_text(inner)}}}" if inner else key)
    return ",".join(parts)


# ---------------------------------------------------------------------- webhook payloads


def comment_webhook(comment: Comment, post_id: str) -> dict[str, Any]:
    """What Graph posts to a page's webhook when a comment is added."""
    value: dict[str, Any] = {
        "item": "comment",
        "verb": "add",
        "comment_id": comment["id"],
        "post_id": post_id,
        "parent_id": comment.get("parent_id") or post_id,
        "from": {"id": comment["author_id"], "name": comment["author_name"]},
        "message": comment["message"],
        "created_time": int(comment["created_time"]),
    }
    return {
        "object": "page",
        "entry": [
            {
                "id": FACEBOOK_PAGE_ID,
                "time": int(time.time()),
                "changes": [{"field": "feed", "value": value}],
            }
        ],
    }


def message_webhook(event: Event) -> dict[str, Any]:
    """What Graph posts to a page's webhook when a citizen sends a Messenger message."""
    return {
        "object": "page",
        "entry": [
            {
                "id": FACEBOOK_PAGE_ID,
                "time": int(time.time() * 1000),
                "messaging": [
                    {
                        "sender": {"id": event["psid"]},
                        "recipient": {"id": FACEBOOK_PAGE_ID},
                        "timestamp": int(event["created_time"] * 1000),
                        "message": {"mid": event["id"], "text": event["text"]},
                    }
                ],
            }
        ],
    }
