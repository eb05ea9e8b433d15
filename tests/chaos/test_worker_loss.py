"""A worker killed in the middle of a task: the task is delivered again, and the poll it
was running does not keep the channel from being polled (channels/tasks.py).

Real `celery -A webcare worker` processes (prefork) on the suite's own Redis, SIGKILLed
while the sandbox holds their request open.
"""

from __future__ import annotations

import pytest

from channels.models import Channel
from channels.sandbox import DEMO_ACCOUNT_ID, DEMO_CREDENTIALS, SandboxServer
from channels.services import channel_create
from channels.tasks import poll
from inbox.models import Message
from tests.chaos.harness import OwnRedis, Worker, wait_until
from webcare.celery import app as celery_app

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

MENTIONS = f"/2/users/{DEMO_ACCOUNT_ID}/mentions"
# Longer than the test waits: the request the killed worker made never answers in time.
HELD_OPEN_SECONDS = 40


def _channel_with_a_poll_in_flight(sandbox: SandboxServer, worker: Worker) -> Channel:
    """A new X channel whose first poll (enqueued by channel_create) is inside its request
    to the mentions endpoint, which the sandbox holds open."""
    sandbox.add_fault(MENTIONS, None, method="GET", delay_seconds=HELD_OPEN_SECONDS)
    channel = channel_create(
        kind=Channel.Kind.TWITTER,
        name="demodorp-x",
        account_id=DEMO_ACCOUNT_ID,
        account_handle="gemeentedemodorp",
        api_base_url=sandbox.url,
        credentials=dict(DEMO_CREDENTIALS),
    )
    worker.start()
    # The staged fault is used up the moment the request arrives.
    wait_until(lambda: sandbox.chaos_state()["staged"] == 0, timeout=60, what="the poll's request")
    return channel


def test_tasks_are_acknowledged_late_and_rejected_when_their_worker_is_lost() -> None:
    import inbox.tasks  # noqa: F401 - registers the inbox's tasks, as the worker does

    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    ours = [task for name, task in celery_app.tasks.items() if not name.startswith("celery.")]
    assert len(ours) >= 8
    # No task overrides the defaults.
    assert all(task.acks_late and task.reject_on_worker_lost is not False for task in ours)


def test_a_poll_whose_worker_child_is_killed_is_delivered_again_and_runs(
    sandbox: SandboxServer, own_redis: OwnRedis, worker_env: dict[str, str]
) -> None:
    worker = Worker("loss-child", worker_env, celery_app.conf.task_default_queue, concurrency=1)
    try:
        channel = _channel_with_a_poll_in_flight(sandbox, worker)
        sandbox.add_mention("Mijn container is niet geleegd", "sanne_b")

        assert worker.kill_children() == 1

        # Nobody enqueues anything: the main process rejects the lost task, it is delivered
        # again, and its new child polls (the dead child's lock went with its session).
        wait_until(
            lambda: Message.objects.filter(channel=channel).exists(),
            timeout=45,
            what="the redelivered poll storing the mention",
        )
    finally:
        worker.stop()
    assert "exited with 'signal 9 (SIGKILL)'" in worker.log_path.read_text()


def test_a_poll_killed_with_its_worker_does_not_hold_up_the_next_poll(
    sandbox: SandboxServer, own_redis: OwnRedis, worker_env: dict[str, str]
) -> None:
    # Regression: the poll lock was a Redis lock with a six-minute timeout, so a worker
    # killed mid-poll kept that channel from being polled for six minutes.
    first = Worker("loss-main", worker_env, celery_app.conf.task_default_queue, concurrency=1)
    second = Worker("loss-next", worker_env, celery_app.conf.task_default_queue, concurrency=1)
    try:
        channel = _channel_with_a_poll_in_flight(sandbox, first)
        first.kill()
        sandbox.add_mention("Het fietspad ligt vol glas", "daan_k")

        second.start()
        poll.delay(channel.id)

        wait_until(
            lambda: Message.objects.filter(channel=channel).exists(),
            timeout=45,
            what="the next poll storing the mention",
        )
    finally:
        first.stop()
        second.stop()
