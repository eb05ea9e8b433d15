"""The assignment section's own logic (bench/assignment.py): the audit replay that finds
double assignments and overfull agents, the check behind the figure, and the baseline task."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bench.assignment import EngineRun, _last_audit_id, _room, replay_handovers, verify_assignments
from bench.assignment_tasks import assignment_baseline
from inbox.models import Conversation
from inbox.services import audit, conversations_assign_waiting, staff_member_create
from tests.conftest import PASSWORD
from tests.inbox.helpers import citizen_writes

AGENT, OTHER = 7, 8


def assigned(conversation_id: int, to: int, reason: str = "capacity") -> tuple[int, str, dict]:
    return (
        conversation_id,
        "conversation.assigned",
        {"assignee_id": to, "previous_assignee_id": None, "reason": reason},
    )


def test_the_replay_counts_a_conversation_assigned_while_it_has_an_assignee():
    checked, final = replay_handovers(
        [assigned(1, AGENT), assigned(2, OTHER), assigned(1, OTHER)],
        unassigned_at_start={1, 2},
        load_at_start={AGENT: 0, OTHER: 0},
        capacity={AGENT: 5, OTHER: 5},
    )

    assert checked.doubles == 1
    assert "conversation 1 assigned to 8 while it had assignee 7" in checked.problems[0]
    assert final == {1: OTHER, 2: OTHER}


def test_the_replay_accepts_a_handover_between_two_assignments():
    unassigned = (1, "conversation.unassigned", {"assignee_id": None, "reason": "manual"})
    transferred = (1, "conversation.transferred", {"assignee_id": AGENT, "reason": "transferred"})
    checked, final = replay_handovers(
        [assigned(1, OTHER), unassigned, assigned(1, AGENT), transferred],
        unassigned_at_start={1},
        load_at_start={AGENT: 0, OTHER: 0},
        capacity={AGENT: 5, OTHER: 5},
    )

    assert checked.doubles == 0
    assert checked.problems == []
    assert final == {1: AGENT}


def test_a_conversation_assigned_before_the_replay_started_cannot_be_assigned_again():
    checked, _final = replay_handovers(
        [assigned(3, AGENT)], unassigned_at_start=set(), load_at_start={}, capacity={}
    )

    assert checked.doubles == 1
    assert "while it had assignee someone" in checked.problems[0]


def test_the_replay_finds_an_automatic_assignment_above_capacity_but_not_a_take():
    checked, _final = replay_handovers(
        [assigned(1, AGENT), assigned(2, AGENT, reason="taken"), assigned(3, AGENT, "sticky")],
        unassigned_at_start={1, 2, 3},
        load_at_start={AGENT: 1},
        capacity={AGENT: 2},
    )

    # Taking by hand is not limited by capacity; the sticky one after it is.
    assert len(checked.over_capacity) == 1
    assert "conversation 3 automatically at open load 4 > capacity 2" in checked.over_capacity[0]
    assert (checked.peak_load, checked.peak_capacity) == (4, 2)


def _engine_run(on_duty: list[int], new_ids: list[int]) -> EngineRun:
    load, capacity = _room(on_duty)
    return EngineRun(
        mark=_last_audit_id(),
        new_ids=new_ids,
        waiting_at_mark=set(new_ids),
        load_at_mark=load,
        capacity=capacity,
        on_duty=on_duty,
    )


@pytest.mark.django_db
def test_the_check_passes_a_real_run_and_explains_who_is_left_waiting(channel):
    agents = [
        staff_member_create(
            username=f"bench{number}", password=PASSWORD, presence="available", capacity=2
        )
        for number in range(2)
    ]
    new = [citizen_writes(channel, username=f"burger{number}").id for number in range(5)]
    run = _engine_run([agent.user_id for agent in agents], new)

    assert conversations_assign_waiting() == 4
    checked = verify_assignments(run)

    assert checked.problems == []
    assert checked.doubles == 0
    assert (checked.peak_load, checked.peak_capacity) == (2, 2)
    assert checked.details["left_waiting"] == {"team None: its 2 agents on duty are full": 1}


@pytest.mark.django_db
def test_the_check_reports_a_double_assignment_and_a_conversation_left_with_room(channel):
    agents = [
        staff_member_create(
            username=f"bench{number}", password=PASSWORD, presence="available", capacity=5
        )
        for number in range(2)
    ]
    first, second = (citizen_writes(channel, username=f"burger{n}").id for n in range(2))
    run = _engine_run([agent.user_id for agent in agents], [first, second])
    Conversation.objects.filter(id=first).update(
        assignee=agents[0].user, assigned_at=timezone.now()
    )
    audit(
        "conversation.assigned",
        conversation_id=first,
        assignee_id=agents[0].user_id,
        previous_assignee_id=None,
        reason="capacity",
    )
    # Another process believed it was still waiting.
    Conversation.objects.filter(id=first).update(
        assignee=agents[1].user, assigned_at=timezone.now()
    )
    audit(
        "conversation.assigned",
        conversation_id=first,
        assignee_id=agents[1].user_id,
        previous_assignee_id=None,
        reason="capacity",
    )

    checked = verify_assignments(run)

    assert checked.doubles == 1
    assert any("1 double assignments" in problem for problem in checked.problems)
    assert any("1 new conversations left waiting" in problem for problem in checked.problems)
    assert str(second) in " ".join(checked.problems)


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [1, 200])
def test_the_baseline_assigns_its_range_round_robin_and_nothing_else(channel, batch):
    agents = [
        staff_member_create(username=f"bench{number}", password=PASSWORD) for number in range(3)
    ]
    before = citizen_writes(channel, username="buiten")
    ids = [citizen_writes(channel, username=f"burger{number}").id for number in range(7)]
    after = citizen_writes(channel, username="ook-buiten")
    agent_ids = [agent.user_id for agent in agents]

    assert assignment_baseline(min(ids), max(ids), agent_ids, 0, 1, batch) == 7

    assignees = list(
        Conversation.objects.filter(id__in=ids)
        .order_by("waiting_since")
        .values_list("assignee_id", flat=True)
    )
    assert assignees == [agent_ids[number % 3] for number in range(7)]
    assert (
        Conversation.objects.filter(id__in=[before.id, after.id], assignee__isnull=False).count()
        == 0
    )
    # Nothing left: a second run finds no work.
    assert assignment_baseline(min(ids), max(ids), agent_ids, 0, 1, batch) == 0
