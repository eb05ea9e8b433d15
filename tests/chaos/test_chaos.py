"""Webcare's promise under faults (docs/architecture.md, "Chaos suite").

Citizens write on X, Mastodon and Facebook, publicly and privately, while the sandbox
answers with random faults (429 with reset times, 5xx, slow answers, answers lost after the
platform acted, truncated JSON, repeated, re-ordered and overlapping items), the real Celery
worker processes are SIGKILLed during polling, assignment and reply posting and started
again, the suite's own Redis is killed and restarted, and every database session of the
workers is terminated. Agents answer every conversation as it is assigned to them. When the
faults stop and the system has settled, the sandbox's own records are compared with the
inbox:

- every message a citizen published is in the inbox exactly once;
- every reply an agent sent reached the platform exactly once, or is visibly `failed` with a
  reason (and then reached it at most once);
- no conversation was ever held by two agents at once, and every one has an agent;
- the audit trail accounts for every conversation, inbound message, assignment and reply.

The figures of the run are printed and written to test-artifacts/chaos-summary.json.
`WEBCARE_CHAOS_SEED` replays a run's faults (the same seed draws the same faults for the
same sequence of requests; which request comes first still depends on timing).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError

from channels.models import Channel, QuarantinedItem
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_CREDENTIALS
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create
from inbox.models import AgentProfile, AuditEvent, Conversation, Message
from inbox.services import reply_create, staff_member_create
from tests.chaos.harness import (
    OwnRedis,
    Worker,
    advisory_locks_held,
    drop_database_connections,
)
from tests.conftest import PASSWORD
from tests.figures import report_figures
from webcare.celery import app as celery_app

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("WEBCARE_CHAOS_SEED", "20261129"))

CHAOS_SECONDS = 50  # faults, kills and restarts
SETTLE_SECONDS = 110  # then everything must be in place within this
WORKERS = 2
CONCURRENCY = 2
AGENTS = 3
PLATFORM_TIMEOUT = 4  # seconds; a `slow` answer (1.5 s) is late but in time
STUCK_SENDING_SECONDS = 15  # longer than one delivery attempt can take
PUBLISH_EVERY = 1.1  # seconds between citizen messages
KILL_EVERY = (7.0, 10.0)  # polling and assignment
REPLY_KILL_EVERY = 10.0  # at most this often, whenever a reply is being posted
REDIS_RESTARTS_AT = (18.0, 38.0)
REDIS_DOWN_SECONDS = 3.0
DATABASE_DROPS_AT = (12.0, 27.0, 45.0)
BEAT_EVERY = {"channels.poll_due": 2.0, "inbox.assign_waiting": 3.0}
RECOVER_EVERY = 5.0
# Besides beat's polls (at most every 10 s per channel), each channel is polled this often,
# as `manage.py channels poll` would: more requests, so more faults per second of chaos.
EXTRA_POLL_EVERY = 4.0

# Random faults on every platform API, per request; `strip_item` stays out: an item without
# its fields is quarantined by design (kept for staff), not an inbox message.
FAULT_PROBABILITIES = {
    "rate_limit": 0.03,
    "server_error": 0.08,
    "slow": 0.12,
    "lost_answer": 0.08,
    "truncate": 0.08,
    "duplicate_item": 0.05,
    "reorder": 0.07,
    "overlap": 0.07,
}

# What citizens do: (platform, kind), drawn with these weights.
CITIZEN_ACTIONS = [
    (("x", "mention"), 3),
    (("x", "dm"), 2),
    (("mastodon", "public"), 2),
    (("mastodon", "direct"), 1),
    (("facebook", "comment"), 2),
    (("facebook", "message"), 2),
]
CITIZENS_PER_PLATFORM = 7

PLATFORM_OF_KIND: dict[str, str] = {
    Channel.Kind.TWITTER: "x",
    Channel.Kind.MASTODON: "mastodon",
    Channel.Kind.FACEBOOK: "facebook",
}


@dataclass
class Figures:
    """What the run did and found; printed and written as the test's summary."""

    seed: int = SEED
    published: Counter[str] = field(default_factory=Counter)
    stored_inbound: int = 0
    conversations: int = 0
    replies_created: int = 0
    replies_sent: int = 0
    replies_failed: int = 0
    replies_received: int = 0
    failed_but_received: int = 0
    reply_create_errors: int = 0
    replies_recovered: int = 0
    replies_found_on_platform: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    kill_modes: Counter[str] = field(default_factory=Counter)
    redis_restarts: int = 0
    database_drops: int = 0
    database_sessions_terminated: int = 0
    enqueue_failures: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    chaos_seconds: float = 0.0
    settle_seconds: float = 0.0
    duration_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    failed_replies: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "messages_published": sum(self.published.values()),
            "messages_published_by_kind": dict(sorted(self.published.items())),
            "messages_stored": self.stored_inbound,
            "conversations": self.conversations,
            "replies_created": self.replies_created,
            "replies_sent": self.replies_sent,
            "replies_failed": self.replies_failed,
            "replies_received_by_platform": self.replies_received,
            "replies_failed_but_received": self.failed_but_received,
            "replies_recovered_from_stuck": self.replies_recovered,
            "replies_found_on_platform_instead_of_reposted": self.replies_found_on_platform,
            "reply_create_errors_after_commit": self.reply_create_errors,
            "faults_injected": self.faults_injected,
            "faults_injected_total": sum(self.faults_injected.values()),
            "kills_by_phase": dict(sorted(self.kills.items())),
            "kills_by_mode": dict(sorted(self.kill_modes.items())),
            "redis_restarts": self.redis_restarts,
            "database_drops": self.database_drops,
            "database_sessions_terminated": self.database_sessions_terminated,
            "enqueue_failures_while_redis_down": self.enqueue_failures,
            "quarantined_items": self.quarantined,
            "chaos_seconds": round(self.chaos_seconds, 1),
            "settle_seconds": round(self.settle_seconds, 1),
            "duration_seconds": round(self.duration_seconds, 1),
            "problems": self.problems,
            "failed_replies": self.failed_replies,
        }


class Citizens:
    """Citizens writing on every platform, drawn from the seed."""

    def __init__(self, sandbox: SandboxServer, rng: random.Random) -> None:
        self.sandbox = sandbox
        self.rng = rng
        self.count = 0
        actions, weights = zip(*CITIZEN_ACTIONS, strict=True)
        self.actions = list(actions)
        self.weights = list(weights)

    def write(self) -> str:
        platform, kind = self.rng.choices(self.actions, self.weights)[0]
        self.count += 1
        name = f"burger{self.rng.randrange(CITIZENS_PER_PLATFORM)}"
        text = f"Melding {self.count}: de lantaarnpaal in de Dorpsstraat is kapot"
        if (platform, kind) == ("x", "mention"):
            self.sandbox.add_mention(f"@gemeentedemodorp {text}", username=f"x_{name}")
        elif (platform, kind) == ("x", "dm"):
            self.sandbox.add_direct_message(text, username=f"dm_{name}")
        elif platform == "mastodon":
            self.sandbox.add_mastodon_mention(text, f"m_{name}", visibility=kind)
        elif (platform, kind) == ("facebook", "comment"):
            self.sandbox.add_facebook_comment(text, f"Burger {name} Comment")
        else:
            self.sandbox.add_facebook_message(text, f"Burger {name} Messenger")
        return f"{platform}:{kind}"


class Agents:
    """The agents answer each conversation once, as soon as it is assigned to them: the
    service the composer's view calls (`reply_create`), from this process."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.answered: dict[int, uuid.UUID] = {}

    def answer_assigned(self) -> None:
        waiting = (
            Conversation.objects.filter(assignee__isnull=False)
            .exclude(id__in=list(self.answered))
            .values_list("id", "assignee_id", "is_private", "channel__kind")
        )
        for conversation_id, assignee_id, is_private, kind in waiting:
            key = uuid.uuid5(uuid.NAMESPACE_URL, f"webcare-chaos:{SEED}:{conversation_id}")
            # Some public conversations are answered privately where the platform allows.
            private = not is_private and kind != Channel.Kind.MASTODON and conversation_id % 3 == 0
            self.answered[conversation_id] = key
            try:
                reply_create(
                    conversation_id=conversation_id,
                    actor=AgentProfile.objects.get(user_id=assignee_id).user,
                    text=f"Dank voor uw melding, we gaan ermee aan de slag. Kenmerk {ref(key)}",
                    idempotency_key=key,
                    private=private,
                )
            except DatabaseError:
                # Our own session was among those dropped: try again on the next tick.
                del self.answered[conversation_id]
                close_old_connections()
                connection.close()
            except Exception:
                # The reply row committed; only handing it to the broker failed (Redis down).
                # The recovery task finds it queued past its due time.
                self.figures.reply_create_errors += 1
            else:
                self.figures.replies_created += 1


def ref(key: uuid.UUID) -> str:
    """A token unique to one reply, found back in what the platform received."""
    # Letters only: a run of digits could look like a phone number to the personal data check.
    return "chaos" + key.hex[:12].translate(str.maketrans("0123456789", "ghijklmnop"))


class Beat:
    """The periodic tasks, on short intervals (the test plays celery beat)."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.next_at: dict[str, float] = {}

    def tick(self, now: float, *, impatient: bool = False) -> None:
        schedule = dict(BEAT_EVERY)
        schedule["inbox.recover_stuck_replies"] = RECOVER_EVERY
        for name, every in schedule.items():
            if now >= self.next_at.get(name, 0.0):
                self.next_at[name] = now + every
                self.send(name)
        if now >= self.next_at.get("extra_poll", 0.0):
            self.next_at["extra_poll"] = now + EXTRA_POLL_EVERY
            for channel_id in Channel.objects.values_list("id", flat=True):
                self.send("channels.poll", channel_id)
        if impatient and now >= self.next_at.get("deliver", 0.0):
            # Settling: a reply waiting out a long back-off is handed to a worker now (the
            # claim is conditional, so this is as safe as the recovery task).
            self.next_at["deliver"] = now + 3.0
            for message_id in Message.objects.filter(
                delivery_status=Message.DeliveryStatus.QUEUED
            ).values_list("id", flat=True):
                self.send("inbox.send_reply", message_id)

    def send(self, name: str, *args: object) -> None:
        try:
            celery_app.send_task(name, args=args, retry=False)
        except Exception:
            self.figures.enqueue_failures += 1


class Chaos:
    """Kills workers, restarts Redis and drops database sessions on a schedule."""

    def __init__(
        self,
        workers: list[Worker],
        redis: OwnRedis,
        sandbox: SandboxServer,
        figures: Figures,
        rng: random.Random,
    ) -> None:
        self.workers = workers
        self.sandbox = sandbox
        self.redis = redis
        self.figures = figures
        self.rng = rng
        self.next_kill = rng.uniform(*KILL_EVERY)
        self.next_reply_kill = REPLY_KILL_EVERY
        self.redis_restarts = list(REDIS_RESTARTS_AT)
        self.redis_back_at: float | None = None
        self.database_drops = list(DATABASE_DROPS_AT)
        self.kills = 0

    def tick(self, elapsed: float) -> None:
        for worker in self.workers:
            if not worker.alive:
                worker.start()
        if self.redis_restarts and elapsed >= self.redis_restarts[0]:
            # Down for a few seconds while everything else goes on: tasks sent meanwhile
            # (by beat, by reply_create, by the workers) cannot be enqueued.
            self.redis_restarts.pop(0)
            self.redis.kill()
            self.redis_back_at = elapsed + REDIS_DOWN_SECONDS
        if self.redis_back_at is not None and elapsed >= self.redis_back_at:
            self.redis_back_at = None
            self.redis.start()
            self.figures.redis_restarts += 1
        if self.database_drops and elapsed >= self.database_drops[0]:
            self.database_drops.pop(0)
            self.drop_database_sessions()
        if elapsed >= self.next_reply_kill and self.in_flight() & {"reply"}:
            # A reply is being posted (the platform has it, its answer is late): now.
            self.next_reply_kill = elapsed + REPLY_KILL_EVERY
            self.kill({"reply"} | self.in_flight())
            self.stage_slow_reply_posts()
        elif elapsed >= self.next_kill:
            self.next_kill = elapsed + self.rng.uniform(*KILL_EVERY)
            self.kill_polling_or_assigning()

    def stage_slow_reply_posts(self) -> None:
        """The platform posts the next replies, then answers late: killed meanwhile, a worker
        leaves a reply in `sending` that did reach the platform."""
        self.sandbox.add_fault(
            "/", None, count=2, method="POST", delay_seconds=3.0, after_processing=True
        )

    def drop_database_sessions(self) -> None:
        # Celery closes a task's connections when it ends, so a worker holds a session only
        # while it works: keep terminating for a moment to catch some mid-task.
        burst_ends = time.monotonic() + 1.5
        longest = time.monotonic() + 6.0
        terminated = 0
        while time.monotonic() < burst_ends or (not terminated and time.monotonic() < longest):
            terminated += drop_database_connections()
            time.sleep(0.05)
        self.figures.database_sessions_terminated += terminated
        self.figures.database_drops += 1

    def kill_polling_or_assigning(self) -> None:
        """Kill while a poll holds its lock (widened by a slow page), else while the workers
        assign (assignment runs after every ingest and on our beat)."""
        wanted = "poll" if self.kills % 2 == 0 else "assignment"
        if wanted == "poll":
            self.sandbox.add_fault("/", None, count=2, method="GET", delay_seconds=3.0)
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline and "poll" not in self.in_flight():
                time.sleep(0.05)
        else:
            # And, for a later reply, the nastiest answer: posted, then a 502.
            self.sandbox.add_fault("/", 502, method="POST", after_processing=True)
        phases = self.in_flight()
        if not phases:
            phases = {"assignment"}
            with contextlib.suppress(Exception):  # Redis may be down just now
                celery_app.send_task("inbox.assign_waiting", retry=False)
            time.sleep(0.3)
        self.kill(phases)

    def kill(self, phases: set[str]) -> None:
        """SIGKILL every worker whole, or (every other time) only their pool children."""
        self.kills += 1
        mode = "children" if self.kills % 2 else "worker"
        for worker in self.workers:
            if mode == "worker":
                worker.kill()
            else:
                worker.kill_children()
        for phase in phases:
            self.figures.kills[phase] += 1
        self.figures.kill_modes[mode] += 1

    @staticmethod
    def in_flight() -> set[str]:
        phases = set()
        try:
            if Message.objects.filter(delivery_status=Message.DeliveryStatus.SENDING).exists():
                phases.add("reply")
            if advisory_locks_held():
                phases.add("poll")
        except DatabaseError:
            connection.close()
        return phases


def _channels(sandbox: SandboxServer) -> dict[str, Channel]:
    made = {
        "x": channel_create(
            kind=Channel.Kind.TWITTER,
            name="chaos-x",
            account_id=DEMO_ACCOUNT_ID,
            account_handle="gemeentedemodorp",
            credentials=dict(DEMO_CREDENTIALS),
            api_base_url=sandbox.url,
        ),
        "mastodon": channel_create(
            kind=Channel.Kind.MASTODON,
            name="chaos-mastodon",
            account_id=MASTODON_ACCOUNT_ID,
            account_handle="gemeentedemodorp",
            credentials=dict(MASTODON_CREDENTIALS),
            api_base_url=sandbox.url,
        ),
        "facebook": channel_create(
            kind=Channel.Kind.FACEBOOK,
            name="chaos-facebook",
            account_id=FACEBOOK_PAGE_ID,
            credentials=dict(FACEBOOK_CREDENTIALS),
            api_base_url=sandbox.url,
        ),
    }
    # Polled as often as a channel may be (the constraint's minimum).
    Channel.objects.update(poll_interval_seconds=10)
    return made


def _settled(sandbox: SandboxServer, agents: Agents) -> bool:
    published = {(m["platform"], m["id"]) for m in sandbox.citizen_messages()}
    stored = set(_inbound_keys())
    if not published <= stored:
        return False
    if Conversation.objects.filter(assignee__isnull=True).exists():
        return False
    if Conversation.objects.exclude(id__in=list(agents.answered)).exists():
        return False
    return not Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        delivery_status__in=[Message.DeliveryStatus.QUEUED, Message.DeliveryStatus.SENDING],
    ).exists()


def _inbound_keys() -> list[tuple[str, str]]:
    return [
        (PLATFORM_OF_KIND[kind], external_id or "")
        for kind, external_id in Message.objects.filter(
            direction=Message.Direction.INBOUND
        ).values_list("channel__kind", "external_id")
    ]


def test_no_message_lost_or_doubled_no_reply_doubled_or_dropped_under_chaos(
    own_redis: OwnRedis,
    worker_env: dict[str, str],
    sandbox: SandboxServer,
    request: pytest.FixtureRequest,
) -> None:
    started = time.monotonic()
    figures = Figures()
    rng = random.Random(SEED)
    redis = own_redis
    sandbox.add_facebook_post("Vanaf maandag werken we aan de Dorpsstraat.")
    for number in range(AGENTS):
        staff_member_create(
            username=f"chaos-agent{number}",
            password=PASSWORD,
            first_name=f"Agent{number}",
            presence=AgentProfile.Presence.AVAILABLE,
            capacity=200,
        )
    env = {
        **worker_env,
        "WEBCARE_PLATFORM_TIMEOUT": str(PLATFORM_TIMEOUT),
        "WEBCARE_STUCK_SENDING_SECONDS": str(STUCK_SENDING_SECONDS),
    }
    workers = [
        Worker(f"w{number}", env, celery_app.conf.task_default_queue, CONCURRENCY)
        for number in range(WORKERS)
    ]
    agents = Agents(figures)
    beat = Beat(figures)
    citizens = Citizens(sandbox, rng)
    chaos = Chaos(workers, redis, sandbox, figures, rng)
    chaos.stage_slow_reply_posts()
    try:
        for worker in workers:
            worker.start()
        _channels(sandbox)
        sandbox.start_chaos(seed=SEED, probabilities=FAULT_PROBABILITIES, delay_seconds=1.5)
        # Whatever the seed draws, each platform sees a cut-off page and an outage early on.
        for prefix in ("/2/", "/api/", "/v"):
            sandbox.add_fault(prefix, None, method="GET", spoil="truncate")
            sandbox.add_fault(prefix, 503, method="GET")
        # And one early reply is posted while its answer is lost (a random draw may give none).
        sandbox.add_fault("/", 502, method="POST", after_processing=True)
        chaos_started = time.monotonic()
        next_publish = 0.0
        while (elapsed := time.monotonic() - chaos_started) < CHAOS_SECONDS:
            if elapsed >= next_publish:
                next_publish = elapsed + PUBLISH_EVERY
                figures.published[citizens.write()] += 1
            beat.tick(time.monotonic())
            chaos.tick(elapsed)
            _tick_agents(agents)
            time.sleep(0.1)
        figures.chaos_seconds = time.monotonic() - chaos_started

        # The faults stop; Redis and every worker run; the system must settle by itself.
        if redis.process is None:
            redis.start()
        sandbox.stop_chaos()
        sandbox.clear_faults()
        settle_started = time.monotonic()
        settled = False
        while time.monotonic() - settle_started < SETTLE_SECONDS:
            for worker in workers:
                if not worker.alive:
                    worker.start()
            beat.tick(time.monotonic(), impatient=True)
            _tick_agents(agents)
            if _settled(sandbox, agents):
                settled = True
                break
            time.sleep(0.5)
        figures.settle_seconds = time.monotonic() - settle_started
    finally:
        for worker in workers:
            worker.stop()
        connection.close()

    figures.faults_injected = sandbox.chaos_state()["injected"]
    figures.duration_seconds = time.monotonic() - started
    _compare(sandbox, figures)
    if not settled:
        figures.problems.insert(0, f"not settled within {SETTLE_SECONDS} s")
    _report(request, figures)

    assert not figures.problems, "\n".join(figures.problems)
    # The run really was chaotic: otherwise it proves nothing.
    assert figures.kills["reply"] >= 1, figures.kills
    assert sum(figures.kill_modes.values()) >= 4, figures.kill_modes
    assert figures.redis_restarts == len(REDIS_RESTARTS_AT)
    assert figures.database_sessions_terminated > 0
    injected = figures.faults_injected
    assert {"server_error", "slow", "lost_answer", "truncate"} <= set(injected), injected
    assert sum(injected.values()) >= 20, injected


def _tick_agents(agents: Agents) -> None:
    try:
        agents.answer_assigned()
    except DatabaseError:
        connection.close()


def _compare(sandbox: SandboxServer, figures: Figures) -> None:
    """The sandbox's records against the inbox and its audit trail; every difference is a
    problem, described."""
    problems = figures.problems
    published = Counter((m["platform"], m["id"]) for m in sandbox.citizen_messages())
    stored = Counter(_inbound_keys())
    figures.stored_inbound = sum(stored.values())
    figures.conversations = Conversation.objects.count()
    figures.quarantined = QuarantinedItem.objects.count()
    for key in sorted(published):
        if stored[key] != 1:
            problems.append(f"citizen message {key} is in the inbox {stored[key]} times")
    for key in sorted(set(stored) - set(published)):
        problems.append(f"inbox message {key} was never published")

    received = sandbox.received_replies()
    figures.replies_received = len(received)
    outbound: list[dict[str, Any]] = [
        dict(row)
        for row in Message.objects.filter(direction=Message.Direction.OUTBOUND).values(
            "id",
            "idempotency_key",
            "delivery_status",
            "delivery_error",
            "external_id",
            "is_private",
            "delivery_attempts",
            "channel__kind",
        )
    ]
    refs = {ref(row["idempotency_key"]): row for row in outbound if row["idempotency_key"]}
    received_per_ref: dict[str, list[dict[str, str]]] = defaultdict(list)
    for reply in received:
        matching = [token for token in refs if token in reply["text"]]
        if not matching:
            problems.append(f"the platform received a reply nobody sent: {reply}")
        for token in matching:
            received_per_ref[token].append(reply)
    for token, row in refs.items():
        arrived = received_per_ref.get(token, [])
        status = row["delivery_status"]
        if len(arrived) > 1:
            problems.append(f"reply {row['id']} was posted {len(arrived)} times: {arrived}")
        if status == Message.DeliveryStatus.SENT:
            figures.replies_sent += 1
            if not arrived:
                problems.append(f"reply {row['id']} is sent but the platform never got it")
            elif row["external_id"] not in {reply["id"] for reply in arrived}:
                problems.append(f"reply {row['id']} is sent as {row['external_id']}, not {arrived}")
        elif status == Message.DeliveryStatus.FAILED:
            figures.replies_failed += 1
            figures.failed_but_received += bool(arrived)
            figures.failed_replies.append(
                {
                    "platform": PLATFORM_OF_KIND[row["channel__kind"]],
                    "private": row["is_private"],
                    "attempts": row["delivery_attempts"],
                    "error": row["delivery_error"],
                    "received": len(arrived),
                    "events": list(
                        AuditEvent.objects.filter(message_id=row["id"])
                        .order_by("id")
                        .values_list("action", "data")
                    ),
                }
            )
            if not row["delivery_error"]:
                problems.append(f"reply {row['id']} failed without a reason")
        else:
            problems.append(f"reply {row['id']} is still {status}")

    figures.replies_recovered = AuditEvent.objects.filter(action="reply.recovered").count()
    figures.replies_found_on_platform = AuditEvent.objects.filter(
        action="reply.sent", data__via="found_on_platform"
    ).count()
    _compare_assignments(figures)
    _compare_audit(figures, outbound)


def _compare_assignments(figures: Figures) -> None:
    """Replaying the handover events gives every conversation's agent, and never hands a
    conversation to an agent while another holds it."""
    held: dict[int, int | None] = {}
    for conversation_id, action, data in (
        AuditEvent.objects.filter(
            action__in=[
                "conversation.assigned",
                "conversation.unassigned",
                "conversation.transferred",
            ]
        )
        .order_by("id")
        .values_list("conversation_id", "action", "data")
    ):
        holder = held.get(conversation_id)
        if action == "conversation.assigned":
            if holder is not None:
                figures.problems.append(
                    f"conversation {conversation_id} assigned to {data.get('assignee_id')} "
                    f"while {holder} held it"
                )
            held[conversation_id] = data.get("assignee_id")
        elif action == "conversation.unassigned":
            held[conversation_id] = None
        else:
            held[conversation_id] = data.get("to_assignee_id", data.get("assignee_id"))
    for conversation_id, assignee_id in Conversation.objects.values_list("id", "assignee_id"):
        if assignee_id is None:
            figures.problems.append(f"conversation {conversation_id} has no agent")
        if held.get(conversation_id) != assignee_id:
            figures.problems.append(
                f"conversation {conversation_id} is with {assignee_id}, its events say "
                f"{held.get(conversation_id)}"
            )


def _compare_audit(figures: Figures, outbound: list[dict[str, Any]]) -> None:
    problems = figures.problems
    events = Counter(
        AuditEvent.objects.filter(action="conversation.created").values_list(
            "conversation_id", flat=True
        )
    )
    for conversation_id in Conversation.objects.values_list("id", flat=True):
        if events[conversation_id] != 1:
            problems.append(
                f"conversation {conversation_id} has {events[conversation_id]} created events"
            )
    # Every stored inbound message was counted by the poll that stored it.
    counted: Counter[int] = Counter()
    for channel_id, data in AuditEvent.objects.filter(action="channel.polled").values_list(
        "channel_id", "data"
    ):
        counted[channel_id] += int(data.get("new_messages", 0))
    inbound = Counter(
        Message.objects.filter(direction=Message.Direction.INBOUND).values_list(
            "channel_id", flat=True
        )
    )
    for channel_id in set(inbound) | set(counted):
        if counted[channel_id] != inbound[channel_id]:
            problems.append(
                f"channel {channel_id}: {inbound[channel_id]} inbound messages, the polled "
                f"events count {counted[channel_id]}"
            )
    per_message: dict[int, Counter[str]] = defaultdict(Counter)
    for message_id, action in AuditEvent.objects.filter(
        action__startswith="reply.", message_id__isnull=False
    ).values_list("message_id", "action"):
        per_message[message_id][action] += 1
    for row in outbound:
        actions = per_message[row["id"]]
        if actions["reply.queued"] != 1:
            problems.append(f"reply {row['id']} has {actions['reply.queued']} queued events")
        if row["delivery_status"] == Message.DeliveryStatus.SENT and actions["reply.sent"] != 1:
            problems.append(f"reply {row['id']} is sent with {actions['reply.sent']} sent events")
        if row["delivery_status"] == Message.DeliveryStatus.FAILED and not actions["reply.failed"]:
            problems.append(f"reply {row['id']} failed without a failed event")


def _report(request: pytest.FixtureRequest, figures: Figures) -> None:
    summary = figures.as_json()
    lines = [
        f"chaos suite (seed {summary['seed']}): {summary['duration_seconds']} s "
        f"({summary['chaos_seconds']} s of faults, settled in {summary['settle_seconds']} s)",
        f"  messages published {summary['messages_published']} "
        f"{summary['messages_published_by_kind']}, stored {summary['messages_stored']} "
        f"in {summary['conversations']} conversations, quarantined "
        f"{summary['quarantined_items']}",
        f"  replies created {summary['replies_created']}, sent {summary['replies_sent']}, "
        f"failed {summary['replies_failed']} (of which received anyway "
        f"{summary['replies_failed_but_received']}), received by the platforms "
        f"{summary['replies_received_by_platform']}; recovered from `sending` "
        f"{summary['replies_recovered_from_stuck']}, found on the platform instead of "
        f"posted again {summary['replies_found_on_platform_instead_of_reposted']}",
        f"  faults injected {summary['faults_injected_total']} {summary['faults_injected']}",
        f"  kills by phase {summary['kills_by_phase']}, by mode {summary['kills_by_mode']}; "
        f"Redis restarts {summary['redis_restarts']}; database drops "
        f"{summary['database_drops']} ({summary['database_sessions_terminated']} sessions)",
        f"  tasks not enqueued while Redis was down {summary['enqueue_failures_while_redis_down']}"
        f", reply_create errors after commit {summary['reply_create_errors_after_commit']}",
        *(f"  failed reply: {failed}" for failed in summary["failed_replies"]),
        f"  problems: {len(summary['problems'])}",
        *(f"    {problem}" for problem in summary["problems"][:30]),
    ]
    report_figures(request.config, "chaos-summary", lines, summary)
