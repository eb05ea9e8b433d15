"""Latency: from a citizen's message on the sandbox platform to an agent's inbox, per path.

What is timed, per message (a "probe"): from the moment the benchmark asks the sandbox
platform to publish it (the POST to its /_sandbox/ control API) to the first answer of
`/live/changes/` (inbox/views/live.py, the endpoint static/js/live.js polls) that reports
it to a logged-in agent: an answer whose cursor includes the message and whose changed
conversations include its conversation. That answer is what makes the browser announce
"new message", put the count in the tab title and reload the list. A watcher polls it
every WATCH_SECONDS, as an agent's browser would but faster, so the figure is the time
until any browser's next poll shows it; the browser's own poll interval (POLL_MS in
live.js, 1.5 s) then adds between nothing and one interval, reported as a second figure
(the measured latency plus a uniformly random phase of that interval, seeded). A message
the live cursor passed before its commit (ids are handed out at insert, rows seen at
commit) counts as shown by the first answer after its commit, and is counted apart
(`skipped_by_live_cursor`, docs/architecture.md "Live updates", known limit).

Two paths, each with its own baseline:
- poll-based (X mentions and direct messages, Mastodon mentions): the channel's poll
  interval plus one second, the longest a citizen can wait when polling is on time;
- webhook-based (Facebook comments and Messenger, delivered by the sandbox as signed
  webhooks to gunicorn, like Meta): one second.

Processes: gunicorn, a Celery worker, beat and the sandbox, with the production settings.
Probes are published at seeded random moments of a window of WINDOW_SECONDS (five poll
cycles), concurrently and staggered, so that they fall at every phase of the channels' poll
cycles.
"""

from __future__ import annotations

import itertools
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bench.common import point_channels_at_sandbox
from bench.results import Figure, SectionResult, percentiles

if TYPE_CHECKING:
    from bench.suite import BenchContext

LIVE_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "live.js"
LIVE_CHANGES_PATH = "/live/changes/"
# The watcher's poll period: the figures' resolution (plus one request's time).
WATCH_SECONDS = 0.1
# Probes per path at --scale 1, and the fewest at any scale (a p95 needs a few dozen).
PROBES_PER_PATH = 40
MIN_PROBES_PER_PATH = 12
WINDOW_SECONDS = 50.0
WEBHOOK_BASELINE_SECONDS = 1.0
# How often the benchmark looks for the probes' rows (the resolution of "committed").
STORED_CHECK_SECONDS = 0.1
# Platform ids the sandbox gives Facebook comments ("<post>_9000001") and Messenger messages.
SANDBOX_FACEBOOK_ID = r"^([0-9]+_9[0-9]{6,}|m_sandbox[0-9]+)$"
MARKER = re.compile(r"LAT-[0-9a-f]+-\d{3}")


@dataclass(frozen=True)
class ProbeKind:
    """One way a citizen writes to the municipality, and how the sandbox is asked for it."""

    name: str
    path: str  # "poll" or "webhook"
    channel_kind: str
    control_route: str
    body: Callable[[str, str], dict[str, Any]]


PROBE_KINDS: tuple[ProbeKind, ...] = (
    ProbeKind(
        "X mention",
        "poll",
        "twitter",
        "/_sandbox/mentions",
        lambda text, who: {"text": text, "author": {"username": who}},
    ),
    ProbeKind(
        "X direct message",
        "poll",
        "twitter",
        "/_sandbox/direct_messages",
        lambda text, who: {"text": text, "author": {"username": who}},
    ),
    ProbeKind(
        "Mastodon mention",
        "poll",
        "mastodon",
        "/_sandbox/mastodon/mentions",
        lambda text, who: {"text": text, "author": {"username": who}},
    ),
    ProbeKind(
        "Facebook comment",
        "webhook",
        "facebook",
        "/_sandbox/facebook/comments",
        lambda text, who: {"text": text, "name": who},
    ),
    ProbeKind(
        "Messenger message",
        "webhook",
        "facebook",
        "/_sandbox/facebook/messages",
        lambda text, who: {"text": text, "name": who},
    ),
)


@dataclass
class Probe:
    """One citizen message: when it is due, and what happened to it (wall-clock seconds)."""

    number: int
    kind: ProbeKind
    offset: float  # seconds after the window opens
    marker: str
    published_at: float | None = None
    publish_error: str = ""
    message_id: int | None = None
    conversation_id: int | None = None
    stored_at: float | None = None  # Message.created_at: the row's insert, before commit
    committed_seen_at: float | None = None  # when the benchmark's reads first saw the row
    visible_at: float | None = None
    # Reported after its commit by an answer not listing it: the cursor had passed its id.
    skipped_by_cursor: bool = False

    @property
    def text(self) -> str:
        return f"Vraag over de afvalinzameling, kenmerk {self.marker}"

    @property
    def latency(self) -> float | None:
        if self.published_at is None or self.visible_at is None:
            return None
        return self.visible_at - self.published_at


@dataclass(frozen=True)
class LiveAnswer:
    """A 200 answer of /live/changes/: when it arrived and what it reported."""

    at: float
    message_id: int  # the cursor's newest message id
    conversation_ids: frozenset[int] | None  # None: "too much changed, reload everything"


def probe_schedule(
    rng: random.Random, *, poll_probes: int, webhook_probes: int, window: float, run_tag: str
) -> list[Probe]:
    """The probes of a run at independent uniformly random moments of the window, kinds
    taking turns within each path, ordered by their moment."""
    kinds = {
        path: [kind for kind in PROBE_KINDS if kind.path == path] for path in ("poll", "webhook")
    }
    chosen = [kinds["poll"][i % len(kinds["poll"])] for i in range(poll_probes)] + [
        kinds["webhook"][i % len(kinds["webhook"])] for i in range(webhook_probes)
    ]
    offsets = sorted(rng.uniform(0, window) for _ in chosen)
    rng.shuffle(chosen)
    return [
        Probe(number=number, kind=kind, offset=offset, marker=f"LAT-{run_tag}-{number:03d}")
        for number, (kind, offset) in enumerate(zip(chosen, offsets, strict=True))
    ]


def cursor_message_id(cursor: str) -> int:
    """The message part of a live cursor "<audit event id>.<message id>"."""
    _, _, message_part = cursor.partition(".")
    return int(message_part)


def first_visible(
    answers: Sequence[LiveAnswer],
    *,
    message_id: int,
    conversation_id: int,
    not_before: float,
    committed_seen_at: float | None,
) -> tuple[float | None, bool]:
    """When an agent's screen first showed the message, and whether only by the fallback.

    Normally the first answer after `not_before` whose cursor covers the message and whose
    changed conversations include its conversation (or that says "everything changed").
    But ids are handed out at insert and rows seen at commit: when a later id commits first,
    the cursor passes the message before it is committed, and no answer lists it
    (docs/architecture.md, "Live updates", known limit). The screen then shows it with the
    next answer after its commit (the counts and panes are read from the database), so
    that answer counts, and the second value says it was needed.
    """
    listed = next(
        (
            answer.at
            for answer in answers
            if answer.at >= not_before
            and answer.message_id >= message_id
            and (answer.conversation_ids is None or conversation_id in answer.conversation_ids)
        ),
        None,
    )
    if listed is not None or committed_seen_at is None:
        return listed, False
    after_commit = next((a.at for a in answers if a.at >= committed_seen_at), None)
    return after_commit, after_commit is not None


def browser_poll_seconds(source: str | None = None) -> float:
    """POLL_MS of static/js/live.js, in seconds: how often an agent's browser asks."""
    text = LIVE_JS.read_text(encoding="utf-8") if source is None else source
    match = re.search(r"\bvar\s+POLL_MS\s*=\s*(\d+)\s*;", text)
    if match is None:
        raise ValueError("static/js/live.js has no `var POLL_MS = <milliseconds>;`")
    return int(match.group(1)) / 1000


def with_browser_phase(
    latencies: Sequence[float], *, interval: float, rng: random.Random
) -> list[float]:
    """The latencies as a browser polling every `interval` sees them: each plus the wait
    for that browser's next poll, uniform between nothing and one interval."""
    return [latency + rng.uniform(0, interval) for latency in latencies]


class LiveWatcher(threading.Thread):
    """Polls /live/changes/ as a logged-in agent every WATCH_SECONDS and keeps the answers."""

    def __init__(self, base_url: str, cookies: dict[str, str]) -> None:
        super().__init__(name="latency-live-watcher", daemon=True)
        self.url = base_url + LIVE_CHANGES_PATH
        self.session = requests.Session()
        self.session.cookies.update(cookies)
        self.session.headers.update({"Accept": "application/json", "X-Webcare-Poll": "1"})
        self.answers: list[LiveAnswer] = []
        self.requests = 0
        self.errors: list[str] = []
        self.cursor: str | None = None
        self.stopping = threading.Event()
        self.started_cursor = threading.Event()

    def ask(self) -> None:
        params = {"since": self.cursor} if self.cursor else {}
        response = self.session.get(self.url, params=params, timeout=10, allow_redirects=False)
        arrived = time.time()
        self.requests += 1
        if response.status_code == 204:
            return
        if response.status_code != 200:
            raise RuntimeError(f"GET {LIVE_CHANGES_PATH}: HTTP {response.status_code}")
        data = response.json()
        first = self.cursor is None
        self.cursor = data["cursor"]
        if first:
            self.started_cursor.set()
            return  # the starting point: nothing is news yet (as in live.js)
        ids = data.get("conversation_ids")
        self.answers.append(
            LiveAnswer(
                at=arrived,
                message_id=cursor_message_id(data["cursor"]),
                conversation_ids=None if ids is None else frozenset(ids),
            )
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.ask()
            except (requests.RequestException, RuntimeError, ValueError, KeyError) as error:
                self.errors.append(repr(error))
            self.stopping.wait(max(0.0, WATCH_SECONDS - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)
        self.session.close()


@dataclass
class ChannelSetup:
    names: dict[str, str] = field(default_factory=dict)  # channel kind -> name
    poll_interval: float = 0.0  # the longest poll interval of the polled channels


def prepare_channels(sandbox_port: int) -> ChannelSetup:
    """Point the channels at this section's sandbox and let each start afresh.

    Like point_channels_at_sandbox, a bench-only shortcut past the services: the cursors
    and health of an earlier sandbox mean nothing to this one.
    """
    from channels.models import Channel

    point_channels_at_sandbox(sandbox_port)
    Channel.objects.update(
        cursor={},
        health=Channel.Health.UNKNOWN,
        last_error="",
        paused_until=None,
        last_polled_at=None,
    )
    _retire_earlier_sandbox_facebook_ids()
    setup = ChannelSetup()
    for channel in Channel.objects.filter(is_active=True).order_by("id"):
        setup.names.setdefault(channel.kind, channel.name)
        if channel.kind in {kind.channel_kind for kind in PROBE_KINDS if kind.path == "poll"}:
            setup.poll_interval = max(setup.poll_interval, float(channel.poll_interval_seconds))
    return setup


def _retire_earlier_sandbox_facebook_ids() -> int:
    """Give the Facebook messages of an earlier run on a kept database (--reuse) other ids.

    The sandbox numbers Facebook comments and Messenger messages from 1 at every start, so
    this run's would carry the ids of the earlier run's and ingest would rightly take them
    for messages it has (unique channel and platform id) and store nothing. The dataset's
    own messages have ids of another form and are left alone.
    """
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from channels.models import Channel
    from inbox.models import Message

    return Message.objects.filter(
        channel__kind=Channel.Kind.FACEBOOK, external_id__regex=SANDBOX_FACEBOOK_ID
    ).update(external_id=Concat(F("external_id"), Value(f"~earlier-{secrets.token_hex(4)}")))


def wait_for_first_polls(ctx: BenchContext, since: Any, timeout: float = 45.0) -> list[str]:
    """Wait until every active channel has finished one successful poll after `since`;
    returns the names of those that did not in time."""
    from channels.models import Channel

    deadline = time.monotonic() + timeout
    while True:
        ctx.check_stop()
        waiting = list(
            Channel.objects.filter(is_active=True)
            .exclude(last_success_at__gte=since)
            .values_list("name", flat=True)
        )
        if not waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.25)


def publish(sandbox_url: str, probe: Probe, session: requests.Session) -> None:
    citizen = f"burger{probe.number:03d}"
    probe.published_at = time.time()
    try:
        response = session.post(
            sandbox_url + probe.kind.control_route,
            json=probe.kind.body(probe.text, citizen),
            timeout=10,
        )
    except requests.RequestException as error:
        probe.publish_error = repr(error)
        return
    if response.status_code != 201:
        probe.publish_error = f"HTTP {response.status_code}: {response.text[:200]}"


def match_stored(probes: Sequence[Probe], after_message_id: int) -> None:
    """Find each probe's message among the committed inbound messages after the start, and
    note when it was first seen (its commit, to within one call of this)."""
    from inbox.models import Message

    by_marker = {probe.marker: probe for probe in probes if probe.message_id is None}
    if not by_marker:
        return
    rows = Message.objects.filter(
        id__gt=after_message_id, direction=Message.Direction.INBOUND
    ).values_list("id", "conversation_id", "created_at", "text")
    seen = time.time()
    for message_id, conversation_id, created_at, text in rows:
        found = MARKER.search(text)
        probe = by_marker.get(found.group(0)) if found else None
        if probe is not None and probe.message_id is None:
            probe.message_id = message_id
            probe.conversation_id = conversation_id
            probe.stored_at = created_at.timestamp()
            probe.committed_seen_at = seen


def resolve_visible(probes: Sequence[Probe], answers: Sequence[LiveAnswer]) -> None:
    for probe in probes:
        if probe.visible_at is not None or probe.message_id is None:
            continue
        assert probe.conversation_id is not None and probe.published_at is not None
        probe.visible_at, probe.skipped_by_cursor = first_visible(
            answers,
            message_id=probe.message_id,
            conversation_id=probe.conversation_id,
            not_before=probe.published_at,
            committed_seen_at=probe.committed_seen_at,
        )


def _median(values: Sequence[float]) -> float | None:
    return percentiles(values)["p50"] if values else None


def add_path_figures(
    result: SectionResult,
    *,
    path: str,
    probes: Sequence[Probe],
    baseline: float,
    baseline_name: str,
    browser_interval: float,
    rng: random.Random,
) -> None:
    latencies = [probe.latency for probe in probes if probe.latency is not None]
    label = {"poll": "poll-based", "webhook": "webhook"}[path]
    if not latencies:
        result.details[f"{path}_samples"] = 0
        return
    measured = percentiles(latencies)
    target_words = {
        "poll": "p95 ≤ poll interval + 1 s",
        "webhook": "p95 < 1 s",
    }[path]

    def met(p95: float) -> bool:
        return p95 <= baseline if path == "poll" else p95 < baseline

    for name in ("p50", "p95", "p99"):
        result.add(
            Figure(
                name=f"{label} {name} (until /live/changes/ reports it)",
                value=measured[name],
                unit="s",
                baseline=baseline,
                baseline_name=baseline_name,
                target=target_words if name == "p95" else "",
                met=met(measured[name]) if name == "p95" else None,
                note=f"{len(latencies)} messages; watcher polls every {WATCH_SECONDS:g} s",
            )
        )
    seen = percentiles(with_browser_phase(latencies, interval=browser_interval, rng=rng))
    result.add(
        Figure(
            name=f"{label} p95 incl. the browser's {browser_interval:g} s live poll",
            value=seen["p95"],
            unit="s",
            baseline=baseline,
            baseline_name=baseline_name,
            target=target_words,
            met=met(seen["p95"]),
            note="measured latency + uniform phase of live.js POLL_MS (estimated)",
        )
    )
    stored = [
        probe.stored_at - probe.published_at
        for probe in probes
        if probe.stored_at is not None and probe.published_at is not None
    ]
    reported = [
        probe.visible_at - probe.stored_at
        for probe in probes
        if probe.visible_at is not None and probe.stored_at is not None
    ]
    by_kind = {}
    for kind in PROBE_KINDS:
        values = [p.latency for p in probes if p.kind is kind and p.latency is not None]
        if values:
            by_kind[kind.name] = {k: round(v, 3) for k, v in percentiles(values).items()}
    result.details[path] = {
        "samples": len(latencies),
        "percentiles": {k: round(v, 3) for k, v in measured.items()},
        "with_browser_poll": {k: round(v, 3) for k, v in seen.items()},
        "median_published_to_stored": _median(stored),
        "median_stored_to_reported": _median(reported),
        "max_published_to_stored": max(stored, default=None),
        "by_kind": by_kind,
        # Shown only by the next answer after their commit: the live cursor had passed them.
        "skipped_by_live_cursor": sum(probe.skipped_by_cursor for probe in probes),
        "latencies": sorted(round(latency, 3) for latency in latencies),
    }


def run(ctx: BenchContext) -> SectionResult:
    from django.utils import timezone

    from inbox.selectors.live import live_cursor_current

    result = SectionResult(key="latency", title="Sandbox → inbox latency")
    rng = random.Random(ctx.seed * 7919 + 3)  # noqa: S311 - reproducible moments, no secret
    web_port, sandbox_port = ctx.free_port(), ctx.free_port()
    web_url, sandbox_url = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sandbox_port}"
    setup = prepare_channels(sandbox_port)
    missing = sorted({kind.channel_kind for kind in PROBE_KINDS} - set(setup.names))
    if missing:
        result.problems.append(f"no active channel of kind {', '.join(missing)} in the dataset")
        return result
    browser_interval = browser_poll_seconds()
    probes_per_path = ctx.scaled(PROBES_PER_PATH, minimum=MIN_PROBES_PER_PATH)
    # At least two poll cycles, so that the probes meet every phase of them.
    window = max(WINDOW_SECONDS * min(1.0, ctx.scale), 2 * setup.poll_interval + 1)
    probes = probe_schedule(
        rng,
        poll_probes=probes_per_path,
        webhook_probes=probes_per_path,
        window=window,
        # Not from the seed: a kept database may hold an earlier run's markers.
        run_tag=secrets.token_hex(3),
    )
    agent = (ctx.dataset.get("agents") or [None])[0] or ctx.dataset["team_lead"]
    cookies = ctx.session_cookie(agent)
    webhook_url = f"{web_url}/webhooks/facebook/{setup.names['facebook']}/"
    commands = [
        # Three workers: the watcher's polls and the webhooks are all it serves.
        ("web", ctx.gunicorn_command(web_port, workers=3)),
        ("worker", ctx.worker_command(concurrency=2, hostname="latency")),
        ("beat", ctx.beat_command("latency-beat")),
        (
            "sandbox",
            ctx.sandbox_command(
                sandbox_port, "--generate-every", "0", "--facebook-webhook-url", webhook_url
            ),
        ),
    ]
    ctx.say(
        f"latency: {len(probes)} messages over {window:.0f} s (poll interval "
        f"{setup.poll_interval:g} s, browser live poll {browser_interval:g} s)"
    )
    phases: dict[str, float] = {}
    began = time.monotonic()
    set_up_at = timezone.now()
    with ctx.processes("latency", commands) as supervisor:
        ctx.wait_for_url(f"{web_url}/healthz", supervisor)
        ctx.wait_for_url(f"{sandbox_url}/_sandbox/state", supervisor, timeout=15)
        phases["start_processes"] = time.monotonic() - began
        late = wait_for_first_polls(ctx, set_up_at)
        phases["first_polls"] = time.monotonic() - began - phases["start_processes"]
        if late:
            result.problems.append(f"no successful first poll of {', '.join(late)} within 45 s")
            return result
        start_message_id = live_cursor_current().message_id
        watcher = LiveWatcher(web_url, cookies)
        watcher.start()
        try:
            if not watcher.started_cursor.wait(timeout=15):
                result.problems.append(
                    f"{LIVE_CHANGES_PATH} gave no starting cursor: {watcher.errors[:3]}"
                )
                return result
            measuring = time.monotonic()
            poll_starts = _measure(
                ctx, probes, sandbox_url, watcher, start_message_id, setup.poll_interval
            )
            phases["measure"] = time.monotonic() - measuring
        finally:
            watcher.stop()
    resolve_visible(probes, watcher.answers)
    _report_lost(result, probes)
    if watcher.errors:
        result.details["watcher_errors"] = watcher.errors[:10]
    figures_rng = random.Random(ctx.seed)  # noqa: S311 - a reproducible phase, no secret
    for path, baseline, baseline_name in (
        ("poll", setup.poll_interval + 1, "poll interval + 1 s"),
        ("webhook", WEBHOOK_BASELINE_SECONDS, "1 s"),
    ):
        add_path_figures(
            result,
            path=path,
            probes=[probe for probe in probes if probe.kind.path == path],
            baseline=baseline,
            baseline_name=baseline_name,
            browser_interval=browser_interval,
            rng=figures_rng,
        )
    result.details.update(
        {
            "window_seconds": round(window, 1),
            "poll_interval_seconds": setup.poll_interval,
            "browser_live_poll_seconds": browser_interval,
            "watcher_requests": watcher.requests,
            "watcher_period_seconds": WATCH_SECONDS,
            "phase_seconds": {name: round(value, 1) for name, value in phases.items()},
            # Between the starts of consecutive polls of each channel: the interval, give
            # or take a second, when polling is on time (channels.selectors).
            "poll_gaps_seconds": poll_gaps(poll_starts),
        }
    )
    return result


def _measure(
    ctx: BenchContext,
    probes: Sequence[Probe],
    sandbox_url: str,
    watcher: LiveWatcher,
    start_message_id: int,
    poll_interval: float,
) -> dict[str, set[float]]:
    """Publish the probes (in a thread) and follow them until each is on the agent's
    screen, or until the slowest legitimate one would have been long since. Returns the
    moments each channel's polls started (its `last_polled_at` as seen meanwhile)."""
    from channels.models import Channel

    publisher = threading.Thread(
        target=_publish_all, args=(ctx, probes, sandbox_url), name="latency-publisher"
    )
    poll_starts: dict[str, set[float]] = {}
    publisher.start()
    deadline: float | None = None
    try:
        while deadline is None or time.monotonic() < deadline:
            ctx.check_stop()
            match_stored(probes, start_message_id)
            resolve_visible(probes, list(watcher.answers))
            for name, polled_at in Channel.objects.values_list("name", "last_polled_at"):
                if polled_at is not None:
                    poll_starts.setdefault(name, set()).add(polled_at.timestamp())
            if not publisher.is_alive():
                if all(probe.visible_at is not None or probe.publish_error for probe in probes):
                    break
                # The last one waits at most a poll interval and a poll; then some.
                deadline = deadline or time.monotonic() + 2 * poll_interval + 10
            time.sleep(STORED_CHECK_SECONDS)
    finally:
        publisher.join()
    return poll_starts


def poll_gaps(poll_starts: dict[str, set[float]]) -> dict[str, list[float]]:
    """Seconds between the starts of each channel's consecutive polls."""
    return {
        name: [round(later - earlier, 2) for earlier, later in itertools.pairwise(sorted(starts))]
        for name, starts in sorted(poll_starts.items())
    }


def _report_lost(result: SectionResult, probes: Sequence[Probe]) -> None:
    for probe in probes:
        if probe.publish_error:
            result.problems.append(
                f"{probe.kind.name} {probe.marker}: the sandbox refused it: {probe.publish_error}"
            )
        elif probe.message_id is None:
            result.problems.append(f"{probe.kind.name} {probe.marker}: never stored")
        elif probe.visible_at is None:
            result.problems.append(
                f"{probe.kind.name} {probe.marker}: stored as message {probe.message_id} "
                f"but never shown by {LIVE_CHANGES_PATH}"
            )


def _publish_all(ctx: BenchContext, probes: Sequence[Probe], sandbox_url: str) -> None:
    """Each probe at its moment, from a small pool: a slow answer delays no other probe."""
    opened = time.monotonic()
    with (
        requests.Session() as session,
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="latency-publish") as pool,
    ):
        for probe in probes:
            delay = opened + probe.offset - time.monotonic()
            if ctx.stop.requested.wait(max(0.0, delay)):
                return
            pool.submit(publish, sandbox_url, probe, session)
