"""Dataset: two years of a municipality's webcare (1,000,000 messages at --scale 1), derived.

What every later section reads: seed_demo's set-up (staff, teams, channels, topics) without
its month of history, 40 agents (`bench-agent-01`…) in 6 teams and a team lead, then 730
days of history up to now written by inbox/demo_history.py (400,000 conversations of
150,000 citizens on 3 channels, replies, internal notes with @mentions, tags, reopened care
cycles; the same rows for the same --seed), the dashboard's facts and rollups brought up to
date by the metrics refresh, and VACUUM ANALYZE of the big tables.

Figures (docs/fragments/dataset.md):
- the generation's messages/s against the raw COPY rate of the same message rows into a
  scratch table shaped like inbox_message (same columns, indexes and WAL): what PostgreSQL
  alone needs to take those rows in, the floor under any generator;
- the metrics refresh's conversations/s (its time in the note);
- the total load time of the section.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any

from bench.results import Figure, SectionResult

# Sizes at --scale 1 (issue 9).
FULL_MESSAGES = 1_000_000
FULL_CONVERSATIONS = 400_000
FULL_CONTACTS = 150_000
DAYS = 730
AGENTS = 40
AGENT_PREFIX = "bench-agent-"
TEAM_LEAD = "bench-lead"
# seed_demo's four teams and two more: six.
EXTRA_TEAMS = (
    ("Openbare ruimte", "Straatverlichting, riool, stoepen, groen"),
    ("Evenementen & Vergunningen", "Kermis, braderie, buurtfeesten, vergunningen"),
)
# A share of the assigned conversations gets an internal note; some @mention a colleague.
NOTE_SHARE = 0.12
# Refresh batches: big ones cost a rollup hour once rather than once per small batch that
# touches it (inbox/services/metrics.py).
REFRESH_BATCH = 25_000
# The COPY baseline takes a sample of the generated message rows: a rate, not a total.
BASELINE_SAMPLE_ROWS = 200_000
BIG_TABLES = (
    # Small, but never analysed otherwise: 40 staff rows stay under autovacuum's threshold,
    # and without statistics the planner may JIT-compile a 0.05 ms query for 50 ms.
    "auth_user",
    "inbox_agentprofile",
    "inbox_message",
    "inbox_conversation",
    "inbox_contact",
    "inbox_carecycle",
    "inbox_auditevent",
    "inbox_conversationtag",
    "inbox_conversationreadstate",
    "inbox_note",
    "inbox_notemention",
    "inbox_waitfact",
    "inbox_cyclefact",
    "inbox_messagetopic",
    "inbox_metricshour",
    "inbox_metricsagenthour",
    "inbox_metricstaghour",
    "inbox_metricstopichour",
    "inbox_metricstermday",
)


def agent_username(number: int) -> str:
    return f"{AGENT_PREFIX}{number:02d}"


def agent_capacity(number: int) -> int:
    """8 to 12 open conversations, varied over the agents."""
    return 8 + number % 5


def agent_teams(number: int, team_count: int, default_index: int) -> list[int]:
    """Indexes of the 1-2 teams of agent `number` (1-based): one of the six in turn, and
    every other agent the default team too."""
    primary = (number - 1) % team_count
    teams = [primary]
    if number % 2 == 0 and primary != default_index:
        teams.append(default_index)
    return teams


def set_up_people() -> tuple[list[Any], list[Any]]:
    """seed_demo's set-up, the six teams, the bench agents and team lead; returns the agents
    (users, by username) and the teams."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from inbox.models import AgentProfile, Team
    from inbox.services import staff_deactivate, staff_member_create, team_create, team_member_add

    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", force=True, no_history=True, stdout=quiet)
    users = get_user_model().objects
    lotte = users.get(username="lotte")
    for name, description in EXTRA_TEAMS:
        if not Team.objects.filter(name=name).exists():
            team_create(actor=lotte, name=name, description=description)
    teams = list(Team.objects.order_by("id"))
    default_index = next((i for i, team in enumerate(teams) if team.is_default), 0)
    if not users.filter(username=TEAM_LEAD).exists():
        lead = staff_member_create(
            username=TEAM_LEAD,
            password=None,
            role=AgentProfile.Role.TEAM_LEAD,
            first_name="Bench",
            last_name="Lead",
            presence=AgentProfile.Presence.AVAILABLE,
        )
        for team in teams:
            team_member_add(actor=lotte, team_id=team.pk, user_id=lead.user_id)
    for number in range(1, AGENTS + 1):
        username = agent_username(number)
        if users.filter(username=username).exists():
            continue
        profile = staff_member_create(
            username=username,
            password=None,  # sessions are made with force_login (ctx.session_cookie)
            role=AgentProfile.Role.AGENT,
            first_name="Agent",
            last_name=f"{number:02d}",
            presence=AgentProfile.Presence.AVAILABLE,
            capacity=agent_capacity(number),
        )
        for index in agent_teams(number, len(teams), default_index):
            team_member_add(actor=lotte, team_id=teams[index].pk, user_id=profile.user_id)
    # seed_demo's two agents would make 42 and take part in the assignment benchmark.
    femke = users.get(username="femke")
    for user in users.filter(is_active=True, agent_profile__role=AgentProfile.Role.AGENT).exclude(
        username__startswith=AGENT_PREFIX
    ):
        staff_deactivate(actor=femke, user_id=user.pk)
    agents = list(users.filter(username__startswith=AGENT_PREFIX).order_by("username"))
    return agents, teams


def copy_baseline(sample_rows: int) -> tuple[int, float]:
    """COPY `sample_rows` generated message rows into a scratch copy of inbox_message (same
    columns, defaults, constraints and indexes; logged, like the real table) and time only
    that COPY. Returns (rows, seconds)."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        raw = cursor.cursor
        buffer = io.StringIO()
        # COPY takes no parameters; the limit is an int.
        query = f"COPY (SELECT * FROM inbox_message ORDER BY id LIMIT {int(sample_rows)}) TO STDOUT"  # noqa: S608
        raw.copy_expert(query, buffer)
        rows = buffer.getvalue().count("\n")
        buffer.seek(0)
        with transaction.atomic():
            cursor.execute("CREATE TABLE bench_message_copy (LIKE inbox_message INCLUDING ALL)")
            started = time.perf_counter()
            raw.copy_expert("COPY bench_message_copy FROM STDIN", buffer)
            seconds = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_message_copy")
    return rows, seconds


def refresh_metrics(say: Any) -> tuple[int, float]:
    """The metrics refresh until no change marks are left; (conversations, seconds)."""
    from inbox.services import metrics as metrics_services

    started = time.perf_counter()
    handled = 0
    while True:
        done = metrics_services.metrics_refresh(batch_size=REFRESH_BATCH, time_budget=None)
        handled += done
        if not done or not metrics_services.metrics_pending_changes():
            break
    return handled, time.perf_counter() - started


def vacuum_analyze() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def summary() -> dict[str, Any]:
    from bench.common import describe_dataset

    return describe_dataset()


def run(ctx: Any) -> SectionResult:
    from channels.models import Channel
    from inbox.demo_history import generate_history

    result = SectionResult(key="dataset", title="Dataset")
    started = time.perf_counter()
    ctx.say("dataset: staff, teams, channels…")
    agents, teams = set_up_people()
    setup_seconds = time.perf_counter() - started
    sizes = {
        "conversations": ctx.scaled(FULL_CONVERSATIONS),
        "messages": ctx.scaled(FULL_MESSAGES),
        "contacts": ctx.scaled(FULL_CONTACTS),
    }
    ctx.say(
        f"dataset: generating {sizes['messages']:,} messages in {sizes['conversations']:,} "
        f"conversations of {sizes['contacts']:,} citizens over {DAYS} days…"
    )
    ctx.check_stop()
    generation_started = time.perf_counter()
    history = generate_history(
        channels=list(Channel.objects.order_by("id")),
        agents=agents,
        teams=teams,
        days=DAYS,
        seed=ctx.seed,
        note_share=NOTE_SHARE,
        note_mentions=True,
        **sizes,
    )
    generation_seconds = time.perf_counter() - generation_started
    ctx.say(f"dataset: generated in {generation_seconds:.0f} s; COPY baseline…")
    ctx.check_stop()
    baseline_rows, baseline_seconds = copy_baseline(min(BASELINE_SAMPLE_ROWS, history.messages))
    ctx.say("dataset: metrics refresh…")
    ctx.check_stop()
    refreshed, refresh_seconds = refresh_metrics(ctx.say)
    ctx.say(f"dataset: refreshed {refreshed:,} conversations in {refresh_seconds:.0f} s; vacuum")
    vacuum_seconds = vacuum_analyze()
    # The baseline's time is measurement, not loading.
    total_seconds = time.perf_counter() - started - baseline_seconds

    ctx.dataset = summary()
    ctx.dataset["summary"]["days"] = DAYS
    counts = ctx.dataset["summary"]
    for name, wanted in sizes.items():
        if abs(counts[name] - wanted) > max(2, 0.01 * wanted):
            result.problems.append(f"{counts[name]:,} {name} generated, {wanted:,} asked (±1 %)")
    if refreshed < counts["conversations"]:
        result.problems.append(
            f"the metrics refresh handled {refreshed:,} of {counts['conversations']:,} "
            "conversations"
        )
    generation_rate = history.messages / generation_seconds
    baseline_rate = baseline_rows / baseline_seconds if baseline_seconds else None
    result.add(
        Figure(
            name="Generation (inbox/demo_history.py)",
            value=round(generation_rate),
            unit="messages/s",
            baseline=round(baseline_rate) if baseline_rate else None,
            baseline_name="COPY of the same message rows into a scratch inbox_message",
            note=f"{history.messages:,} messages and every other row in {generation_seconds:.0f} s",
        )
    )
    result.add(
        Figure(
            name="Metrics refresh (facts and rollups)",
            value=round(refreshed / refresh_seconds) if refresh_seconds else 0,
            unit="conversations/s",
            note=f"{refreshed:,} conversations in {refresh_seconds:.0f} s",
        )
    )
    result.add(
        Figure(
            name="Dataset load, total",
            value=round(total_seconds, 1),
            unit="s",
            target="≤ 240 s at scale 1",
            met=total_seconds <= 240 if ctx.scale >= 1 else None,
            note=f"set-up {setup_seconds:.0f} s, generation {generation_seconds:.0f} s, "
            f"refresh {refresh_seconds:.0f} s, VACUUM ANALYZE {vacuum_seconds:.0f} s",
        )
    )
    result.details = {
        "sizes_asked": sizes,
        "summary": counts,
        "history": {
            "inbound_messages": history.inbound_messages,
            "replies": history.replies,
            "care_cycles": history.care_cycles,
            "notes": history.notes,
            "mentions": history.mentions,
        },
        "seconds": {
            "setup": round(setup_seconds, 1),
            "generation": round(generation_seconds, 1),
            "copy_baseline": round(baseline_seconds, 2),
            "copy_baseline_rows": baseline_rows,
            "refresh": round(refresh_seconds, 1),
            "vacuum_analyze": round(vacuum_seconds, 1),
        },
    }
    return result
