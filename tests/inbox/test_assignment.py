"""The assignment engine: fairness on capacity, round robin, priorities, teams, stickiness,
presence (docs/architecture.md, "Assignment engine")."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from channels.services import channel_poll
from inbox.models import AgentProfile, AuditEvent, Conversation
from inbox.services import (
    ASSIGNMENT_BATCH_SIZE,
    ServiceError,
    agent_record_seen,
    agent_set_presence,
    agent_update_settings,
    agents_mark_inactive_away,
    conversation_take,
    conversation_unassign,
    conversations_assign_waiting,
    reply_create,
    reply_deliver,
    routing_rule_create,
    staff_member_create,
    team_create,
    team_member_add,
)
from inbox.tasks import presence_sweep
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db


def make_agent(username: str, *, capacity: int = 8, presence: str = "available", **extra):
    return staff_member_create(
        username=username,
        password=PASSWORD,
        first_name=username.title(),
        presence=presence,
        capacity=capacity,
        **extra,
    )


def assigned_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="conversation.assigned").order_by("id"))


def waiting_conversations(channel, count: int, *, prefix: str = "burger", start=None):
    """`count` citizens, each writing one minute after the previous one."""
    start = start or timezone.now() - timedelta(hours=2)
    return [
        citizen_writes(
            channel, username=f"{prefix}{number}", sent_at=start + timedelta(minutes=number)
        )
        for number in range(count)
    ]


# --- fairness ------------------------------------------------------------------------------


def test_sixty_conversations_fill_three_agents_exactly_to_capacity_most_free_first(channel):
    ada = make_agent("ada", capacity=10)
    ben = make_agent("ben", capacity=20)
    cas = make_agent("cas", capacity=30)
    conversations = waiting_conversations(channel, 60)

    assert conversations_assign_waiting() == 60

    events = assigned_events()
    # Oldest first: the events follow the order in which the citizens wrote.
    assert [event.conversation_id for event in events] == [c.id for c in conversations]
    by_user = {ada.user_id: "ada", ben.user_id: "ben", cas.user_id: "cas"}
    sequence = [by_user[event.data["assignee_id"]] for event in events]
    # Cas has the most free capacity until she is level with Ben (10 to her); then the two
    # alternate, Ben first (never assigned before), until both are level with Ada; then all
    # three in turn, Ada first.
    assert sequence == ["cas"] * 10 + ["ben", "cas"] * 10 + ["ada", "ben", "cas"] * 10
    reasons = [event.data["reason"] for event in events]
    assert reasons[:10] == ["capacity"] * 10
    assert reasons[10:12] == ["round_robin", "capacity"]
    assert reasons[30:33] == ["round_robin", "round_robin", "capacity"]
    counts = {
        name: Conversation.objects.filter(assignee_id=user_id, status="open").count()
        for user_id, name in by_user.items()
    }
    assert counts == {"ada": 10, "ben": 20, "cas": 30}


def test_nobody_gets_more_than_their_capacity_and_the_rest_waits(channel):
    make_agent("ada", capacity=2)
    make_agent("ben", capacity=3)
    waiting_conversations(channel, 8)

    assert conversations_assign_waiting() == 5
    assert conversations_assign_waiting() == 0
    assert Conversation.objects.filter(assignee__isnull=True).count() == 3
    loads = sorted(
        Conversation.objects.filter(assignee__isnull=False).values_list(
            "assignee__username", flat=True
        )
    )
    assert loads == ["ada", "ada", "ben", "ben", "ben"]


def test_the_oldest_conversation_is_assigned_first_when_capacity_runs_short(channel):
    make_agent("ada", capacity=1)
    newer, older = (
        citizen_writes(channel, username="nieuw", sent_at=timezone.now() - timedelta(minutes=1)),
        citizen_writes(channel, username="oud", sent_at=timezone.now() - timedelta(minutes=30)),
    )

    conversations_assign_waiting()

    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.assignee is not None
    assert newer.assignee is None


def test_urgent_conversations_go_before_older_normal_ones(channel, team_lead):
    team = team_create(actor=team_lead.user, name="Algemeen", is_default=True)
    routing_rule_create(
        actor=team_lead.user, name="Spoed", team_id=team.id, keywords="#spoed", priority=4
    )
    ada = make_agent("ada", capacity=2)
    team_member_add(actor=team_lead.user, team_id=team.id, user_id=ada.user_id)
    start = timezone.now() - timedelta(hours=1)
    normal = citizen_writes(channel, username="een", text="Vraag", sent_at=start)
    urgent = citizen_writes(
        channel, username="twee", text="Lekkage #SPOED", sent_at=start + timedelta(minutes=5)
    )
    last = citizen_writes(
        channel, username="drie", text="Vraag", sent_at=start + timedelta(minutes=9)
    )

    conversations_assign_waiting()

    assert [event.conversation_id for event in assigned_events()] == [urgent.id, normal.id]
    last.refresh_from_db()
    assert last.assignee is None


def test_the_round_robin_continues_across_runs(channel, agent, second_agent):
    citizen_writes(channel, username="een")
    conversations_assign_waiting()
    first = Conversation.objects.get()
    assert first.assignee == agent.user  # a tie between two never assigned: the first profile
    # Bram takes one by hand: both have 7 free again, and taking is not a turn.
    taken = citizen_writes(channel, username="twee")
    conversation_take(conversation_id=taken.id, actor=second_agent.user)
    citizen_writes(channel, username="drie")

    conversations_assign_waiting()

    third = Conversation.objects.get(contact__username="drie")
    assert third.assignee == second_agent.user
    assert assigned_events()[-1].data["reason"] == "round_robin"


def test_a_run_stores_each_assignee_the_time_and_every_agents_turn(channel, agent, second_agent):
    waiting_conversations(channel, 3)
    before = timezone.now()

    conversations_assign_waiting()

    rows = list(
        Conversation.objects.order_by("waiting_since").values_list("assignee_id", "assigned_at")
    )
    assert [assignee for assignee, _at in rows] == [
        event.data["assignee_id"] for event in assigned_events()
    ]
    assert [assignee for assignee, _at in rows] == [
        agent.user_id,
        second_agent.user_id,
        agent.user_id,
    ]
    assert len({at for _assignee, at in rows}) == 1
    assert rows[0][1] >= before
    agent.refresh_from_db()
    second_agent.refresh_from_db()
    # Anouk had the run's last turn (the third conversation), so Bram is next.
    assert before <= second_agent.last_assigned_at < agent.last_assigned_at


def test_offline_and_away_agents_get_nothing(channel, agent, second_agent):
    third = make_agent("cas")
    agent_set_presence(actor=agent.user, presence="offline")
    agent_set_presence(actor=second_agent.user, presence="away")
    waiting_conversations(channel, 3)

    conversations_assign_waiting()

    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {third.user_id}


def test_inactive_accounts_get_nothing(channel, agent):
    agent.user.is_active = False
    agent.user.save(update_fields=["is_active"])
    citizen_writes(channel)

    assert conversations_assign_waiting() == 0


def test_a_full_batch_asks_for_another_run(
    channel, agent, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("inbox.services.assignment.ASSIGNMENT_BATCH_SIZE", 2)
    waiting_conversations(channel, 3)

    with django_capture_on_commit_callbacks() as callbacks:
        assert conversations_assign_waiting() == 2
    assert len(callbacks) == 1  # the follow-up run
    assert ASSIGNMENT_BATCH_SIZE == 200


def test_the_query_count_does_not_grow_with_the_batch(
    channel, agent, second_agent, django_assert_max_num_queries
):
    waiting_conversations(channel, 40)

    # Lock agents, load, memberships, candidates, history (2), three batch writes, the
    # metrics change marks, and the savepoint pair: 12 whether the batch holds 2
    # conversations or 200.
    with django_assert_max_num_queries(12):
        assert conversations_assign_waiting() == 16


# --- teams -----------------------------------------------------------------------------------


@pytest.fixture
def afval(team_lead, agent):
    """Team "Afval" with Anouk; a rule sends messages about #afval or "container" there."""
    team = team_create(actor=team_lead.user, name="Afval & Reiniging")
    team_member_add(actor=team_lead.user, team_id=team.id, user_id=agent.user_id)
    routing_rule_create(
        actor=team_lead.user, name="Afval", team_id=team.id, keywords="#afval, container"
    )
    return team


def test_a_team_conversation_goes_only_to_members_of_the_team(channel, afval, agent, second_agent):
    # Bram has more free capacity, but is not in the team.
    for number in range(3):
        conversation = citizen_writes(channel, username=f"vol{number}", text="Container vol")
    conversation_take(conversation_id=conversation.id, actor=agent.user)
    citizen_writes(channel, username="afval", text="Mijn container is niet geleegd")

    conversations_assign_waiting()

    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {agent.user_id}


def test_a_team_without_anyone_available_keeps_its_conversations_waiting(
    channel, afval, agent, second_agent
):
    agent_set_presence(actor=agent.user, presence="away")
    team_conversation = citizen_writes(channel, username="een", text="#afval")
    other = citizen_writes(channel, username="twee", text="Paspoort verlopen")

    conversations_assign_waiting()

    team_conversation.refresh_from_db()
    other.refresh_from_db()
    assert team_conversation.assignee is None
    assert other.assignee == second_agent.user


def test_team_leads_are_assigned_only_in_their_teams(channel, afval, team_lead, agent):
    agent_set_presence(actor=agent.user, presence="away")
    agent_set_presence(actor=team_lead.user, presence="available")
    unteamed = citizen_writes(channel, username="een", text="Paspoort verlopen")
    team_conversation = citizen_writes(channel, username="twee", text="Container kapot")
    conversations_assign_waiting()
    unteamed.refresh_from_db()
    team_conversation.refresh_from_db()
    assert unteamed.assignee is None
    assert team_conversation.assignee is None

    team_member_add(actor=team_lead.user, team_id=afval.id, user_id=team_lead.user_id)
    conversations_assign_waiting()

    team_conversation.refresh_from_db()
    unteamed.refresh_from_db()
    assert team_conversation.assignee == team_lead.user
    assert unteamed.assignee is None


# --- stickiness ------------------------------------------------------------------------------


def test_a_citizen_writing_again_goes_back_to_the_agent_who_handled_them(
    channel, agent, second_agent
):
    first = citizen_writes(channel, username="trouw", thread="t1")
    conversation_take(conversation_id=first.id, actor=second_agent.user)
    # Anouk has more free capacity; without stickiness she would get it.
    again = citizen_writes(channel, username="trouw", thread="t2")

    conversations_assign_waiting()

    again.refresh_from_db()
    assert again.assignee == second_agent.user
    assert assigned_events()[-1].data["reason"] == "sticky"


def test_a_citizen_with_two_new_conversations_gets_one_agent_for_both(channel, agent, second_agent):
    first = citizen_writes(channel, username="dubbel", thread="t1")
    second = citizen_writes(channel, username="dubbel", thread="t2")

    conversations_assign_waiting()

    first.refresh_from_db()
    second.refresh_from_db()
    # Round robin alone would split them; the second follows the first.
    assert first.assignee == second.assignee
    assert [e.data["reason"] for e in assigned_events()] == ["round_robin", "sticky"]


def test_stickiness_ends_after_the_sticky_days(channel, agent, second_agent, settings):
    settings.WEBCARE_STICKY_DAYS = 7
    long_ago = timezone.now() - timedelta(days=8)
    first = citizen_writes(channel, username="trouw", thread="t1", sent_at=long_ago)
    conversation_take(conversation_id=first.id, actor=second_agent.user)
    again = citizen_writes(channel, username="trouw", thread="t2")

    conversations_assign_waiting()

    again.refresh_from_db()
    assert again.assignee == agent.user
    assert assigned_events()[-1].data["reason"] == "capacity"


def test_stickiness_skips_an_agent_who_is_not_available(channel, agent, second_agent):
    first = citizen_writes(channel, username="trouw", thread="t1")
    conversation_take(conversation_id=first.id, actor=second_agent.user)
    agent_set_presence(actor=second_agent.user, presence="away")
    again = citizen_writes(channel, username="trouw", thread="t2")

    conversations_assign_waiting()

    again.refresh_from_db()
    assert again.assignee == agent.user


def test_stickiness_skips_an_agent_at_capacity(channel, agent, second_agent):
    agent_update_settings_as_lead = make_agent("lead", role=AgentProfile.Role.TEAM_LEAD)
    agent_update_settings(
        actor=agent_update_settings_as_lead.user, user_id=second_agent.user_id, capacity=1
    )
    first = citizen_writes(channel, username="trouw", thread="t1")
    conversation_take(conversation_id=first.id, actor=second_agent.user)
    again = citizen_writes(channel, username="trouw", thread="t2")

    conversations_assign_waiting()

    again.refresh_from_db()
    assert again.assignee == agent.user


def test_an_agent_back_from_offline_gets_their_waiting_citizen_back(channel, agent, second_agent):
    conversation = citizen_writes(channel, username="trouw")
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    agent_set_presence(actor=second_agent.user, presence="offline")
    conversation.refresh_from_db()
    assert conversation.assignee is None

    agent_set_presence(actor=second_agent.user, presence="available")
    conversations_assign_waiting()

    conversation.refresh_from_db()
    assert conversation.assignee == second_agent.user
    assert assigned_events()[-1].data["reason"] == "sticky"


def test_a_conversation_given_back_on_purpose_goes_to_someone_else(channel, agent, second_agent):
    conversation = citizen_writes(channel, username="terug")
    conversation_take(conversation_id=conversation.id, actor=second_agent.user)
    conversation_unassign(conversation_id=conversation.id, actor=second_agent.user)

    conversations_assign_waiting()

    conversation.refresh_from_db()
    assert conversation.assignee == agent.user


def test_stickiness_stays_within_the_conversations_team(channel, afval, agent, second_agent):
    first = citizen_writes(channel, username="trouw", thread="t1", text="Paspoort")
    conversation_take(conversation_id=first.id, actor=second_agent.user)
    again = citizen_writes(channel, username="trouw", thread="t2", text="En mijn #afval?")

    conversations_assign_waiting()

    again.refresh_from_db()
    assert again.assignee == agent.user


# --- presence ------------------------------------------------------------------------------------


@pytest.fixture
def polled_conversations(channel, sandbox, agent):
    """Two conversations of Anouk's from the sandbox: one answered, one waiting."""
    sandbox.add_mention(text="Wanneer komt de vuilniswagen?", username="daan", name="Daan")
    sandbox.add_mention(text="Lantaarnpaal kapot", username="eva", name="Eva")
    assert channel_poll(channel_id=channel.id).succeeded
    answered = Conversation.objects.get(contact__username="daan")
    waiting = Conversation.objects.get(contact__username="eva")
    for conversation in (answered, waiting):
        conversation_take(conversation_id=conversation.id, actor=agent.user)
    reply = reply_create(
        conversation_id=answered.id, actor=agent.user, text="Morgen.", idempotency_key=uuid.uuid4()
    )
    reply_deliver(message_id=reply.id)
    answered.refresh_from_db()
    assert answered.waiting_since is None
    return answered, waiting


def test_going_offline_returns_only_waiting_conversations_to_the_queue(agent, polled_conversations):
    answered, waiting = polled_conversations

    agent_set_presence(actor=agent.user, presence="offline")

    answered.refresh_from_db()
    waiting.refresh_from_db()
    assert answered.assignee == agent.user
    assert waiting.assignee is None
    event = AuditEvent.objects.get(action="conversation.unassigned")
    assert event.conversation_id == waiting.id
    assert event.data["previous_assignee_id"] == agent.user_id
    assert event.data["reason"] == "agent_offline"


def test_going_away_keeps_every_conversation(agent, polled_conversations):
    agent_set_presence(actor=agent.user, presence="away")

    assert Conversation.objects.filter(assignee=agent.user).count() == 2
    assert not AuditEvent.objects.filter(action="conversation.unassigned").exists()


def test_idle_available_agents_are_set_away_by_the_sweep(agent, second_agent, settings):
    settings.WEBCARE_AUTO_AWAY_MINUTES = 15
    now = timezone.now()
    agent_record_seen(user_id=agent.user_id, now=now - timedelta(minutes=16))
    agent_record_seen(user_id=second_agent.user_id, now=now - timedelta(minutes=14))

    assert agents_mark_inactive_away(now=now) == 1

    agent.refresh_from_db()
    second_agent.refresh_from_db()
    assert agent.presence == "away"
    assert second_agent.presence == "available"
    event = AuditEvent.objects.get(action="agent.presence_changed")
    assert event.actor is None
    assert event.data == event.data | {
        "user_id": agent.user_id,
        "previous": "available",
        "presence": "away",
        "reason": "inactive",
    }
    assert agents_mark_inactive_away(now=now) == 0


def test_an_agent_away_for_inactivity_stays_away_when_they_come_back(logged_in, agent, settings):
    settings.WEBCARE_AUTO_AWAY_MINUTES = 15
    with time_machine.travel(timezone.now() - timedelta(minutes=30), tick=False):
        logged_in(agent).get("/")
    agent.refresh_from_db()
    seen_before = agent.last_seen_at
    assert seen_before is not None
    agents_mark_inactive_away()

    logged_in(agent).get("/")

    agent.refresh_from_db()
    assert agent.presence == "away"
    assert agent.last_seen_at > seen_before


def test_last_seen_is_written_at_most_once_a_minute(agent):
    now = timezone.now()
    assert agent_record_seen(user_id=agent.user_id, now=now)
    assert not agent_record_seen(user_id=agent.user_id, now=now + timedelta(seconds=59))
    assert agent_record_seen(user_id=agent.user_id, now=now + timedelta(seconds=61))


def test_only_team_leads_set_capacity_and_training(agent, second_agent, team_lead):
    with pytest.raises(PermissionDenied):
        agent_update_settings(actor=agent.user, user_id=second_agent.user_id, capacity=20)

    agent_update_settings(
        actor=team_lead.user, user_id=second_agent.user_id, capacity=20, in_training=True
    )

    second_agent.refresh_from_db()
    assert (second_agent.capacity, second_agent.in_training) == (20, True)
    event = AuditEvent.objects.get(action="agent.settings_changed")
    assert event.actor == team_lead.user
    assert event.data["capacity"] == 20
    assert event.data["role"] == "trainee"
    assert event.data["previous"] == {"capacity": 8, "role": "agent"}


def test_training_is_for_agents_not_for_leads(team_lead):
    with pytest.raises(ServiceError):
        agent_update_settings(actor=team_lead.user, user_id=team_lead.user_id, in_training=True)


# --- concurrency and the worker ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_conversation_locked_by_a_taker_is_skipped_not_waited_for(channel, agent):
    """SKIP LOCKED: a conversation someone is taking this instant (its row locked by another
    transaction) is left alone; the rest are assigned without waiting for it."""
    busy, free = waiting_conversations(channel, 2)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(id=busy.id)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        assert conversations_assign_waiting() == 1
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()

    busy.refresh_from_db()
    free.refresh_from_db()
    assert busy.assignee is None
    assert free.assignee == agent.user
    assert conversations_assign_waiting() == 1  # the next run gets it


def test_the_presence_sweep_runs_on_a_real_worker(celery_worker, agent, settings):
    agent_record_seen(
        user_id=agent.user_id,
        now=timezone.now() - timedelta(minutes=settings.WEBCARE_AUTO_AWAY_MINUTES + 1),
    )

    presence_sweep.delay()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        agent.refresh_from_db()
        if agent.presence == "away":
            break
        time.sleep(0.1)
    assert agent.presence == "away"
