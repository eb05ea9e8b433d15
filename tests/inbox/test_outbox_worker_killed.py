"""A real Celery worker killed (SIGKILL) between the platform's answer and our commit: the
platform has the reply, our row says `sending`. Recovery and a new worker must end with
exactly one copy on the platform and the row `sent` with its id (docs/architecture.md,
"Exactly-once replies")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from channels.services import channel_poll
from inbox.models import AuditEvent, Conversation, Message
from inbox.services import replies_recover_stuck, reply_create
from inbox.tasks import recover_stuck_replies, send_reply
from tests.inbox.test_outbox_reconciliation import KINDS, page  # noqa: F401 (a fixture)
from webcare.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

CELERY = Path(sys.executable).with_name("celery")


def _database_url() -> str:
    database = connection.settings_dict
    user = quote(database["USER"] or "")
    password = f":{quote(database['PASSWORD'])}" if database.get("PASSWORD") else ""
    host = database["HOST"] or "127.0.0.1"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{database['NAME']}"


class Worker:
    """`celery -A webcare worker --pool solo` in its own process, on the test database and
    this test run's queue."""

    def __init__(self, name: str, log: Path) -> None:
        self.log = log
        self.output = log.open("ab")
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_QUEUE": celery_app.conf.task_default_queue,
            # Longer than the sandbox's delay: the worker is still waiting when it is killed.
            "WEBCARE_PLATFORM_TIMEOUT": "30",
            "DATABASE_CONN_MAX_AGE": "0",
        }
        self.process = subprocess.Popen(  # noqa: S603 (our own celery, fixed arguments)
            [
                str(CELERY),
                "-A",
                "webcare",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "-Q",
                celery_app.conf.task_default_queue,
            ],
            env=environment,
            cwd=django_settings.BASE_DIR,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: b" ready." in log.read_bytes(), what=f"worker {name} ready", within=60)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.output.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.output.close()


def wait_until(condition: Callable[[], object], *, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    # Kombu keeps a delivered-but-unacknowledged task in these until it is acknowledged.
    client.delete("unacked", "unacked_index")
    yield client
    client.delete("unacked", "unacked_index")
    client.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(name, tmp_path / f"{name}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_reply_delivery_survives_its_worker_dying():
    """What makes a dead worker's task come back rather than vanish."""
    for task in (send_reply, recover_stuck_replies):
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize("kind_name", ["x-public-reply", "mastodon-public", "facebook-messenger"])
def test_a_worker_killed_while_the_platform_answers_leaves_one_reply_recorded_once(
    request, sandbox, agent, settings, broker, workers, kind_name
):
    kind = KINDS[kind_name]
    channel = request.getfixturevalue(kind.channel_fixture)
    kind.citizen_writes(sandbox)
    assert channel_poll(channel_id=channel.id).succeeded
    conversation = Conversation.objects.get(channel=channel)
    # The platform posts the reply at once, then holds its answer back for 8 s.
    sandbox.add_fault(
        path_prefix=kind.post_path(sandbox),
        method="POST",
        status=503,
        delay_seconds=8,
        after_processing=True,
    )
    first = workers("first")

    reply = reply_create(
        conversation_id=conversation.id,
        actor=agent.user,
        text="Wij hebben uw melding doorgezet.",
        idempotency_key=uuid.uuid4(),
        private=kind.private,
    )
    wait_until(lambda: len(kind.copies(sandbox)) == 1, what="the platform to post", within=30)
    first.kill()

    reply.refresh_from_db()
    assert reply.delivery_status == Message.DeliveryStatus.SENDING
    assert reply.external_id is None
    # acks_late: the killed worker never acknowledged the task; it is kept, not lost.
    assert any(b"inbox.send_reply" in entry for entry in broker.hvals("unacked"))

    second = workers("second")
    settings.WEBCARE_STUCK_SENDING_SECONDS = 1
    time.sleep(1.1)
    assert replies_recover_stuck() == 1

    def recorded() -> bool:
        reply.refresh_from_db()
        return reply.delivery_status == Message.DeliveryStatus.SENT

    wait_until(recorded, what="the reply to be recorded as sent", within=60)
    second.stop()

    [copy] = kind.copies(sandbox)
    assert reply.external_id == str(copy["id"])
    assert reply.delivery_attempts == 2
    actions = list(
        AuditEvent.objects.filter(message=reply).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["reply.queued", "reply.recovered", "reply.sent"]
    assert AuditEvent.objects.get(action="reply.sent", message=reply).data["via"] == (
        "found_on_platform"
    )
