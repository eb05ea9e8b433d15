"""The dataset section's set-up (bench/dataset.py): the people every later section uses, and
the COPY baseline of the generation figure."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from bench.common import agent_usernames, describe_dataset, team_lead_username
from bench.dataset import (
    AGENTS,
    agent_capacity,
    agent_teams,
    agent_username,
    copy_baseline,
    set_up_people,
)
from channels.models import Channel
from inbox.demo_history import generate_history
from inbox.models import AgentProfile, Message, Team, TeamMembership

pytestmark = pytest.mark.django_db


def test_agents_get_one_or_two_teams_and_every_team_gets_agents() -> None:
    per_team: Counter[int] = Counter()
    for number in range(1, AGENTS + 1):
        teams = agent_teams(number, 6, default_index=0)
        assert 1 <= len(teams) <= 2
        assert len(set(teams)) == len(teams)
        per_team.update(teams)
        assert 8 <= agent_capacity(number) <= 12
    assert set(per_team) == set(range(6))
    assert agent_username(7) == "bench-agent-07"


def test_set_up_makes_forty_available_agents_in_six_teams_and_a_team_lead() -> None:
    agents, teams = set_up_people()

    assert len(teams) == Team.objects.count() == 6
    assert [agent.username for agent in agents] == [
        agent_username(number) for number in range(1, AGENTS + 1)
    ]
    # Only the bench agents count as agents: seed_demo's two are deactivated.
    assert agent_usernames() == [agent.username for agent in agents]
    assert team_lead_username() == "bench-lead"
    profiles = AgentProfile.objects.filter(user__in=agents)
    assert {profile.presence for profile in profiles} == {AgentProfile.Presence.AVAILABLE}
    assert {profile.role for profile in profiles} == {AgentProfile.Role.AGENT}
    assert {profile.capacity for profile in profiles} <= set(range(8, 13))
    memberships = Counter(
        TeamMembership.objects.filter(user__in=agents).values_list("user_id", flat=True)
    )
    assert set(memberships.values()) <= {1, 2}
    assert len(memberships) == AGENTS
    assert Channel.objects.count() == 3
    # No month of demo history: the section writes its own.
    assert not Message.objects.exists()

    again, _teams = set_up_people()  # a second run (--reuse) adds nobody
    assert get_user_model().objects.filter(username__startswith="bench-").count() == AGENTS + 1
    assert again == agents


def test_the_copy_baseline_copies_the_sample_and_leaves_no_table() -> None:
    agents, teams = set_up_people()
    generate_history(
        channels=list(Channel.objects.order_by("id")),
        agents=agents,
        teams=teams,
        days=5,
        seed=1,
        end=datetime(2026, 4, 15, 10, 0, tzinfo=UTC),
        conversations=40,
        messages=100,
    )
    messages = Message.objects.count()

    rows, seconds = copy_baseline(30)

    assert rows == 30
    assert seconds > 0
    rows, _seconds = copy_baseline(10 * messages)
    assert rows == messages
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_message_copy')")
        assert cursor.fetchone() == (None,)
    summary = describe_dataset()["summary"]
    assert summary["messages"] == messages
    assert summary["teams"] == 6
    assert summary["agents"] == AGENTS
