"""Assignment: conversations assigned per second by 4 Celery workers to 40 agents, 0 doubles.

The scenario is a shift starting with a queue: 40 agents on duty (the dataset's agents, or
agents made through the services when it has fewer), each with the highest capacity a team
lead can set (MAX_CAPACITY); then N new conversations arrive in one ingest batch through the
ingest service (webhook path: routing, contacts, audit), spread over the teams in
proportion to their members' free capacity, a tenth from citizens with a recent
conversation (stickiness). Ingest's commit enqueues `inbox.assign_waiting` as in
production, a full batch enqueues the next run and beat runs it every minute; the
figure is N over the time from that commit to the moment the last one was assigned.

The baseline runs on the same 4 workers just before: a bench-only task
(bench/assignment_tasks.py) that locks one waiting conversation with SELECT … FOR UPDATE
SKIP LOCKED in the engine's queue order, sets its assignee round robin and commits, for N
throw-away conversations (inserted in bulk, deleted afterwards): the least the database
must do to hand out a conversation without ever handing it out twice.

Correctness, from the audit trail: every handover event after the start is replayed per
conversation (assigned while it had an assignee = a double assignment) and per agent
(open load above capacity after an automatic assignment), and every new conversation is
assigned, or nobody on duty who serves its team had room.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.results import Figure, SectionResult
from bench.suite import BenchContext, SetupFailed

WORKERS = 4
ON_DUTY = 40
# New conversations at scale 1: 75 per agent leaves room under MAX_CAPACITY for the
# dataset's open load and uneven teams; fewer than the minimum would time start-up noise.
FULL_CONVERSATIONS = 3_000
MINIMUM_CONVERSATIONS = 400
# Of the free capacity on duty, what the new conversations may fill: teams are not
# exactly proportional once stickiness and contact categories route some elsewhere.
ROOM_SHARE = 0.9
RETURNING_SHARE = 0.1
POLL_SECONDS = 0.05
# No assignment for this long: the engine is done (the check then asks whether anything was
# left that someone on duty had room for).
QUIET_SECONDS = 3.0
SETTLE_TIMEOUT = 120.0
TARGET_RATIO = 0.5

AUTOMATIC_REASONS = {"sticky", "capacity", "round_robin"}


@dataclass
class Staffing:
    """Who is on duty for the section, and what to give back afterwards."""

    on_duty: list[int]
    lead_id: int
    # user id -> (presence, capacity) before the section.
    original: dict[int, tuple[str, int]] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)


def run(ctx: BenchContext) -> SectionResult:
    from django.contrib.auth import get_user_model

    from bench.common import team_lead_username
    from inbox.models import MetricsDirtyConversation
    from inbox.services.assignment import ASSIGNMENT_BATCH_SIZE

    started = time.monotonic()
    result = SectionResult(key="assignment", title="Assignment")
    lead = get_user_model().objects.get(username=team_lead_username())
    wanted = ctx.scaled(FULL_CONVERSATIONS, minimum=MINIMUM_CONVERSATIONS)
    commands = [
        (
            f"assign{number}",
            [
                *ctx.worker_command(concurrency=1, hostname=f"assign{number}"),
                "--include",
                "bench.assignment_tasks",
            ],
        )
        for number in range(WORKERS)
    ]
    commands.append(("beat", ctx.beat_command("assignment-beat")))
    staffing: Staffing | None = None
    try:
        with ctx.processes("assignment", commands) as supervisor:
            # While the workers start: nobody is available then, so they find nothing to do.
            staffing = _staff_on_duty(lead.pk)
            result.details["agents_created"] = len(staffing.created)
            _wait_for_workers(ctx, supervisor)
            result.details["set_up_seconds"] = round(time.monotonic() - started, 1)
            # Beat's metrics refresh works this off 10 s of every 15 on one of the workers.
            result.details["metrics_marks_waiting"] = MetricsDirtyConversation.objects.count()
            baseline = _measure_baseline(ctx, staffing, wanted, batch=1)
            batched = _measure_baseline(ctx, staffing, wanted, batch=ASSIGNMENT_BATCH_SIZE)
            result.details["baseline"] = baseline
            result.details["batched_floor"] = batched
            ctx.say(
                f"assignment: baseline {baseline['rate']:.0f}/s one per transaction, "
                f"{batched['rate']:.0f}/s {ASSIGNMENT_BATCH_SIZE} per transaction"
            )
            engine = _measure_engine(ctx, staffing, wanted)
            result.details["engine"] = engine.details
    finally:
        # After the workers stopped: the runs these changes enqueue wait for the next section.
        if staffing is not None:
            _restore(staffing)

    for name, measured in (("baseline", baseline), ("batched floor", batched)):
        if measured["assigned"] < measured["conversations"]:
            result.problems.append(
                f"the {name} task assigned {measured['assigned']} of its "
                f"{measured['conversations']} conversations; see the workers' log in {ctx.workdir}"
            )
    checked = verify_assignments(engine)
    result.details["check"] = checked.details
    result.problems.extend(checked.problems)
    rate = engine.details["rate"]
    ratio = rate / baseline["rate"] if baseline["rate"] else 0.0
    result.add(
        Figure(
            name=f"conversations assigned ({WORKERS} workers, {len(staffing.on_duty)} agents)",
            value=rate,
            unit="conv/s",
            baseline=baseline["rate"],
            baseline_name="one locked UPDATE per transaction, same workers",
            target=f"≥ {TARGET_RATIO:g} × baseline",
            met=ratio >= TARGET_RATIO,
            note=f"{engine.details['assigned']} of {engine.details['conversations']} new "
            f"conversations in {engine.details['seconds']:.2f} s after ingest's commit",
        )
    )
    result.add(
        Figure(
            name="double assignments",
            value=checked.doubles,
            unit="",
            target="0",
            met=checked.doubles == 0,
        )
    )
    result.add(
        Figure(
            name="highest open load / capacity",
            value=checked.peak_load,
            unit="conv",
            baseline=checked.peak_capacity,
            baseline_name="that agent's capacity",
            target="≤ capacity",
            met=not checked.over_capacity,
        )
    )
    return result


# --- the staff on duty --------------------------------------------------------------------


def _staff_on_duty(lead_id: int) -> Staffing:
    """ON_DUTY agents at MAX_CAPACITY, away for now (available once the engine's turn
    comes); everyone else who is available goes away for the section, so that only the
    agents on duty take conversations."""
    from django.contrib.auth import get_user_model

    from bench.common import agent_usernames
    from inbox.models import AgentProfile, Team
    from inbox.services import (
        agent_set_presence,
        agent_update_settings,
        staff_member_create,
        team_member_add,
    )
    from inbox.services.assignment import MAX_CAPACITY

    users = get_user_model().objects
    lead = users.get(pk=lead_id)
    usernames = agent_usernames()[:ON_DUTY]
    created: list[str] = []
    team_ids = list(Team.objects.order_by("id").values_list("id", flat=True))
    number = 0
    while len(usernames) < ON_DUTY:
        number += 1
        username = f"bench-agent-{number:02d}"
        if users.filter(username=username).exists():
            continue
        profile = staff_member_create(
            username=username,
            password=None,
            first_name="Bench",
            last_name=f"Agent {number:02d}",
            presence=AgentProfile.Presence.AWAY,
            actor=lead,
        )
        if team_ids:
            team_member_add(
                actor=lead, team_id=team_ids[number % len(team_ids)], user_id=profile.user_id
            )
        usernames.append(username)
        created.append(username)
    on_duty = list(
        AgentProfile.objects.filter(user__username__in=usernames).order_by("user__username")
    )
    others = list(
        AgentProfile.objects.filter(presence=AgentProfile.Presence.AVAILABLE).exclude(
            user__username__in=usernames
        )
    )
    staffing = Staffing(
        on_duty=[profile.user_id for profile in on_duty],
        lead_id=lead_id,
        original={
            profile.user_id: (profile.presence, profile.capacity) for profile in on_duty + others
        },
        created=created,
    )
    for profile in others:
        agent_set_presence(actor=profile.user, presence=AgentProfile.Presence.AWAY)
    for profile in on_duty:
        # Away first: nobody is available with the raised capacity before the engine's turn.
        if profile.presence != AgentProfile.Presence.AWAY:
            agent_set_presence(actor=profile.user, presence=AgentProfile.Presence.AWAY)
        agent_update_settings(actor=lead, user_id=profile.user_id, capacity=MAX_CAPACITY)
    return staffing


def _set_on_duty_available(staffing: Staffing) -> None:
    from django.contrib.auth import get_user_model

    from inbox.models import AgentProfile
    from inbox.services import agent_set_presence

    for user in get_user_model().objects.filter(pk__in=staffing.on_duty).order_by("pk"):
        agent_set_presence(actor=user, presence=AgentProfile.Presence.AVAILABLE)


def _restore(staffing: Staffing) -> None:
    """Presence and capacity as before; offline becomes away, which keeps the assigned
    conversations (going offline would put thousands back in the queue for the next
    sections)."""
    from django.contrib.auth import get_user_model

    from inbox.models import AgentProfile
    from inbox.services import agent_set_presence, agent_update_settings

    lead = get_user_model().objects.get(pk=staffing.lead_id)
    for user in get_user_model().objects.filter(pk__in=staffing.original).order_by("pk"):
        presence, capacity = staffing.original[user.pk]
        if presence == AgentProfile.Presence.OFFLINE:
            presence = AgentProfile.Presence.AWAY
        agent_set_presence(actor=user, presence=presence)
        agent_update_settings(actor=lead, user_id=user.pk, capacity=capacity)


# --- the workers --------------------------------------------------------------------------


def _wait_for_workers(ctx: BenchContext, supervisor: Any, timeout: float = 90.0) -> None:
    """Until every worker answers a ping: a worker still starting would make 3 out of 4."""
    from webcare.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ctx.check_stop()
        exited = supervisor.first_exit()
        if exited:
            raise SetupFailed(f"{exited[0]} exited with {exited[1]}; see {ctx.workdir}")
        replies = app.control.ping(timeout=0.5) or []
        names = {name.split("@")[0] for reply in replies for name in reply}
        if all(f"assign{number}" in names for number in range(WORKERS)):
            return
    raise SetupFailed(f"the assignment workers did not answer within {timeout:.0f} s")


def _wait_until_quiet(
    ctx: BenchContext, progress: Callable[[], int], *, done: int | None, started: float
) -> tuple[int, float]:
    """Poll `progress` until it reaches `done` or stops moving for QUIET_SECONDS; the
    final value and the time.monotonic() at which it was first seen."""
    value, seen_at = progress(), time.monotonic()
    while True:
        ctx.check_stop()
        if done is not None and value >= done:
            return value, seen_at
        now = time.monotonic()
        if now - seen_at > QUIET_SECONDS or now - started > SETTLE_TIMEOUT:
            return value, seen_at
        time.sleep(POLL_SECONDS)
        current = progress()
        if current != value:
            value, seen_at = current, time.monotonic()


# --- the baseline -------------------------------------------------------------------------


def _measure_baseline(
    ctx: BenchContext, staffing: Staffing, count: int, *, batch: int
) -> dict[str, Any]:
    from django.db import connection

    from inbox.models import Conversation
    from webcare.celery import app

    table = Conversation._meta.db_table
    tag = uuid.uuid4().hex[:8]
    with connection.cursor() as cursor:
        # Throw-away waiting conversations at the head of the queue (highest priority, the
        # oldest waiting_since), so the baseline's index scan meets no dataset rows first.
        cursor.execute(
            f"""
            INSERT INTO {table} (external_thread_id, status, priority, is_private,
                first_inbound_at, last_inbound_at, last_activity_at, created_at,
                waiting_since, channel_id, contact_id)
            SELECT 'bench-baseline-' || %s || '-' || n, 'open', 4, false,
                now(), now(), now(), now(),
                timestamptz '2000-01-01 00:00Z' + n * interval '1 millisecond',
                contact.channel_id, contact.id
            FROM generate_series(1, %s) AS n,
                (SELECT id, channel_id FROM inbox_contact ORDER BY id LIMIT 1) AS contact
            RETURNING id
            """,  # noqa: S608 - a table name from the model, values as parameters
            [tag, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    first_id, last_id = min(ids), max(ids)

    def assigned() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(assignee_id) FROM {table} WHERE id BETWEEN %s AND %s",  # noqa: S608
                [first_id, last_id],
            )
            return int(cursor.fetchone()[0])

    try:
        started = time.monotonic()
        for number in range(WORKERS):
            app.send_task(
                "bench.assignment_baseline",
                args=[first_id, last_id, staffing.on_duty, number, WORKERS, batch],
            )
        done, finished = _wait_until_quiet(ctx, assigned, done=len(ids), started=started)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT min(assigned_at), max(assigned_at) FROM {table} "  # noqa: S608
                "WHERE id BETWEEN %s AND %s",
                [first_id, last_id],
            )
            first_at, last_at = cursor.fetchone()
    finally:
        # Gone again, also after Ctrl-C: they must not count as anyone's load, nor be
        # assigned by the engine, nor show up in later sections.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id BETWEEN %s AND %s "  # noqa: S608
                "AND external_thread_id LIKE %s",
                [first_id, last_id, f"bench-baseline-{tag}-%"],
            )
    seconds = finished - started
    return {
        "per_transaction": batch,
        "conversations": len(ids),
        "assigned": done,
        "seconds": round(seconds, 3),
        "rate": done / seconds if seconds > 0 else 0.0,
        "first_to_last_seconds": (last_at - first_at).total_seconds() if first_at else None,
    }


# --- the engine ---------------------------------------------------------------------------


@dataclass
class EngineRun:
    """What the replay needs: the state at the start and the conversations that arrived."""

    mark: int  # the last audit event id before ingest
    new_ids: list[int]
    waiting_at_mark: set[int]
    load_at_mark: dict[int, int]
    capacity: dict[int, int]
    on_duty: list[int]
    details: dict[str, Any] = field(default_factory=dict)


def _room(on_duty: Iterable[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Open load and capacity of each agent on duty (the selector capacity counts with)."""
    from inbox.selectors.assignment import colleagues

    wanted = set(on_duty)
    staff = [colleague for colleague in colleagues() if colleague.user_id in wanted]
    return (
        {colleague.user_id: colleague.load for colleague in staff},
        {colleague.user_id: colleague.capacity for colleague in staff},
    )


def _last_audit_id() -> int:
    from django.db.models import Max

    from inbox.models import AuditEvent

    return AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0


def _count_assigned_since(mark: int) -> Callable[[], int]:
    from inbox.models import AuditEvent

    def count() -> int:
        return AuditEvent.objects.filter(id__gt=mark, action="conversation.assigned").count()

    return count


def _measure_engine(ctx: BenchContext, staffing: Staffing, wanted: int) -> EngineRun:
    from django.db.models import Count

    from channels.base import FetchResult
    from channels.models import Channel
    from inbox.models import Conversation
    from inbox.services import messages_ingest

    # The queue the dataset left is handed out first, as any shift would start.
    warm_mark = _last_audit_id()
    warm_started = time.monotonic()
    _set_on_duty_available(staffing)
    warm_assigned, _at = _wait_until_quiet(
        ctx, _count_assigned_since(warm_mark), done=None, started=time.monotonic()
    )
    warm_seconds = time.monotonic() - warm_started
    load, capacity = _room(staffing.on_duty)
    room = sum(max(0, capacity[user] - load[user]) for user in load)
    channel = Channel.objects.order_by("id").first()
    if channel is None:
        raise SetupFailed("the benchmark database has no channel")
    tag = uuid.uuid4().hex[:8]
    messages, plan = _arrivals(ctx, channel.id, staffing.on_duty, load, capacity, wanted, tag)
    count = len(messages)

    waiting_at_mark = set(
        Conversation.objects.filter(
            status=Conversation.Status.OPEN, assignee__isnull=True
        ).values_list("id", flat=True)
    )
    mark = _last_audit_id()
    ctx.say(f"assignment: ingesting {count} new conversations in one batch")
    ingest_started = time.monotonic()
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(messages=messages, cursor=channel.cursor),
        from_webhook=True,
    )
    committed = time.monotonic()
    ctx.say(f"assignment: ingest committed after {committed - ingest_started:.1f} s; assigning")
    new = Conversation.objects.filter(
        channel_id=channel.id, external_thread_id__startswith=f"bench-assign-{tag}-"
    )
    new_ids = list(new.values_list("id", flat=True))

    def assigned() -> int:
        return new.filter(assignee__isnull=False).count()

    done, finished = _wait_until_quiet(ctx, assigned, done=len(new_ids), started=committed)
    seconds = finished - committed
    # One engine run gives its whole batch the same assigned_at.
    batches = list(
        new.filter(assignee__isnull=False)
        .values_list("assigned_at")
        .annotate(size=Count("id"))
        .order_by("assigned_at")
    )
    sizes = [size for _at, size in batches]
    first_to_last = (batches[-1][0] - batches[0][0]).total_seconds() if batches else 0.0
    return EngineRun(
        mark=mark,
        new_ids=new_ids,
        waiting_at_mark=waiting_at_mark,
        load_at_mark=load,
        capacity=capacity,
        on_duty=staffing.on_duty,
        details={
            "conversations": len(new_ids),
            "assigned": done,
            "seconds": round(seconds, 3),
            "rate": done / seconds if seconds > 0 else 0.0,
            "ingest_seconds": round(committed - ingest_started, 2),
            "warm_up_assigned": warm_assigned,
            "warm_up_seconds": round(warm_seconds, 1),
            "room_on_duty": room,
            "teams_planned": plan,
            "runs": len(sizes),
            "largest_run": max(sizes, default=0),
            # Between the first and the last run's start: what the runs after the first did.
            "after_first_run_rate": (
                (done - sizes[0]) / first_to_last if len(sizes) > 1 and first_to_last else None
            ),
        },
    )


def _arrivals(
    ctx: BenchContext,
    channel_id: int,
    on_duty: list[int],
    load: dict[int, int],
    capacity: dict[int, int],
    wanted: int,
    tag: str,
) -> tuple[list[Any], dict[str, int]]:
    """First messages of new threads, `wanted` or what ROOM_SHARE of the room on duty takes
    (agents in no team that the router reaches do not count), their texts chosen by asking
    the router so that each team gets a share in proportion to its members' free capacity;
    a tenth come from citizens of the channel who wrote within WEBCARE_STICKY_DAYS."""
    from django.conf import settings
    from django.utils import timezone

    from channels.base import PlatformAuthor, PlatformMessage
    from inbox import routing
    from inbox.models import AgentProfile, Contact, Conversation, RoutingRule, TeamMembership
    from inbox.services.routing import router_load

    router = router_load()
    candidates = ["Goedemiddag, ik heb een vraag over mijn melding van vorige week."]
    for keywords in RoutingRule.objects.filter(is_active=True).values_list("keywords", flat=True):
        candidates += [
            f"Vraag over {keyword}, kunt u helpen?" for keyword in routing.keywords_parse(keywords)
        ]
    text_for_team: dict[int | None, str] = {}
    for text in candidates:
        route = router.route(
            channel_id=channel_id, first_text=text, contact_category=Contact.Category.CITIZEN
        )
        text_for_team.setdefault(route.team_id, text)

    teams_of: dict[int, set[int | None]] = defaultdict(set)
    for team_id, user_id in TeamMembership.objects.filter(user_id__in=on_duty).values_list(
        "team_id", "user_id"
    ):
        if team_id in text_for_team:
            teams_of[user_id].add(team_id)
    leads = set(
        AgentProfile.objects.filter(
            user_id__in=on_duty, role=AgentProfile.Role.TEAM_LEAD
        ).values_list("user_id", flat=True)
    )
    if None in text_for_team:
        for user_id in on_duty:
            if user_id not in leads:
                teams_of[user_id].add(None)
    room_of_team: dict[int | None, float] = defaultdict(float)
    for user_id, teams in teams_of.items():
        free = max(0, capacity.get(user_id, 0) - load.get(user_id, 0))
        for team in teams:
            room_of_team[team] += free / len(teams)
    total = sum(room_of_team.values())
    count = min(wanted, int(total * ROOM_SHARE))
    if count <= 0:
        raise SetupFailed(f"the agents on duty have no room for new conversations ({load})")
    shares = {team: int(count * room / total) for team, room in room_of_team.items()}
    by_room = sorted(room_of_team, key=lambda team: room_of_team[team], reverse=True)
    for team in by_room[: count - sum(shares.values())]:
        shares[team] += 1
    texts = [text_for_team[team] for team, share in shares.items() for _ in range(share)]
    randomizer = random.Random(ctx.seed)  # noqa: S311 - a reproducible order, not a secret
    randomizer.shuffle(texts)

    recent = list(
        Conversation.objects.filter(
            channel_id=channel_id,
            last_activity_at__gte=timezone.now() - timedelta(days=settings.WEBCARE_STICKY_DAYS),
        )
        .order_by("contact_id")
        .distinct("contact_id")
        .values_list("contact__external_id", "contact__username")[: int(count * RETURNING_SHARE)]
    )
    start = timezone.now() - timedelta(minutes=30)
    messages = []
    for number, text in enumerate(texts):
        if number % round(1 / RETURNING_SHARE) == 0 and recent:
            external_id, username = recent.pop()
        else:
            external_id, username = f"bench-citizen-{tag}-{number}", f"burger{number}"
        messages.append(
            PlatformMessage(
                external_id=f"bench-assign-{tag}-{number}",
                thread_key=f"bench-assign-{tag}-{number}",
                author=PlatformAuthor(external_id=external_id, username=username),
                text=text,
                sent_at=start + timedelta(milliseconds=number),
            )
        )
    plan = {str(team): share for team, share in shares.items()}
    return messages, plan


# --- the check ----------------------------------------------------------------------------


@dataclass
class Checked:
    doubles: int = 0
    peak_load: int = 0
    peak_capacity: int = 0
    double_examples: list[str] = field(default_factory=list)
    over_capacity: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


UNKNOWN = -1  # assigned to someone before the replay starts


def replay_handovers(
    events: Iterable[tuple[int, str, dict[str, Any]]],
    *,
    unassigned_at_start: set[int],
    load_at_start: dict[int, int],
    capacity: dict[int, int],
) -> tuple[Checked, dict[int, int | None]]:
    """Replay handover audit events (conversation id, action, data) in order: a
    conversation assigned while it has an assignee is a double assignment; an agent whose
    open load exceeds their capacity right after an automatic assignment is over capacity.
    Conversations not in `unassigned_at_start` count as assigned to someone already.
    Returns the verdict and each replayed conversation's final assignee."""
    checked = Checked()
    assignee: dict[int, int | None] = {}
    load = dict(load_at_start)
    peak: dict[int, int] = dict(load_at_start)
    for conversation_id, action, data in events:
        current = assignee.get(
            conversation_id, None if conversation_id in unassigned_at_start else UNKNOWN
        )
        new = data.get("assignee_id")
        if action == "conversation.assigned" and current is not None:
            checked.doubles += 1
            checked.double_examples.append(
                f"conversation {conversation_id} assigned to {new} while it had assignee "
                f"{'someone' if current == UNKNOWN else current}"
            )
        if current not in (None, UNKNOWN):
            load[current] = load.get(current, 0) - 1
        assignee[conversation_id] = new
        if new is None:
            continue
        load[new] = load.get(new, 0) + 1
        peak[new] = max(peak.get(new, 0), load[new])
        limit = capacity.get(new)
        automatic = action == "conversation.assigned" and data.get("reason") in AUTOMATIC_REASONS
        if automatic and limit is not None and load[new] > limit:
            checked.over_capacity.append(
                f"agent {new} got conversation {conversation_id} automatically at open "
                f"load {load[new]} > capacity {limit}"
            )
    if peak:
        busiest = max(peak, key=lambda user: (peak[user] - capacity.get(user, 0), peak[user]))
        checked.peak_load, checked.peak_capacity = peak[busiest], capacity.get(busiest, 0)
    if checked.doubles:
        checked.problems.append(
            f"{checked.doubles} double assignments, e.g. {'; '.join(checked.double_examples[:3])}"
        )
    if checked.over_capacity:
        checked.problems.append(
            f"{len(checked.over_capacity)} automatic assignments above capacity, e.g. "
            f"{'; '.join(checked.over_capacity[:3])}"
        )
    return checked, assignee


def verify_assignments(engine: EngineRun) -> Checked:
    from inbox.models import AgentProfile, AuditEvent, Conversation, TeamMembership
    from inbox.services.assignment import HANDOVER_ACTIONS

    events = (
        AuditEvent.objects.filter(id__gt=engine.mark, action__in=HANDOVER_ACTIONS)
        .order_by("id")
        .values_list("conversation_id", "action", "data")
    )
    checked, replayed = replay_handovers(
        events.iterator(),
        unassigned_at_start=engine.waiting_at_mark | set(engine.new_ids),
        load_at_start=engine.load_at_mark,
        capacity=engine.capacity,
    )
    rows = dict(Conversation.objects.filter(id__in=replayed).values_list("id", "assignee_id"))
    disagree = [
        conversation_id
        for conversation_id, assignee in replayed.items()
        if rows.get(conversation_id) != assignee
    ]
    if disagree:
        checked.problems.append(
            f"{len(disagree)} conversations' assignee differs from their audit trail "
            f"(e.g. {disagree[:5]})"
        )
    # Left waiting: only when nobody on duty who serves its team has room.
    waiting = list(
        Conversation.objects.filter(id__in=engine.new_ids, assignee__isnull=True).values_list(
            "id", "team_id"
        )
    )
    load, capacity = _room(engine.on_duty)
    free = {user: capacity[user] - load[user] for user in load}
    available = set(
        AgentProfile.objects.filter(
            user_id__in=engine.on_duty, presence=AgentProfile.Presence.AVAILABLE
        ).values_list("user_id", flat=True)
    )
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in TeamMembership.objects.values_list("team_id", "user_id"):
        members[team_id].add(user_id)
    leads = set(
        AgentProfile.objects.filter(role=AgentProfile.Role.TEAM_LEAD).values_list(
            "user_id", flat=True
        )
    )
    reasons: Counter[str] = Counter()
    left_with_room: list[str] = []
    for conversation_id, team_id in waiting:
        serving = (
            members[team_id] if team_id is not None else set(engine.on_duty) - leads
        ) & available
        with_room = [user for user in serving if free.get(user, 0) > 0]
        if with_room:
            left_with_room.append(
                f"conversation {conversation_id} (team {team_id}) while agent "
                f"{with_room[0]} had room"
            )
        else:
            reasons[f"team {team_id}: its {len(serving)} agents on duty are full"] += 1
    if left_with_room:
        checked.problems.append(
            f"{len(left_with_room)} new conversations left waiting, e.g. "
            f"{'; '.join(left_with_room[:3])}"
        )
    checked.details = {
        "conversations_replayed": len(replayed),
        "double_assignments": checked.doubles,
        "over_capacity": len(checked.over_capacity),
        "highest_load": checked.peak_load,
        "its_capacity": checked.peak_capacity,
        "left_waiting": dict(reasons),
    }
    return checked
