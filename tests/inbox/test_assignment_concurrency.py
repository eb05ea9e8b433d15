"""Concurrency: several real OS processes run the assignment engine and "take" at the same
time against the same PostgreSQL test database; no conversation is assigned twice and no
agent gets more than their capacity automatically.

Run as a script (`python tests/inbox/test_assignment_concurrency.py ROLE …`) this file is
one of those processes; imported by pytest it is the test. Model imports therefore wait
until Django is set up.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONVERSATIONS = 600
AVAILABLE_AGENTS = 6
CAPACITY = 40  # 240 assigned automatically; the takers take the rest
TAKERS = 3
ASSIGN_PROCESSES = 4
TAKE_PROCESSES = TAKERS
# Small batches, so that the assigning processes make many runs and meet each other (and
# the takers) on the same rows instead of one run handing out everything.
RACE_BATCH_SIZE = 5


# --- one process of the race ------------------------------------------------------------


def _run_assigner(start_at: float) -> dict:
    from inbox.services import assignment

    assignment.ASSIGNMENT_BATCH_SIZE = RACE_BATCH_SIZE
    # The follow-up task a full batch enqueues is Celery's business, not this race's: the
    # processes themselves keep running the engine.
    assignment.enqueue_assignment = lambda: None
    _wait_until(start_at)
    runs = assigned = idle_runs = 0
    while idle_runs < 5:
        count = assignment.conversations_assign_waiting()
        runs += 1
        assigned += count
        idle_runs = idle_runs + 1 if count == 0 else 0
        if count == 0:
            time.sleep(0.02)
    return {"role": "assign", "runs": runs, "assigned": assigned}


def _run_taker(start_at: float, username: str) -> dict:
    from django.contrib.auth.models import User

    from inbox.models import Conversation
    from inbox.services import ServiceError, conversation_take

    actor = User.objects.get(username=username)
    randomizer = random.Random(username)
    _wait_until(start_at)
    taken = refused = 0
    while True:
        # The head of the queue: exactly the rows the assigning processes are after.
        head = list(
            Conversation.objects.filter(assignee__isnull=True, status="open")
            .order_by("-priority", "waiting_since", "id")
            .values_list("id", flat=True)[:8]
        )
        if not head:
            break
        conversation_id = randomizer.choice(head)
        try:
            conversation_take(conversation_id=conversation_id, actor=actor)
        except ServiceError:
            refused += 1
        else:
            taken += 1
    return {"role": "take", "user": username, "taken": taken, "refused": refused}


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def main(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")
    django.setup()
    role, start_at = argv[0], float(argv[1])
    started = time.monotonic()
    result = _run_assigner(start_at) if role == "assign" else _run_taker(start_at, argv[2])
    result["finished_after"] = time.monotonic() - started
    print(json.dumps(result))


# --- the test -----------------------------------------------------------------------------


def _database_url(settings_dict: dict) -> str:
    """The configured DATABASE_URL pointed at the test database. Derived from the URL, not
    rebuilt from host and port: the embedded PostgreSQL of `make test` listens on a unix
    socket named in the URL's query, which a host:port URL would lose."""
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path="/" + quote(settings_dict["NAME"])))


@pytest.mark.django_db(transaction=True)
def test_processes_assigning_and_taking_at_once_never_assign_a_conversation_twice(channel, capsys):
    from django.db import connection
    from django.utils import timezone

    from channels.base import FetchResult, PlatformAuthor, PlatformMessage
    from inbox.models import AuditEvent, Conversation
    from inbox.services import messages_ingest, staff_member_create
    from tests.conftest import PASSWORD

    agents = [
        staff_member_create(
            username=f"agent{number}", password=PASSWORD, presence="available", capacity=CAPACITY
        )
        for number in range(AVAILABLE_AGENTS)
    ]
    # Takers work the queue by hand; away, so the engine gives them nothing.
    takers = [
        staff_member_create(username=f"taker{number}", password=PASSWORD, presence="away")
        for number in range(TAKERS)
    ]
    start = timezone.now() - timedelta(hours=3)
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(
            messages=[
                PlatformMessage(
                    external_id=f"race-{number}",
                    thread_key=f"race-{number}",
                    author=PlatformAuthor(external_id=f"citizen-{number}", username=f"c{number}"),
                    text="Container niet geleegd",
                    sent_at=start + timedelta(seconds=number),
                )
                for number in range(CONVERSATIONS)
            ],
            cursor=channel.cursor,
        ),
    )
    assert Conversation.objects.filter(assignee__isnull=True).count() == CONVERSATIONS
    connection.close()  # the processes below get the database to themselves

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
    }
    # Every process sets Django up first, then all start at this moment.
    start_at = time.time() + 6
    commands = [["assign", str(start_at)] for _ in range(ASSIGN_PROCESSES)] + [
        ["take", str(start_at), taker.user.username] for taker in takers
    ]
    processes = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    outputs = [process.communicate(timeout=240) for process in processes]
    seconds = time.time() - start_at
    for process, (_stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _err in outputs]

    events = list(
        AuditEvent.objects.filter(action="conversation.assigned").values_list(
            "conversation_id", "data"
        )
    )
    per_conversation = Counter(conversation_id for conversation_id, _data in events)
    # Exactly one assignment per conversation: nobody got one that was already taken.
    assert set(per_conversation.values()) == {1}
    assert len(per_conversation) == CONVERSATIONS
    assignees = dict(Conversation.objects.values_list("id", "assignee_id"))
    assert all(assignees[conversation] == data["assignee_id"] for conversation, data in events)
    auto = Counter(data["assignee_id"] for _c, data in events if data["reason"] != "taken")
    taken = Counter(data["assignee_id"] for _c, data in events if data["reason"] == "taken")
    # Automatic assignment fills every available agent exactly to capacity, never beyond.
    assert auto == {agent.user_id: CAPACITY for agent in agents}
    assert set(taken) <= {taker.user_id for taker in takers}
    assert sum(taken.values()) == CONVERSATIONS - AVAILABLE_AGENTS * CAPACITY
    assert sum(r["assigned"] for r in results if r["role"] == "assign") == sum(auto.values())
    assert sum(r["taken"] for r in results if r["role"] == "take") == sum(taken.values())

    runs = sum(r["runs"] for r in results if r["role"] == "assign")
    refused = sum(r["refused"] for r in results if r["role"] == "take")
    with capsys.disabled():
        print(
            f"\nassignment race: {CONVERSATIONS} conversations, {len(processes)} processes "
            f"({ASSIGN_PROCESSES} assigning in {runs} runs of at most {RACE_BATCH_SIZE}, "
            f"{TAKE_PROCESSES} taking: {sum(taken.values())} taken, {refused} refused as "
            f"already taken), {seconds:.1f} s, {CONVERSATIONS / seconds:.0f} assignments/s, "
            f"0 double assignments, capacity {CAPACITY} never exceeded"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
