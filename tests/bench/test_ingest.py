"""The ingest section (bench/ingest.py): its workload, its baseline, and the section itself at
the smallest scale, on the test database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bench.ingest import (
    BATCH_SIZE,
    MINIMUM_MESSAGES,
    Existing,
    ExistingThread,
    baseline_batches,
    baseline_insert,
    build_workload,
    load_existing,
    run,
)
from bench.suite import BenchContext, parse_arguments
from channels.base import FetchResult
from inbox.models import Contact, Conversation, Message
from inbox.services import conversation_resolve, messages_ingest
from tests.inbox.helpers import citizen_writes
from webcare.devservices import StopRequest

EXISTING = Existing(
    threads=[
        ExistingThread(f"old-t{number}", f"old-c{number}", f"oud{number}") for number in range(40)
    ],
    contacts=[
        ExistingThread(f"old-t{number}", f"old-c{number}", f"oud{number}") for number in range(40)
    ],
    message_ids=[f"old-m{number}" for number in range(20)],
)


def workload(prefix: str, *, count: int = 1000, seed: int = 7):
    return build_workload(
        seed=seed,
        count=count,
        prefix=prefix,
        account_id="1600000000000000001",
        existing=EXISTING,
        start=timezone.now() - timedelta(hours=1),
    )


def shape(batches):
    """A workload with its run's ids taken out: what must be equal for two prefixes."""
    return [
        [
            (
                message.external_id.split("-", 1)[-1],
                message.thread_key.split("-", 1)[-1],
                message.author.external_id.split("-", 1)[-1],
                message.text,
                message.is_from_account,
            )
            for message in batch
        ]
        for batch in batches
    ]


def test_the_workload_is_the_same_for_a_seed_under_other_ids() -> None:
    one, other = workload("a-"), workload("b-")

    assert shape(one.batches) == shape(other.batches)
    assert one.expected_new == other.expected_new
    assert not one.external_ids & other.external_ids
    assert shape(workload("a-", seed=8).batches) != shape(one.batches)


def test_the_workload_is_a_realistic_mix_in_polls_of_a_hundred() -> None:
    built = workload("run-")
    messages = [message for batch in built.batches for message in batch]

    assert len(messages) == 1000
    assert all(len(batch) <= BATCH_SIZE for batch in built.batches)
    # Read again: stored in the dataset, or by the previous poll (5 %).
    rereads = len(messages) - len(built.external_ids)
    assert 20 < rereads < 90
    assert built.expected_new == len(built.external_ids)
    assert 3 <= built.expected_echoes <= 25  # 1 %
    old_threads = {thread.thread_key for thread in EXISTING.threads}
    reopening = [message for message in messages if message.thread_key in old_threads]
    assert 20 < len(reopening) < 110  # 5 % (and rereads of stored messages)
    new_citizens = {
        message.author.external_id
        for message in messages
        if message.author.external_id.startswith("run-")
    }
    assert 350 < len(new_citizens) < 550
    # Follow-ups: threads of this run with more than one message, some within one poll.
    by_thread: dict[str, int] = {}
    for message in messages:
        if message.thread_key.startswith("run-") and message.external_id in built.external_ids:
            by_thread[message.thread_key] = by_thread.get(message.thread_key, 0) + 1
    assert sum(count - 1 for count in by_thread.values() if count > 1) > 150


@pytest.fixture
def dataset(db, channel, team_lead):
    """Three resolved conversations of returning citizens, as the dataset would have them."""
    for number in range(3):
        conversation = citizen_writes(
            channel,
            username=f"oud{number}",
            thread=f"old-t{number}",
            sent_at=timezone.now() - timedelta(days=3),
        )
        conversation_resolve(conversation_id=conversation.id, actor=team_lead.user)
    return channel


def test_the_baseline_and_the_service_store_the_same_rows(dataset) -> None:
    channel = dataset
    existing = load_existing(channel_id=channel.id, seed=1, threads=3, stored_ids=3)
    assert len(existing.threads) == 3
    assert len(existing.message_ids) == 3

    def stored_by(prefix: str) -> tuple[int, int, int]:
        return (
            Message.objects.filter(external_id__startswith=prefix).count(),
            Conversation.objects.filter(external_thread_id__startswith=prefix).count(),
            Contact.objects.filter(external_id__startswith=prefix).count(),
        )

    built = {
        prefix: build_workload(
            seed=3,
            count=300,
            prefix=prefix,
            account_id=channel.account_id,
            existing=existing,
            start=timezone.now() - timedelta(hours=1),
        )
        for prefix in ("base-", "service-")
    }
    planned = baseline_batches(
        built["base-"], default_team_id=None, existing_ids=set(existing.message_ids)
    )
    inserted = sum(
        baseline_insert(batch, channel_id=channel.id, now=timezone.now()) for batch in planned
    )
    for batch in built["service-"].batches:
        messages_ingest(channel_id=channel.id, fetched=FetchResult(messages=batch, cursor={}))

    assert inserted == built["base-"].expected_new
    assert stored_by("base-") == stored_by("service-")
    assert stored_by("service-")[0] == built["service-"].expected_new
    # The echoes are ours, stored as outbound in the conversation they answer.
    echoes = Message.objects.filter(
        external_id__startswith="service-", direction=Message.Direction.OUTBOUND
    )
    assert echoes.count() == built["service-"].expected_echoes
    # Returning citizens wrote in their resolved threads: the service opened them again.
    assert Conversation.objects.filter(
        external_thread_id__startswith="old-t", status=Conversation.Status.OPEN
    ).exists()


def test_the_section_measures_both_ways_and_finds_no_problem(dataset, tmp_path: Path) -> None:
    context = BenchContext(
        arguments=parse_arguments(["--scale", "0.0001", "--seed", "5", "--only", "ingest"]),
        configured_database_url="",
        database_url="",
        redis_url="",
        workdir=tmp_path,
        stop=StopRequest(),
        namespace="webcare-bench-test0001",
    )

    result = run(context)

    assert result.problems == []
    (figure,) = result.figures
    assert figure.value > 0
    assert figure.baseline
    assert figure.queries is not None
    assert figure.queries <= 30
    assert result.details["messages_each_way"] == MINIMUM_MESSAGES
    assert (
        Message.objects.filter(external_id__startswith="ingest-test0001-service-").count()
        == (result.details["stored_each_way"])
    )
