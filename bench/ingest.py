"""Ingest: platform messages stored per second through the real ingest service, against a
hand-written INSERT … ON CONFLICT DO NOTHING of the same rows.

Both runs get the same workload, built in memory from the seed (`build_workload`): poll
batches of 100 on the X channel, with new citizens and returning ones, new threads and
replies in threads the dataset already has (most of them resolved, so the reply reopens
them), a thread begun and answered within one batch, messages read again by an
overlapping poll (stored already: skipped), and replies of our own account made outside
Webcare (echoes, stored as outbound messages). Each run has platform ids of its own, so
both store the same number of rows.

- The service run calls `inbox.services.messages_ingest` with each batch as a
  `FetchResult`, as `channels.poll` does after the connector returned: its transaction, the
  channel lock, the skip of stored and erased ids, contacts, conversations with routing and
  care cycles, reopening, the guards, audit events, metrics marks, the assignment task.
- The baseline writes the same contacts, conversations and messages (with the guards'
  findings, computed before the clock starts) with three `INSERT … ON CONFLICT DO NOTHING`
  statements per batch (psycopg2 execute_values) and two look-ups of the ids they need, one
  transaction per batch: what PostgreSQL can take on this machine through these tables and
  their indexes, with no application logic at all.

Both leave their rows behind (2 × 20,000 messages at scale 1): the burst section after this
one sees a dataset that is 4 % larger.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from inbox.demo_history import (
    FIRST_NAMES,
    FOLLOW_UPS,
    LAST_NAMES,
    REOPENINGS,
    STREETS,
    TOPICS,
    WIJKEN,
)

if TYPE_CHECKING:
    from bench.results import SectionResult
    from bench.suite import BenchContext

FULL_MESSAGES = 20_000
MINIMUM_MESSAGES = 500
BATCH_SIZE = 100
TARGET_RATIO = 0.5

# The mix of one poll's messages, after the dataset's own: of its inbound messages 62 % start
# a conversation, 4 % reopen a resolved one and the rest follow up in a conversation still
# open. Fractions; the rest are new threads of new citizens.
SHARE_DUPLICATE = 0.05  # read again: half stored in the dataset, half by this run's last poll
SHARE_ECHO = 0.01  # our account's reply made outside Webcare (the X app), under a citizen's
SHARE_REPLY_EXISTING = 0.05  # a returning citizen writes again in a resolved thread: reopens
SHARE_NEW_THREAD_RETURNING = 0.15  # a returning citizen starts a new thread
SHARE_REPLY_THIS_RUN = 0.28  # a follow-up in a thread this run started (often the same poll)


@dataclass(frozen=True)
class ExistingThread:
    thread_key: str
    contact_external_id: str
    contact_username: str


@dataclass(frozen=True)
class Existing:
    """What the workload refers to in the dataset: threads (with their citizen), citizens
    and platform ids of stored messages."""

    threads: Sequence[ExistingThread]
    contacts: Sequence[ExistingThread]
    message_ids: Sequence[str]


@dataclass
class Workload:
    batches: list[list[PlatformMessage]]
    # Messages that must end up stored: every one that is not a re-read of a stored one.
    expected_new: int
    expected_echoes: int
    external_ids: set[str] = field(default_factory=set)


def _text(rng: random.Random, *, follow_up: bool = False, reopening: bool = False) -> str:
    if reopening:
        template = rng.choice(REOPENINGS)
    elif follow_up:
        template = rng.choice(FOLLOW_UPS)
    else:
        topic = rng.choices(TOPICS, weights=[topic.weight for topic in TOPICS])[0]
        template = rng.choice(topic.questions)
    return template.format(
        straat=rng.choice(STREETS), wijk=rng.choice(WIJKEN), nummer=rng.randint(1, 180)
    )


def build_workload(
    *,
    seed: int,
    count: int,
    prefix: str,
    account_id: str,
    existing: Existing,
    start: datetime,
    batch_size: int = BATCH_SIZE,
) -> Workload:
    """`count` platform messages in poll batches, deterministic for a seed. Platform ids
    start with `prefix`, so two runs of one workload (service and baseline) store the same
    rows under different ids."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible workload, not a secret)
    batches: list[list[PlatformMessage]] = []
    # Citizen messages of this run that an echo or a follow-up may answer, newest last.
    this_run: list[PlatformMessage] = []
    # Threads this run started: (thread key, author).
    started_threads: list[tuple[str, PlatformAuthor]] = []
    expected_new = expected_echoes = 0
    external_ids: set[str] = set()
    used_existing_threads = 0
    sequence = 0
    sent_at = start
    previous_batch: list[PlatformMessage] = []
    while sequence < count:
        batch: list[PlatformMessage] = []
        for _ in range(min(batch_size, count - sequence)):
            sequence += 1
            sent_at += timedelta(milliseconds=rng.randint(50, 400))
            external_id = f"{prefix}{sequence}"
            draw = rng.random()
            bound = SHARE_DUPLICATE
            if draw < bound:
                if previous_batch and rng.random() < 0.5:
                    batch.append(rng.choice(previous_batch))
                else:
                    stored_id = rng.choice(existing.message_ids)
                    thread = rng.choice(existing.threads)
                    batch.append(
                        PlatformMessage(
                            external_id=stored_id,
                            thread_key=thread.thread_key,
                            author=PlatformAuthor(
                                external_id=thread.contact_external_id,
                                username=thread.contact_username,
                            ),
                            text=_text(rng),
                            sent_at=sent_at,
                        )
                    )
                continue
            bound += SHARE_ECHO
            if draw < bound and this_run:
                parent = this_run[-rng.randint(1, min(len(this_run), 30))]
                batch.append(
                    PlatformMessage(
                        external_id=external_id,
                        thread_key=parent.thread_key,
                        author=PlatformAuthor(external_id=account_id, username="gemeente"),
                        text="Dank je voor je bericht, we kijken ernaar!",
                        sent_at=sent_at,
                        in_reply_to_external_id=parent.external_id,
                        is_from_account=True,
                    )
                )
                expected_new += 1
                expected_echoes += 1
                external_ids.add(external_id)
                continue
            bound += SHARE_REPLY_EXISTING
            kind = "new"
            if draw < bound:
                thread = existing.threads[used_existing_threads % len(existing.threads)]
                used_existing_threads += 1
                thread_key = thread.thread_key
                author = PlatformAuthor(
                    external_id=thread.contact_external_id, username=thread.contact_username
                )
                kind = "reopening"
            elif draw < bound + SHARE_NEW_THREAD_RETURNING:
                returning = rng.choice(existing.contacts)
                author = PlatformAuthor(
                    external_id=returning.contact_external_id, username=returning.contact_username
                )
                thread_key = f"{prefix}t{sequence}"
            elif draw < bound + SHARE_NEW_THREAD_RETURNING + SHARE_REPLY_THIS_RUN and (
                started_threads
            ):
                thread_key, author = started_threads[-rng.randint(1, min(len(started_threads), 40))]
                kind = "follow_up"
            else:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                author = PlatformAuthor(
                    external_id=f"{prefix}c{sequence}",
                    username=f"{first}{last}{sequence}".replace(" ", "").lower(),
                    display_name=f"{first} {last}",
                    avatar_url=f"https://pbs.example/{sequence}.jpg",
                )
                thread_key = f"{prefix}t{sequence}"
            message = PlatformMessage(
                external_id=external_id,
                thread_key=thread_key,
                author=author,
                text=_text(rng, follow_up=kind == "follow_up", reopening=kind == "reopening"),
                sent_at=sent_at,
                is_private=rng.random() < 0.1,
                raw={"id": external_id, "author_id": author.external_id},
            )
            if thread_key == f"{prefix}t{sequence}":
                started_threads.append((thread_key, author))
            batch.append(message)
            this_run.append(message)
            expected_new += 1
            external_ids.add(external_id)
        # A connector returns newest first; the service sorts.
        batches.append(list(reversed(batch)))
        previous_batch = batch
    return Workload(batches, expected_new, expected_echoes, external_ids)


# --- the baseline -----------------------------------------------------------------------


@dataclass
class BaselineBatch:
    contacts: list[tuple[Any, ...]]
    conversations: list[tuple[Any, ...]]  # (thread key, contact external id, …)
    messages: list[tuple[Any, ...]]  # (thread key, author external id or None, …)


def baseline_batches(
    workload: Workload, *, default_team_id: int | None, existing_ids: set[str]
) -> list[BaselineBatch]:
    """The rows the service stores, as plain tuples, computed before the clock starts:
    cleaned text, the guards' findings and the conversation each message belongs to."""
    from inbox.formal_requests import find_formal_requests
    from inbox.guards import personal_data_found
    from inbox.personal_data import kinds_found
    from inbox.text import storable_author, storable_json, storable_text

    planned: list[BaselineBatch] = []
    thread_of: dict[str, str] = {}
    for batch in workload.batches:
        contacts: dict[str, tuple[Any, ...]] = {}
        conversations: dict[str, tuple[Any, ...]] = {}
        messages: list[tuple[Any, ...]] = []
        for message in sorted(batch, key=lambda message: message.sent_at):
            if message.external_id in existing_ids:
                continue  # a re-read of a stored message: the conflict skips it anyway
            if message.is_from_account:
                thread_key = thread_of[message.in_reply_to_external_id]
                messages.append(
                    (
                        thread_key,
                        None,
                        "outbound",
                        message.external_id,
                        message.in_reply_to_external_id,
                        storable_text(message.text),
                        message.is_private,
                        "[]",
                        message.sent_at,
                        storable_json(message.raw),
                        "sent",
                        message.sent_at,
                        [],
                        [],
                    )
                )
                continue
            thread_of[message.external_id] = message.thread_key
            author = storable_author(message.author)
            contacts.setdefault(
                message.author.external_id,
                (
                    message.author.external_id,
                    author["username"],
                    author["display_name"],
                    author["avatar_url"],
                ),
            )
            conversations.setdefault(
                message.thread_key,
                (
                    message.thread_key,
                    message.author.external_id,
                    message.is_private,
                    message.sent_at,
                    default_team_id,
                ),
            )
            text = storable_text(message.text)
            messages.append(
                (
                    message.thread_key,
                    message.author.external_id,
                    "inbound",
                    message.external_id,
                    message.in_reply_to_external_id,
                    text,
                    message.is_private,
                    "[]",
                    message.sent_at,
                    storable_json(message.raw),
                    None,
                    None,
                    [] if message.is_private else kinds_found(personal_data_found(text)),
                    find_formal_requests(text),
                )
            )
        planned.append(
            BaselineBatch(list(contacts.values()), list(conversations.values()), messages)
        )
    return planned


_CONTACT_INSERT = """
INSERT INTO inbox_contact (channel_id, external_id, username, display_name, avatar_url, category,
                           created_at, updated_at)
VALUES %s ON CONFLICT (channel_id, external_id) DO NOTHING
"""
_CONVERSATION_INSERT = """
INSERT INTO inbox_conversation (channel_id, contact_id, external_thread_id, is_private, status,
    priority, team_id, first_inbound_at, waiting_since, last_inbound_at, last_activity_at,
    created_at)
VALUES %s ON CONFLICT (channel_id, external_thread_id) DO NOTHING
"""
_MESSAGE_INSERT = """
INSERT INTO inbox_message (conversation_id, channel_id, direction, external_id,
    in_reply_to_external_id, author_contact_id, text, is_private, attachments, sent_at, raw,
    delivery_status, delivery_error, delivery_attempts, delivered_at, approval_reason,
    review_feedback, created_at, personal_data_kinds, formal_request_kinds)
VALUES %s ON CONFLICT (channel_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
"""


def baseline_insert(batch: BaselineBatch, *, channel_id: int, now: datetime) -> int:
    """Insert one batch's planned rows in one transaction; returns the messages inserted."""
    from django.db import connection, transaction
    from psycopg2.extras import Json, execute_values

    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg2's own, for execute_values
        execute_values(
            cursor,
            _CONTACT_INSERT,
            [(channel_id, *row, "citizen", now, now) for row in batch.contacts],
        )
        cursor.execute(
            "SELECT external_id, id FROM inbox_contact WHERE channel_id = %s"
            " AND external_id = ANY(%s)",
            [channel_id, [row[0] for row in batch.contacts]],
        )
        contact_ids = dict(cursor.fetchall())
        execute_values(
            cursor,
            _CONVERSATION_INSERT,
            [
                (
                    channel_id,
                    contact_ids[contact],
                    thread_key,
                    is_private,
                    "open",
                    2,
                    team_id,
                    sent_at,
                    sent_at,
                    sent_at,
                    sent_at,
                    now,
                )
                for thread_key, contact, is_private, sent_at, team_id in batch.conversations
            ],
        )
        thread_keys = {row[0] for row in batch.conversations} | {row[0] for row in batch.messages}
        cursor.execute(
            "SELECT external_thread_id, id FROM inbox_conversation WHERE channel_id = %s"
            " AND external_thread_id = ANY(%s)",
            [channel_id, list(thread_keys)],
        )
        conversation_ids = dict(cursor.fetchall())
        execute_values(
            cursor,
            _MESSAGE_INSERT,
            [
                (
                    conversation_ids[thread_key],
                    channel_id,
                    direction,
                    external_id,
                    in_reply_to,
                    contact_ids.get(author) if author else None,
                    text,
                    is_private,
                    attachments,
                    sent_at,
                    Json(raw),
                    delivery_status,
                    "",
                    0,
                    delivered_at,
                    "",
                    "",
                    now,
                    personal,
                    formal,
                )
                for (
                    thread_key,
                    author,
                    direction,
                    external_id,
                    in_reply_to,
                    text,
                    is_private,
                    attachments,
                    sent_at,
                    raw,
                    delivery_status,
                    delivered_at,
                    personal,
                    formal,
                ) in batch.messages
            ],
            page_size=len(batch.messages) or 1,
        )
        return cursor.rowcount if batch.messages else 0


# --- the section --------------------------------------------------------------------------


def load_existing(*, channel_id: int, seed: int, threads: int, stored_ids: int) -> Existing:
    """Resolved threads of the dataset (with their citizen) and stored platform ids, drawn
    with the seed from the channel's rows."""
    from inbox.models import Conversation, Message

    rng = random.Random(seed)  # noqa: S311 (a reproducible workload, not a secret)
    candidates = list(
        Conversation.objects.filter(
            channel_id=channel_id,
            status=Conversation.Status.RESOLVED,
            merged_into__isnull=True,
            contact__anonymised_at__isnull=True,
        )
        .order_by("id")
        .values_list("external_thread_id", "contact__external_id", "contact__username")
    )
    if not candidates:
        raise LookupError("the dataset has no resolved conversations on the X channel")
    chosen = rng.sample(candidates, min(threads, len(candidates)))
    thread_rows = [ExistingThread(*row) for row in chosen]
    contacts = [
        ExistingThread(*row) for row in rng.sample(candidates, min(threads, len(candidates)))
    ]
    # Platform ids of stored messages, drawn by primary key between the channel's first and
    # last (the dataset's ids are dense), topped up in id order when the draw found too few.
    inbound = Message.objects.filter(
        channel_id=channel_id, direction=Message.Direction.INBOUND, external_id__isnull=False
    )
    first_id = inbound.order_by("id").values_list("id", flat=True).first() or 0
    last_id = inbound.order_by("-id").values_list("id", flat=True).first() or 0
    drawn = [rng.randint(first_id, last_id) for _ in range(stored_ids * 3)] if last_id else []
    message_ids = [
        str(external_id)
        for external_id in inbound.filter(id__in=drawn)
        .order_by("id")
        .values_list("external_id", flat=True)[:stored_ids]
    ]
    if len(message_ids) < stored_ids:
        first_ones = inbound.order_by("id").values_list("external_id", flat=True)[:stored_ids]
        message_ids += [
            str(external_id) for external_id in first_ones if external_id not in message_ids
        ][: stored_ids - len(message_ids)]
    return Existing(threads=thread_rows, contacts=contacts, message_ids=message_ids)


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting_queries() -> Iterator[_QueryCounter]:
    from django.db import connection

    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def run(ctx: BenchContext) -> SectionResult:
    from django.db.models import Count
    from django.utils import timezone

    from bench.results import Figure, SectionResult
    from channels.models import Channel
    from inbox.models import Message, Team
    from inbox.services import messages_ingest

    result = SectionResult(key="ingest", title="Ingest")
    count = ctx.scaled(FULL_MESSAGES, minimum=MINIMUM_MESSAGES)
    channel = Channel.objects.filter(kind=Channel.Kind.TWITTER).order_by("id").first()
    if channel is None:
        result.problems.append("the dataset has no X channel")
        return result
    ctx.say(f"ingest: preparing 2 × {count:,} messages in batches of {BATCH_SIZE}…")
    existing = load_existing(
        channel_id=channel.id,
        seed=ctx.seed,
        threads=max(50, round(count * SHARE_REPLY_EXISTING) + 10),
        stored_ids=max(20, round(count * SHARE_DUPLICATE)),
    )
    start = timezone.now() - timedelta(hours=2)
    run_id = ctx.namespace.rsplit("-", 1)[-1]
    workloads = {
        name: build_workload(
            seed=ctx.seed,
            count=count,
            prefix=f"ingest-{run_id}-{name}-",
            account_id=channel.account_id,
            existing=existing,
            start=start,
        )
        for name in ("baseline", "service")
    }
    stored_before = set(existing.message_ids)
    default_team_id = Team.objects.filter(is_default=True).values_list("id", flat=True).first()
    planned = baseline_batches(
        workloads["baseline"], default_team_id=default_team_id, existing_ids=stored_before
    )

    # Batch by batch in turns, baseline then service: on a shared machine both see the same
    # load, and the ratio stays fair when the load changes during the section. The first
    # batch of each warms up (connections, the broker client's imports) and is not timed.
    service = workloads["service"]
    echoes = new_messages = baseline_stored = 0
    timed_service = timed_baseline = 0
    baseline_seconds = service_seconds = 0.0
    now = timezone.now()
    with counting_queries() as queries:
        for number, (planned_batch, batch) in enumerate(zip(planned, service.batches, strict=True)):
            ctx.check_stop()
            queries_before = queries.count
            began = time.perf_counter()
            inserted = baseline_insert(planned_batch, channel_id=channel.id, now=now)
            took = time.perf_counter() - began
            baseline_stored += inserted
            if number:
                baseline_seconds += took
                timed_baseline += inserted
            queries.count = queries_before
            began = time.perf_counter()
            outcome = messages_ingest(
                channel_id=channel.id, fetched=FetchResult(messages=batch, cursor=channel.cursor)
            )
            took = time.perf_counter() - began
            new_messages += outcome.new_messages
            echoes += outcome.echoes
            if number:
                service_seconds += took
                timed_service += outcome.new_messages + outcome.echoes

    service_stored = new_messages + echoes
    stored_rows = Message.objects.filter(
        channel_id=channel.id, external_id__in=sorted(service.external_ids)
    ).aggregate(rows=Count("id"))["rows"]
    if stored_rows != service.expected_new:
        result.problems.append(
            f"the service stored {stored_rows} of the workload's {service.expected_new} new "
            "platform messages"
        )
    if echoes != service.expected_echoes:
        result.problems.append(
            f"the service recognised {echoes} of {service.expected_echoes} echoes of our account"
        )
    if baseline_stored != workloads["baseline"].expected_new:
        result.problems.append(
            f"the baseline stored {baseline_stored} rows, expected "
            f"{workloads['baseline'].expected_new}"
        )
    service_rate = timed_service / service_seconds if service_seconds else 0.0
    baseline_rate = timed_baseline / baseline_seconds if baseline_seconds else 0.0
    result.add(
        Figure(
            name=f"messages stored per second (poll batches of {BATCH_SIZE})",
            value=service_rate,
            unit="msg/s",
            baseline=baseline_rate,
            baseline_name="INSERT … ON CONFLICT DO NOTHING",
            target=f"≥ {TARGET_RATIO:g} × baseline",
            met=service_rate >= TARGET_RATIO * baseline_rate,
            queries=round(queries.count / len(service.batches)),
            note=f"{service_stored:,} messages each way; queries are per batch of {BATCH_SIZE}",
        )
    )
    result.details.update(
        {
            "messages_each_way": count,
            "stored_each_way": service_stored,
            "batches": len(service.batches),
            "service_seconds": round(service_seconds, 2),
            "baseline_seconds": round(baseline_seconds, 2),
            "echoes": echoes,
            "queries_per_batch": round(queries.count / len(service.batches), 1),
            "rows_left_behind": service_stored + baseline_stored,
        }
    )
    return result
