"""The simulated agents: a locustfile, started by bench/load/runner.py.

Each locust user is one agent with an account of its own, doing what the browser does for
an agent working the inbox (docs/architecture.md, "The agent's screen"):

- logs in (the login form, with its CSRF token) and loads the inbox page;
- polls `/live/changes/?since=<cursor>` every 1.5 s, as static/js/live.js does, and on a
  change reloads what the browser would: the list pane (`/inbox/list/`), the open
  conversation's thread and state, the team panel;
- while a conversation is open, polls its collision check (`…/activity/`) every 2 s and,
  while typing, signals it (`…/typing/`) every 3 s;
- works conversations from the top of its list: opens one in the pane, reads, sometimes
  takes it, writes and sends a reply (the composer's form with its idempotency key), and
  sometimes resolves it; switches queue now and then, and searches occasionally.

Every request must answer what a browser expects (200, 204 or the redirect back to the
inbox); anything else is a failure. Configured by environment variables (set by the
runner): LOAD_AGENT_USERNAMES, LOAD_AGENT_PASSWORD, LOAD_RESULT_PATH, LOAD_SEED.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from bench.load.pages import (
    Form,
    Page,
    conversation_ids_in,
    list_needs_refresh,
    parse_page,
)
from bench.load.report import INBOX_PAGE

LIVE_POLL_SECONDS = 1.5  # static/js/live.js
ACTIVITY_POLL_SECONDS = 2.0  # templates/inbox/_conversation_collision.html, "every 2s"
TYPING_SIGNAL_SECONDS = 3.0  # static/js/webcare.js, TYPING_SIGNAL_INTERVAL_MS

USERNAMES = [name for name in os.environ.get("LOAD_AGENT_USERNAMES", "").split(",") if name]
PASSWORD = os.environ.get("LOAD_AGENT_PASSWORD", "")
SEED = os.environ.get("LOAD_SEED", "1")
# Measured: this long after the last agent is logged in with the inbox loaded.
MEASURE_SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
# "listed-only": as static/js/live.js does (pages.list_needs_refresh). "every-change": as it
# did before, any changed conversation anywhere reloads the list; kept for comparison.
LIST_REFRESH = os.environ.get("LOAD_LIST_REFRESH", "listed-only")
_next_account = itertools.count()

QUEUES = ("mine", "mine", "mine", "teams", "unassigned", "all")
SEARCH_TERMS = (
    "container",
    "grofvuil",
    "parkeervergunning",
    "paspoort",
    "lantaarnpaal",
    "afvalkalender",
    "boete",
    "stoep",
)
# Plain answers: no personal data (the guard would ask for a reason) and no flagged words
# (four-eyes approval), as most replies are. Opening, answer and a case number: X refuses a
# second post with the same text from one account, as it would an agent's copy and paste.
REPLY_OPENINGS = (
    "Dank voor uw bericht.",
    "Vervelend om te horen!",
    "Goed dat u het meldt.",
    "Bedankt voor het doorgeven.",
)
REPLY_ANSWERS = (
    "We zoeken dit voor u uit en komen er vandaag op terug.",
    "We hebben het doorgegeven aan de collega's van de buitendienst.",
    "De melding staat nu bij het team dat erover gaat.",
    "Op onze website leest u hoe dit werkt; lukt het niet, laat het ons weten.",
)

HTMX = {"HX-Request": "true"}
BACKGROUND = {"X-Webcare-Poll": "1"}  # what live.js adds to requests the agent did not cause


class _WarmUp:
    """Logging in is measured apart: fifty agents arriving in the same few seconds hash
    fifty passwords (PBKDF2, by design slow), which says nothing about the inbox. When the
    last agent has its inbox on screen, the figures so far are kept as the warm-up, the
    statistics start again, and the test stops MEASURE_SECONDS later."""

    def __init__(self) -> None:
        self.ready = 0
        self.began = time.monotonic()
        self.seconds: float | None = None
        self.entries: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []

    def agent_ready(self, environment: Environment) -> None:
        self.ready += 1
        runner = environment.runner
        if runner is None or self.ready != runner.target_user_count:
            return
        self.seconds = round(time.monotonic() - self.began, 1)
        self.entries, self.errors = _serialised(environment)
        environment.stats.reset_all()
        gevent.spawn_later(MEASURE_SECONDS, runner.quit)


_WARM_UP = _WarmUp()


class AgentUser(FastHttpUser):
    """One agent at the screen; think times are part of the tasks (polling goes on)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        number = next(_next_account)
        self.username = USERNAMES[number % len(USERNAMES)]
        self.rng = random.Random(f"{SEED}:{self.username}")  # noqa: S311 - not for security
        self.page_url = "/"
        self.listed_ids: list[int] = []
        self.open_id: int | None = None
        self.page: Page | None = None
        self.cursor = ""
        self.next_live_poll = 0.0
        self.next_activity_poll = 0.0
        self.newest_seen_message = 0
        self.log_in()
        self.load_page("/")
        self.live_poll()
        _WARM_UP.agent_ready(self.environment)
        # Agents do not all start in the same second of the shift.
        self.think(self.rng.uniform(0, 3))

    # --- what the browser does by itself -----------------------------------------------

    def think(self, seconds: float, *, typing: bool = False) -> None:
        """Wait like a person reading or typing, while the page keeps polling: whichever of
        the page's timers is due first runs first, as in the browser."""
        end = time.monotonic() + seconds
        next_typing = time.monotonic() if typing else float("inf")
        while True:
            timers = [(self.next_live_poll, self.live_poll), (next_typing, self.typing_signal)]
            if self.open_id is not None:
                timers.append((self.next_activity_poll, self.activity_poll))
            due_at, action = min(timers, key=lambda timer: timer[0])
            now = time.monotonic()
            if due_at > now:
                if end <= due_at:
                    time.sleep(max(0.0, end - now))
                    return
                time.sleep(due_at - now)
            if action == self.typing_signal:
                next_typing = time.monotonic() + TYPING_SIGNAL_SECONDS
            action()
            if time.monotonic() >= end:
                return

    def live_poll(self) -> None:
        query = "?" + urlencode({"since": self.cursor}) if self.cursor else ""
        response = self.fetch(
            "GET",
            f"/live/changes/{query}",
            "GET /live/changes/ (poll)",
            expect=(200, 204),
            headers={"Accept": "application/json", **BACKGROUND},
        )
        # live.js schedules the next poll 1.5 s after the answer, not after the question: a
        # slow server is asked less often. (The refreshes below run meanwhile there.)
        self.next_live_poll = time.monotonic() + LIVE_POLL_SECONDS
        if response.status_code != 200:
            return
        try:
            changes = response.json()
        except ValueError:
            return
        starting = not self.cursor
        self.cursor = changes.get("cursor", self.cursor)
        if starting:
            return
        changed = changes.get("conversation_ids")
        if list_needs_refresh(changes, self.listed_ids, rule=LIST_REFRESH):
            self.refresh_list()
        if self.open_id is not None and (changed is None or self.open_id in changed):
            self.fetch(
                "GET",
                f"/conversations/{self.open_id}/thread/",
                "GET /conversations/[id]/thread/ (live refresh)",
                headers=self.htmx_headers(background=True),
            )
            self.fetch(
                "GET",
                f"/conversations/{self.open_id}/state/",
                "GET /conversations/[id]/state/ (live refresh)",
                headers=self.htmx_headers(background=True),
            )
        if changes.get("presence_changed"):
            self.fetch(
                "GET",
                "/live/team-presence/",
                "GET /live/team-presence/",
                headers=self.htmx_headers(background=True),
            )

    def refresh_list(self) -> None:
        query = urlsplit(self.page_url).query
        response = self.fetch(
            "GET",
            "/inbox/list/" + (f"?{query}" if query else ""),
            "GET /inbox/list/ (list refresh)",
            headers=self.htmx_headers(background=True),
        )
        if response.status_code == 200:
            self.listed_ids = conversation_ids_in(response.text)

    def activity_poll(self) -> None:
        self.next_activity_poll = time.monotonic() + ACTIVITY_POLL_SECONDS
        self.fetch(
            "GET",
            f"/conversations/{self.open_id}/activity/?seen={self.newest_seen_message}",
            "GET /conversations/[id]/activity/ (collision poll)",
            headers=self.htmx_headers(background=True),
        )

    def typing_signal(self) -> None:
        reply_form = self.page.form("/reply/") if self.page else None
        if reply_form is None or self.open_id is None:
            return
        self.fetch(
            "POST",
            f"/conversations/{self.open_id}/typing/",
            "POST /conversations/[id]/typing/",
            expect=(204,),
            headers={"X-CSRFToken": reply_form.fields.get("csrfmiddlewaretoken", "")},
        )

    # --- what the agent does -------------------------------------------------------------

    @task(6)
    def work_a_conversation(self) -> None:
        if not self.listed_ids:
            self.switch_queue(self.rng.choice(("all", "unassigned")))
            return
        # j/k from the top: the most urgent, longest waiting conversations come first.
        conversation_id = self.rng.choice(self.listed_ids[:8])
        self.open_in_pane(conversation_id)
        self.think(self.rng.uniform(3, 8))
        take = self.page.form("/take/") if self.page else None
        if take is not None and self.rng.random() < 0.5:
            self.submit(take, "POST /conversations/[id]/take/")
        reply = self.page.form("/reply/") if self.page else None
        if reply is not None and not reply.submit_disabled and self.rng.random() < 0.7:
            self.think(self.rng.uniform(4, 10), typing=True)
            self.send_reply(reply)
        resolve = self.page.form("/resolve/") if self.page else None
        if resolve is not None and self.rng.random() < 0.3:
            self.think(self.rng.uniform(1, 2))
            self.submit(resolve, "POST /conversations/[id]/resolve/")
        self.think(self.rng.uniform(1, 4))

    @task(2)
    def switch_queue(self, queue: str | None = None) -> None:
        queue = queue or self.rng.choice(QUEUES)
        query = {"queue": queue} if queue != "mine" else {}
        if self.rng.random() < 0.2:
            query["status"] = self.rng.choice(("open", "pending"))
        url = "/" + (f"?{urlencode(query)}" if query else "")
        if self.rng.random() < 0.2:
            self.load_page(url)  # a reload, or a link opened without htmx
        else:
            # htmx swaps only the queues and the list; the open conversation stays.
            response = self.fetch(
                "GET", url, "GET /?queue= (htmx queue switch)", headers=self.htmx_headers()
            )
            if response.status_code == 200:
                self.listed_ids = conversation_ids_in(response.text)
                self.page_url = response.headers.get("HX-Push-Url", url)
                if self.open_id is not None:
                    self.page_url = _with_open(self.page_url, self.open_id)
        self.think(self.rng.uniform(2, 5))

    @task(1)
    def search(self) -> None:
        term = self.rng.choice(SEARCH_TERMS)
        self.fetch("GET", "/search/?" + urlencode({"q": term}), "GET /search/?q=")
        self.think(self.rng.uniform(3, 6))
        # Back to the inbox: htmx asks the server for the whole page again.
        self.load_page(self.page_url, history_restore=True)
        self.think(self.rng.uniform(1, 3))

    # --- steps ---------------------------------------------------------------------------

    def log_in(self) -> None:
        self.fetch("GET", "/login/", "GET /login/")
        response = self.fetch(
            "POST",
            "/login/",
            "POST /login/",
            expect=(302,),
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": next(
                    (
                        cookie.value or ""
                        for cookie in self.client.cookiejar
                        if cookie.name == "csrftoken"
                    ),
                    "",
                ),
            },
        )
        if response.status_code != 302:
            # Counted as a failed request already; an agent who cannot log in stops.
            raise RuntimeError(f"{self.username} could not log in")

    def load_page(self, url: str, *, history_restore: bool = False) -> None:
        """The whole inbox page (queues, list and, with `open=`, the conversation)."""
        headers = {**HTMX, "HX-History-Restore-Request": "true"} if history_restore else None
        response = self.fetch("GET", url, INBOX_PAGE, headers=headers)
        if response.status_code != 200:
            return
        self.page_url = url
        self.page = parse_page(response.text)
        self.listed_ids = self.page.conversation_ids
        open_values = [v for k, v in _query_items(url) if k == "open"]
        self.open_id = int(open_values[0]) if open_values and open_values[0].isdigit() else None
        self.newest_seen_message = _seen_message_id(self.page)

    def open_in_pane(self, conversation_id: int) -> None:
        url = _with_open(self.page_url, conversation_id)
        query = urlsplit(url).query
        response = self.fetch(
            "GET",
            f"/inbox/conversations/{conversation_id}/pane/?{query}",
            "GET /inbox/conversations/[id]/pane/",
            headers=self.htmx_headers(),
        )
        if response.status_code != 200:
            return
        self.page_url = url
        self.open_id = conversation_id
        self.page = parse_page(response.text)
        self.newest_seen_message = _seen_message_id(self.page)
        self.next_activity_poll = time.monotonic()
        # HX-Trigger-After-Swap: webcare:refresh makes the list show the row as read.
        self.refresh_list()

    def send_reply(self, form: Form) -> None:
        text = (
            f"{self.rng.choice(REPLY_OPENINGS)} {self.rng.choice(REPLY_ANSWERS)} "
            f"Zaaknummer WC-{self.rng.randrange(10_000, 100_000)}."
        )
        fields = {**form.fields, "text": text}
        response = self.fetch(
            "POST",
            form.action,
            "POST /conversations/[id]/reply/",
            expect=(302, 422),
            data=fields,
            accept_422=lambda text: 'name="confirmed_despite_newer"' in text,
        )
        if response.status_code == 422:
            # The citizen wrote again while the agent typed: the composer asks to confirm
            # ("Send anyway"), as it would ask a person.
            fields["confirmed_despite_newer"] = "on"
            response = self.fetch(
                "POST",
                form.action,
                "POST /conversations/[id]/reply/ (send anyway)",
                expect=(302,),
                data=fields,
            )
        self.follow_back_to_inbox(response)

    def submit(self, form: Form, name: str) -> None:
        response = self.fetch("POST", form.action, name, expect=(302,), data=form.fields)
        self.follow_back_to_inbox(response)

    def follow_back_to_inbox(self, response: Any) -> None:
        location = response.headers.get("Location", "") if response.status_code == 302 else ""
        if location.startswith("/?") or location == "/":
            self.load_page(location)
        elif location:
            self.fetch("GET", location, "GET /conversations/[id]/ (after action)")

    # --- plumbing ------------------------------------------------------------------------

    def htmx_headers(self, *, background: bool = False) -> dict[str, str]:
        headers = {**HTMX, "HX-Current-URL": (self.host or "").rstrip("/") + self.page_url}
        return {**headers, **BACKGROUND} if background else headers

    def fetch(
        self,
        method: str,
        url: str,
        name: str,
        *,
        expect: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        accept_422: Any = None,
    ) -> Any:
        """One request, judged as a browser would: an unexpected status (a redirect to the
        login page included) is a failure, with the start of the answer as its reason."""
        headers = dict(headers or {})
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with self.client.request(
            method,
            url,
            name=name,
            headers=headers,
            data=body,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            status = response.status_code
            if status not in expect or (
                status == 422 and (accept_422 is None or not accept_422(response.text))
            ):
                detail = response.headers.get("Location") or (response.text or "")[:300]
                response.failure(f"HTTP {status} for {method} {url}: {detail!r}")
            else:
                response.success()
        return response


def _query_items(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


def _with_open(url: str, conversation_id: int) -> str:
    items = [(k, v) for k, v in _query_items(url) if k != "open"]
    return "/?" + urlencode([*items, ("open", str(conversation_id))])


def _seen_message_id(page: Page) -> int:
    reply = page.form("/reply/")
    raw = reply.fields.get("seen_message_id", "") if reply else ""
    return int(raw) if raw.isdigit() else 0


@events.quitting.add_listener
def _write_result(environment: Environment, **_kwargs: Any) -> None:
    """The raw figures for the runner: each endpoint's response-time histogram (so the
    runner computes its own percentiles), the errors, and exceptions in agents' code."""
    path = os.environ.get("LOAD_RESULT_PATH")
    if not path:
        return
    entries, errors = _serialised(environment)
    runner = environment.runner
    exceptions = [
        {"count": item["count"], "msg": item["msg"], "traceback": item["traceback"]}
        for item in (runner.exceptions.values() if runner is not None else [])
    ]
    with open(path, "w", encoding="utf-8") as result:
        json.dump(
            {
                "entries": entries,
                "errors": errors,
                "exceptions": exceptions,
                "agents_ready": _WARM_UP.ready,
                "warm_up": {
                    "seconds": _WARM_UP.seconds,
                    "entries": _WARM_UP.entries,
                    "errors": _WARM_UP.errors,
                },
            },
            result,
        )


def _serialised(environment: Environment) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stats = environment.stats
    entries = [
        {
            "method": entry.method,
            "name": entry.name,
            "num_requests": entry.num_requests,
            "num_failures": entry.num_failures,
            "total_response_time": entry.total_response_time,
            "max_response_time": entry.max_response_time,
            "response_times": dict(entry.response_times),
        }
        for entry in stats.entries.values()
        if entry.num_requests or entry.num_failures
    ]
    return entries, [error.to_dict() for error in stats.errors.values()]
