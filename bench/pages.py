"""Pages: server time and queries of the inbox, a conversation, search and the dashboard.

Every page is fetched in this process through django.test.Client (the whole middleware
stack, the production settings of bench/settings.py with DEBUG off), logged in as the
person who uses it: an agent for the inbox, conversations and search, the team lead for
the dashboard. The baseline is the trivial page of bench/urls.py fetched by the same
client right before each page (interleaved, so that a busy moment of the machine hits
both): the ratio p95(page) / p95(trivial) is what the page itself costs, its queries and
its template, on top of what every request pays (session, user, middleware).

Server time is the time of `Client.get`: no network, no browser. Queries are counted with
CaptureQueriesContext on separate, untimed requests (the debug cursor's bookkeeping would
otherwise be timed too). The dashboard alternates between its 7 and its 90 days in every
round, so that each sample is the first request after a change of period: the dashboard
caches nothing between requests (only the active norms within one request and the opening
hours' calendars in the process), so every request is "cold" for the application, while
PostgreSQL's buffers are as warm as on a server that serves it every day.

The slowest query of each page is explained (EXPLAIN (ANALYZE, BUFFERS)) into
<workdir>/plans/<page>.txt, and with --update-docs into docs/plans/<page>.txt.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bench.results import Figure, SectionResult, percentiles
from bench.urls import TRIVIAL_PATH

if TYPE_CHECKING:
    from django.test import Client

    from bench.suite import BenchContext

PLANS_DIRECTORY = Path(__file__).resolve().parent.parent / "docs" / "plans"

# Measuring stops after this many seconds (the rounds interleave all pages, so each page
# has about as many samples) or when every page has MAX_SAMPLES. The section's budget is
# 2.5 minutes at scale 1: the rest goes to choosing the pages, warming up and the plans.
MEASURE_SECONDS = 120.0
MAX_SAMPLES = 200
# Fewer rounds than this make a p99 meaningless: measuring goes on past the time budget.
MIN_SAMPLES = 30
# Untimed requests of every URL before measuring: the process's own caches (templates,
# translations, URL resolvers) and the first connection are not what a page costs.
WARM_UP_REQUESTS = 2

# Targets of the 95th percentile of server time, in milliseconds, and why (also in
# docs/fragments/pages.md). 0.1 s is what people perceive as instant and 1 s the limit of
# an uninterrupted flow of thought (Nielsen, "Response Times: The 3 Important Limits");
# the browser adds the network and the htmx swap on top of the server's time.
LIST_TARGET_MS = 200.0
SEARCH_TARGET_MS = 300.0
DASHBOARD_TARGET_MS = 1000.0
TARGET_REASONS = {
    "list": "an agent switches queues and opens rows all day: with the network and the "
    "swap it must stay near the 0.1 s that feels instant",
    "search": "an explicit question the agent waits for: a little more than a click",
    "dashboard": "a report a team lead opens a few times a day: within the 1 s that keeps "
    "the flow of thought",
}

# Words a search for "a common word" must not be: they carry no lexeme in Dutch full text
# anyway, and these are too short to be what an agent searches for.
MIN_WORD_LENGTH = 4
NO_HITS_QUERY = "zwxqvj"
# Texts read to find the search words: enough for a common word to stand out.
WORD_SAMPLE_TEXTS = 3000
# Candidates tried for "a rare word", the rarest wins; each costs one capped count.
RARE_WORD_CANDIDATES = 12
HIT_COUNT_CAP = 1000
# Most frequent word pairs tried for "a phrase"; the first without a stopword wins.
PHRASE_CANDIDATES = 50
# The slowest SELECTs of a page (by their time in the counted request) that are explained;
# the plan of the one PostgreSQL takes longest for is written.
PLAN_CANDIDATES = 4


@dataclass(frozen=True)
class Page:
    """One figure: a page fetched by one user, cycling through `paths`."""

    key: str
    name: str
    username: str
    paths: tuple[str, ...]
    kind: str  # "list", "search" or "dashboard": the target
    # Labels of the paths (a conversation's kind, a search's kind) for the details.
    labels: tuple[str, ...] = ()
    htmx: bool = False

    @property
    def target_ms(self) -> float:
        return {"search": SEARCH_TARGET_MS, "dashboard": DASHBOARD_TARGET_MS}.get(
            self.kind, LIST_TARGET_MS
        )

    def label_of(self, path: str) -> str:
        if self.labels:
            return self.labels[self.paths.index(path)]
        return path

    def headers(self, path: str) -> dict[str, str]:
        if not self.htmx:
            return {}
        # What htmx sends for `webcare:refresh`: the page's own URL tells the open row.
        return {"HX-Request": "true", "HX-Current-URL": f"http://testserver{path}"}


@dataclass(frozen=True)
class CapturedSelect:
    seconds: float
    sql: str
    # `SET LOCAL …` statements in effect when it ran: its plan is explained under them.
    settings: tuple[str, ...] = ()
    path: str = ""


@dataclass
class Samples:
    """Seconds per request of one page, per path, and what the untimed requests counted."""

    page: Page
    seconds: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    # The very first request of the run (cold caches of every kind), seconds.
    first_seconds: float | None = None
    # The SELECTs of the counted requests, for the plans.
    selects: list[CapturedSelect] = field(default_factory=list)

    def add(self, path: str, seconds: float) -> None:
        self.seconds.append(seconds)
        self.by_path.setdefault(path, []).append(seconds)


# --- choosing what to fetch ---------------------------------------------------------------


def busiest_agent(usernames: Sequence[str]) -> str:
    """The agent with the most open or pending conversations: "mine" is not empty."""
    from django.db.models import Count

    from inbox.models import Conversation

    if not usernames:
        raise LookupError("the benchmark database has no active agent")
    counts = dict(
        Conversation.objects.filter(
            assignee__username__in=usernames,
            status__in=["open", "pending"],
            merged_into__isnull=True,
        )
        .values("assignee__username")
        .annotate(n=Count("id"))
        .values_list("assignee__username", "n")
    )
    return max(usernames, key=lambda username: (counts.get(username, 0), username))


def conversation_spread() -> dict[str, int]:
    """Conversations of each shape an agent opens: a short one, the longest thread, a
    resolved one and one of the citizen with the most conversations (its history list).
    Label -> conversation id; a shape the data lacks is left out."""
    from django.db.models import Count

    from inbox.models import Conversation, Message

    spread: dict[str, int] = {}
    open_ids = Conversation.objects.filter(status="open", merged_into__isnull=True)
    short = (
        Message.objects.filter(conversation__in=open_ids.values("id")[:2000])
        .values("conversation_id")
        .annotate(n=Count("id"))
        .order_by("n", "conversation_id")
        .first()
    )
    if short is not None:
        spread["short open"] = short["conversation_id"]
    longest = (
        Message.objects.values("conversation_id")
        .annotate(n=Count("id"))
        .order_by("-n", "conversation_id")
        .first()
    )
    if longest is not None:
        spread["longest thread"] = longest["conversation_id"]
    resolved = (
        Conversation.objects.filter(status="resolved", merged_into__isnull=True)
        .order_by("-last_activity_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if resolved is not None:
        spread["resolved"] = resolved
    busiest_contact = (
        Conversation.objects.values("contact_id")
        .annotate(n=Count("id"))
        .order_by("-n", "contact_id")
        .first()
    )
    newest_of_contact = (
        Conversation.objects.filter(contact_id=busiest_contact["contact_id"])
        .order_by("-last_activity_at", "-id")
        .values_list("id", flat=True)
        .first()
        if busiest_contact is not None
        else None
    )
    if newest_of_contact is not None:
        spread["citizen with most conversations"] = newest_of_contact
    if not spread:
        raise LookupError("the benchmark database has no conversations")
    return spread


def words_by_frequency(texts: Iterable[str]) -> list[tuple[str, int]]:
    """Lower-cased words of at least MIN_WORD_LENGTH letters, most frequent first (ties by
    the word, so the choice is the same in every run)."""
    counts = Counter(
        word
        for text in texts
        for word in re.findall(r"[^\W\d_]+", text.lower())
        if len(word) >= MIN_WORD_LENGTH
    )
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def message_hits(query: str, cap: int = HIT_COUNT_CAP) -> int:
    """Messages the Dutch full-text query matches, counted up to `cap` + 1. On the very
    expression of the GIN index (the search selector's own): any other spelling of it
    would be computed for every one of a million rows."""
    from inbox.models import Message
    from inbox.selectors.search import message_document, message_query

    matches = Message.objects.annotate(document=message_document()).filter(
        document=message_query(query)
    )
    return matches.values("id")[: cap + 1].count()


def search_queries(seed: int) -> dict[str, str]:
    """What agents search for, taken from the data: its most common word, a rare one, a
    citizen's @handle, a phrase of two words as written, and a word nobody wrote.
    Label -> query."""
    from inbox.models import Contact, Message
    from inbox.selectors.search import query_has_lexemes

    newest = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # A spread of ids instead of ORDER BY random(): an index range, not a scan of the table.
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, no secret
    ids = sorted({rng.randint(1, newest) for _ in range(WORD_SAMPLE_TEXTS)}) if newest else []
    texts = list(
        Message.objects.filter(id__in=ids, direction="inbound").values_list("text", flat=True)
    )
    ranked = [word for word, _count in words_by_frequency(texts)]
    queries: dict[str, str] = {}
    common = next((word for word in ranked if query_has_lexemes(word)), None)
    if common is not None:
        queries["common word"] = common
    # A stopword has no lexeme: its query would match nothing, after reading every row.
    rarest = [word for word in reversed(ranked[1:]) if word != common]
    rarest = [word for word in rarest[: RARE_WORD_CANDIDATES * 2] if query_has_lexemes(word)]
    hits = {word: message_hits(word) for word in rarest[:RARE_WORD_CANDIDATES]}
    found = {word: count for word, count in hits.items() if count > 0}
    if found:
        queries["rare word"] = min(found, key=lambda word: (found[word], word))
    # Both words must count in Dutch full text: "voor mijn" is two stopwords.
    phrase = next(
        (
            pair
            for pair in phrases_by_frequency(texts)[:PHRASE_CANDIDATES]
            if all(query_has_lexemes(word) for word in pair.split())
        ),
        None,
    )
    if phrase:
        queries["phrase"] = f'"{phrase}"'
    handle = (
        Contact.objects.exclude(username="")
        .order_by("-id")
        .values_list("username", flat=True)
        .first()
    )
    if handle:
        queries["handle"] = f"@{handle}"
    queries["no hits"] = NO_HITS_QUERY
    return queries


def phrases_by_frequency(texts: Iterable[str]) -> list[str]:
    """Pairs of neighbouring words (each of at least MIN_WORD_LENGTH letters), most often
    written first: the words of a quoted phrase."""
    pairs: Counter[str] = Counter()
    for text in texts:
        words = re.findall(r"[^\W\d_]+", text.lower())
        pairs.update(
            f"{first} {second}"
            for first, second in pairwise(words)
            if len(first) >= MIN_WORD_LENGTH and len(second) >= MIN_WORD_LENGTH
        )
    return [pair for pair, _count in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))]


def build_pages(
    *, agent: str, team_lead: str, conversations: dict[str, int], searches: dict[str, str]
) -> list[Page]:
    def inbox(query: dict[str, str]) -> str:
        return "/" + (f"?{urlencode(query)}" if query else "")

    return [
        Page("inbox", "inbox, default queue (mine)", agent, (inbox({}),), "list"),
        Page("inbox-all", "inbox, all open", agent, (inbox({"queue": "all"}),), "list"),
        Page("inbox-teams", "inbox, my teams", agent, (inbox({"queue": "teams"}),), "list"),
        Page(
            "inbox-unassigned",
            "inbox, unassigned",
            agent,
            (inbox({"queue": "unassigned"}),),
            "list",
        ),
        Page(
            "inbox-list-pane",
            "list pane (live refresh), all open",
            agent,
            ("/inbox/list/?queue=all",),
            "list",
            htmx=True,
        ),
        Page(
            "conversation",
            "conversation view",
            agent,
            tuple(f"/conversations/{pk}/" for pk in conversations.values()),
            "list",
            labels=tuple(conversations),
        ),
        Page(
            "search",
            "search",
            agent,
            tuple("/search/?" + urlencode({"q": text}) for text in searches.values()),
            "search",
            labels=tuple(searches),
        ),
        Page(
            "dashboard-7d", "dashboard, 7 days", team_lead, ("/dashboard/?range=7d",), "dashboard"
        ),
        Page(
            "dashboard-90d",
            "dashboard, 90 days",
            team_lead,
            ("/dashboard/?range=90d",),
            "dashboard",
        ),
    ]


# --- measuring ----------------------------------------------------------------------------


class PageFailed(Exception):
    """A page did not answer 200: a correctness problem, not a speed figure."""


def _get(client: Client, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise PageFailed(f"GET {path} answered {response.status_code}")
    return seconds


def count_queries(client: Client, page: Page, path: str) -> tuple[int, list[dict[str, str]]]:
    """Queries of one untimed request, and the captured queries (sql, time)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=page.headers(path))
    if response.status_code != 200:
        raise PageFailed(f"GET {path} answered {response.status_code}")
    return len(captured.captured_queries), list(captured.captured_queries)


def selects_of(queries: Iterable[dict[str, str]], path: str = "") -> list[CapturedSelect]:
    """The captured SELECTs, slowest first (EXPLAIN ANALYZE of a write would write), each
    with the `SET LOCAL` settings of its transaction (search turns plain index scans off
    for one query: its plan is only true under that setting)."""
    selects: list[CapturedSelect] = []
    settings: list[str] = []
    for query in queries:
        sql = query["sql"].strip()
        keyword = sql.split(None, 1)[0].upper() if sql else ""
        if keyword in ("BEGIN", "COMMIT", "ROLLBACK"):
            settings = []
        elif sql.upper().startswith("SET LOCAL "):
            settings.append(sql)
        elif keyword in ("SELECT", "WITH"):
            selects.append(
                CapturedSelect(float(query["time"]), query["sql"], tuple(settings), path)
            )
    return sorted(selects, key=lambda select: -select.seconds)


def measure(
    pages: Sequence[Page],
    clients: dict[str, Client],
    *,
    seconds: float = MEASURE_SECONDS,
    max_samples: int = MAX_SAMPLES,
    min_samples: int = MIN_SAMPLES,
    warm_up: int = WARM_UP_REQUESTS,
    check_stop: Any = None,
) -> tuple[dict[str, Samples], dict[str, list[float]]]:
    """Samples of every page, and of the trivial page per user, interleaved round by round:
    trivial page, page, trivial page, next page … Returns (page key -> Samples, username ->
    trivial seconds)."""
    samples = {page.key: Samples(page) for page in pages}
    trivial: dict[str, list[float]] = {username: [] for username in clients}
    for page in pages:
        client = clients[page.username]
        for path in page.paths:
            for attempt in range(warm_up):
                seconds_taken = _get(client, path, page.headers(path))
                if attempt == 0 and samples[page.key].first_seconds is None:
                    samples[page.key].first_seconds = seconds_taken
            count, captured = count_queries(client, page, path)
            samples[page.key].queries[path] = count
            samples[page.key].selects.extend(selects_of(captured, path))
        _get(client, TRIVIAL_PATH, {})
    started = time.monotonic()
    round_number = 0
    while round_number < max_samples:
        if round_number >= min_samples and time.monotonic() - started > seconds:
            break
        if check_stop is not None:
            check_stop()
        for page in pages:
            client = clients[page.username]
            path = page.paths[round_number % len(page.paths)]
            trivial[page.username].append(_get(client, TRIVIAL_PATH, {}))
            samples[page.key].add(path, _get(client, path, page.headers(path)))
        round_number += 1
    return samples, trivial


# --- plans --------------------------------------------------------------------------------


def sql_shape(sql: str, limit: int = 400) -> str:
    """The query in one line, literals shortened, cut at `limit` characters: a header that
    says which query the plan is of, without its values."""
    shape = re.sub(r"\s+", " ", sql).strip()
    shape = re.sub(
        r"'(?:[^']|'')*'", lambda match: "'…'" if len(match.group()) > 12 else match.group(), shape
    )
    shape = re.sub(r"\bIN \((?:[^()]*,){3,}[^()]*\)", "IN (…)", shape)
    return shape if len(shape) <= limit else shape[: limit - 1] + "…"


def explain(sql: str, settings: Sequence[str] = ()) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a SELECT under the `SET LOCAL` settings it ran with,
    in a transaction that is rolled back."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(setting)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    return "\n".join(lines)


def plan_document(page: Page, select: CapturedSelect, plan: str) -> str:
    settings = f"Run under: {'; '.join(select.settings)}\n" if select.settings else ""
    return (
        f"Page: {page.name} ({select.path}), its slowest query ({select.seconds * 1000:.1f} "
        "ms in the counted request).\n"
        "Written by `python -m bench` (bench/pages.py); EXPLAIN (ANALYZE, BUFFERS) on the "
        f"benchmark's dataset.\n{settings}"
        f"SQL shape: {sql_shape(select.sql)}\n\n{plan}\n"
    )


def execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(found.group(1)) if found else 0.0


def write_plans(
    samples: dict[str, Samples], directories: Sequence[Path], candidates: int = PLAN_CANDIDATES
) -> dict[str, dict[str, Any]]:
    """The plan of each page's slowest query into `<directory>/<page key>.txt`. A single
    request's timings are noisy on a busy machine, so the few slowest are explained and the
    one PostgreSQL took longest for is kept."""
    written: dict[str, dict[str, Any]] = {}
    for key, page_samples in samples.items():
        distinct: dict[str, CapturedSelect] = {}
        for select in sorted(page_samples.selects, key=lambda select: -select.seconds):
            distinct.setdefault(select.sql, select)
        explained = [
            (execution_ms(plan), select, plan)
            for select in list(distinct.values())[:candidates]
            for plan in [explain(select.sql, select.settings)]
        ]
        if not explained:
            continue
        milliseconds, select, plan = max(explained, key=lambda item: item[0])
        text = plan_document(page_samples.page, select, plan)
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{key}.txt").write_text(text, encoding="utf-8")
        written[key] = {
            "query_ms": round(select.seconds * 1000, 1),
            "explain_execution_ms": milliseconds,
            "path": select.path,
            "file": f"plans/{key}.txt",
        }
    return written


# --- the section --------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def figure_of(page_samples: Samples, trivial: list[float]) -> Figure:
    page = page_samples.page
    page_ms = {name: value * 1000 for name, value in percentiles(page_samples.seconds).items()}
    trivial_ms = {name: value * 1000 for name, value in percentiles(trivial).items()}
    queries = max(page_samples.queries.values()) if page_samples.queries else None
    fewest = min(page_samples.queries.values()) if page_samples.queries else None
    query_text = f"{queries} queries" if fewest == queries else f"{fewest}–{queries} queries"
    note = (
        f"p50 {page_ms['p50']:.0f} ms, p99 {page_ms['p99']:.0f} ms ({len(page_samples.seconds)} "
        f"samples; trivial page p50 {trivial_ms['p50']:.1f} ms); {query_text}"
    )
    if page.kind == "dashboard" and page_samples.first_seconds is not None:
        note += f"; first request of the run {page_samples.first_seconds * 1000:.0f} ms"
    return Figure(
        name=f"{page.name}, p95 server time",
        value=round(page_ms["p95"], 1),
        unit="ms",
        baseline=round(trivial_ms["p95"], 2),
        baseline_name="trivial page p95",
        target=f"p95 ≤ {page.target_ms:,.0f} ms",
        met=page_ms["p95"] <= page.target_ms,
        queries=queries,
        note=note,
    )


def _clients(usernames: Iterable[str]) -> dict[str, Client]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    clients = {}
    for username in usernames:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        clients[username] = client
    return clients


def run(ctx: BenchContext) -> SectionResult:
    from bench.common import agent_usernames, team_lead_username

    result = SectionResult(key="pages", title="Pages")
    started = time.monotonic()
    agent = busiest_agent(ctx.dataset.get("agents") or agent_usernames())
    team_lead = ctx.dataset.get("team_lead") or team_lead_username()
    conversations = conversation_spread()
    searches = search_queries(ctx.seed)
    pages = build_pages(
        agent=agent, team_lead=team_lead, conversations=conversations, searches=searches
    )
    ctx.say(
        f"pages: {len(pages)} pages as {agent} and {team_lead}; conversations "
        f"{conversations}; searches {searches}"
    )
    clients = _clients({agent, team_lead})
    chosen = time.monotonic()
    try:
        # A smaller dataset gets fewer samples (at least MIN_SAMPLES): a quick run's figures
        # only prove that every page answers; the full run's need a p99.
        samples, trivial = measure(
            pages,
            clients,
            max_samples=max(MIN_SAMPLES, round(MAX_SAMPLES * min(ctx.scale, 1.0))),
            check_stop=ctx.check_stop,
        )
    except PageFailed as error:
        result.problems.append(str(error))
        return result
    measured = time.monotonic()
    for page in pages:
        result.add(figure_of(samples[page.key], trivial[page.username]))
    directories = [ctx.workdir / "plans"]
    if getattr(ctx.arguments, "update_docs", False):
        directories.append(PLANS_DIRECTORY)
    plans = write_plans(samples, directories)
    result.details = {
        "seconds": {
            "choosing": round(chosen - started, 1),
            "measuring": round(measured - chosen, 1),
            "plans": round(time.monotonic() - measured, 1),
        },
        "rounds": len(samples[pages[0].key].seconds),
        "agent": agent,
        "team_lead": team_lead,
        "conversations": conversations,
        "searches": searches,
        "targets_ms": {page.key: page.target_ms for page in pages},
        "target_reasons": TARGET_REASONS,
        "trivial_ms": {
            username: {name: _ms(value) for name, value in percentiles(values).items()}
            for username, values in trivial.items()
        },
        "pages": {
            page.key: {
                "paths": {
                    page.label_of(path): {
                        "path": path,
                        "queries": samples[page.key].queries.get(path),
                        **{
                            name: _ms(value)
                            for name, value in percentiles(samples[page.key].by_path[path]).items()
                        },
                    }
                    for path in page.paths
                    if samples[page.key].by_path.get(path)
                },
                "first_request_ms": _ms(samples[page.key].first_seconds or 0.0),
            }
            for page in pages
        },
        "plans": plans,
    }
    return result
