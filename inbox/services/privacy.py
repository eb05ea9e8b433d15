"""Retention and anonymisation (AVG storage limitation; the municipality's selection list).

docs/architecture.md, "Privacy and archiving". Anonymising keeps what the dashboard's
figures need (times, channel, team, tags, care cycles, topics) and removes text, names,
handles, platform ids, attachments and raw payloads; deleting removes the conversation.

Both work set-based (one UPDATE or DELETE per table for a whole batch), so the daily task
handles 100,000 conversations in minutes; `retention_apply` commits every
RETENTION_BATCH_SIZE conversations, so a crash keeps what was done and the next run
continues where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from channels.models import Channel
from inbox.models import (
    AuditEvent,
    Contact,
    Conversation,
    ErasedPlatformMessage,
    Message,
    Note,
    RetentionPolicy,
    RetentionRun,
)
from inbox.selectors.privacy import (
    PolicyScope,
    retention_candidate_ids,
    retention_cutoff,
    retention_scope_report,
    retention_scopes,
)
from inbox.services import metrics
from inbox.services.common import ServiceError, audit

logger = logging.getLogger(__name__)

__all__ = [
    "contacts_anonymise",
    "conversations_anonymise",
    "conversations_delete",
    "erased_messages_prune",
    "retention_apply",
    "retention_policy_set",
]

# Conversations per transaction of a real run.
RETENTION_BATCH_SIZE = 1000

# What replaces a platform id: unique per row, so the unique constraints hold, and meaningless
# outside this database (a tweet id is not: anyone can open it).
ANONYMISED_PREFIX = "anonymised-"

MAX_MONTHS = 1200


def _with_merged(conversation_ids: Iterable[int]) -> list[int]:
    """These conversations and every conversation merged into them (an empty shell of the
    same citizen whose thread key still names them; `merged_into` protects the target)."""
    found = set(conversation_ids)
    frontier = set(found)
    while frontier:
        frontier = (
            set(
                Conversation.objects.filter(merged_into_id__in=frontier).values_list(
                    "id", flat=True
                )
            )
            - found
        )
        found |= frontier
    return sorted(found)


def _audit_many(events: list[AuditEvent]) -> None:
    # One INSERT for a batch instead of `audit()` per conversation: `audit()` would also mark
    # every conversation changed for the metrics refresh, and anonymising changes nothing the
    # facts are computed from (the refresh would only re-match topics against emptied text).
    AuditEvent.objects.bulk_create(events, batch_size=1000)


# --- remembering what was erased -----------------------------------------------------------
# A platform keeps what we erase: the Facebook poll re-reads its last 5 minutes, Meta
# redelivers webhooks, a channel added again reads its history window. Ingest skips a
# platform message whose id is remembered here (docs/architecture.md, "Retention and
# anonymisation"). Only a keyed digest is kept: a tweet id is enough to find the citizen, its
# HMAC without SECRET_KEY is not.

ERASED_DIGEST_SALT = "webcare.inbox.ErasedPlatformMessage"


def _erased_digest_key() -> bytes:
    # salted_hmac's own key derivation, so that the SQL below and `erased_message_digest`
    # give the same digest.
    return hashlib.sha256((ERASED_DIGEST_SALT + settings.SECRET_KEY).encode()).digest()


def erased_message_digest(external_id: str) -> str:
    """The keyed digest under which an erased platform message is remembered."""
    return salted_hmac(ERASED_DIGEST_SALT, external_id, algorithm="sha256").hexdigest()


# HMAC-SHA256 (RFC 2104) with PostgreSQL's built-in sha256(): H((K ^ opad) || H((K ^ ipad) ||
# m)), the padded keys computed in Python. One INSERT ... SELECT for a whole batch: the ids
# never travel to Python and back.
_REMEMBER_ERASED = """
INSERT INTO inbox_erasedplatformmessage (channel_id, external_id_digest, erased_at)
SELECT DISTINCT channel_id,
    encode(sha256(%(outer)s || sha256(%(inner)s || convert_to(external_id, 'UTF8'))), 'hex'),
    %(now)s::timestamptz
FROM inbox_message
WHERE conversation_id = ANY(%(ids)s) AND external_id IS NOT NULL
    AND NOT starts_with(external_id, %(prefix)s)
ON CONFLICT (channel_id, external_id_digest) DO NOTHING
"""


def _remember_erased_messages(cursor: Any, conversation_ids: list[int], now: datetime) -> None:
    """Remember the platform ids of every message of these conversations (before their ids
    are replaced or their rows deleted), in the caller's transaction."""
    key = _erased_digest_key().ljust(64, b"\0")
    cursor.execute(
        _REMEMBER_ERASED,
        {
            "inner": bytes(byte ^ 0x36 for byte in key),
            "outer": bytes(byte ^ 0x5C for byte in key),
            "now": now,
            "ids": conversation_ids,
            "prefix": ANONYMISED_PREFIX,
        },
    )


def erased_messages_prune(*, now: datetime | None = None) -> int:
    """Forget erased messages older than WEBCARE_ERASED_MESSAGE_MEMORY_DAYS: by then no poll,
    history window or redelivery brings them back. Returns how many were forgotten."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBCARE_ERASED_MESSAGE_MEMORY_DAYS)
    deleted, _by_model = ErasedPlatformMessage.objects.filter(erased_at__lt=cutoff).delete()
    if deleted:
        logger.info("erased platform messages forgotten", extra={"count": deleted})
    return deleted


# --- anonymise ------------------------------------------------------------------------------

_ANONYMISE_MESSAGES = """
UPDATE inbox_message SET
    text = '', raw = '{}'::jsonb, attachments = '[]'::jsonb,
    delivery_error = '', review_feedback = '', in_reply_to_external_id = '',
    external_id = CASE WHEN external_id IS NULL THEN NULL ELSE %(prefix)s || id::text END
WHERE conversation_id = ANY(%(ids)s)
"""


@transaction.atomic
def conversations_anonymise(
    *, actor: User | None, conversation_ids: list[int], reason: str, now: datetime | None = None
) -> int:
    """Anonymise these conversations (and those merged into them); returns how many were
    changed. A conversation already anonymised is left as it is. Each citizen whose every
    conversation is now anonymised is anonymised too."""
    now = now or timezone.now()
    rows = list(
        Conversation.objects.select_for_update()
        .filter(id__in=_with_merged(conversation_ids), anonymised_at__isnull=True)
        .order_by("id")
        .values_list("id", "channel_id", "contact_id")
    )
    if not rows:
        return 0
    ids = [conversation_id for conversation_id, _channel, _contact in rows]
    messages = _count_by_conversation(Message, ids)
    notes = _count_by_conversation(Note, ids)
    with connection.cursor() as cursor:
        _remember_erased_messages(cursor, ids, now)
        cursor.execute(_ANONYMISE_MESSAGES, {"prefix": ANONYMISED_PREFIX, "ids": ids})
        cursor.execute("UPDATE inbox_note SET text = '' WHERE conversation_id = ANY(%s)", [ids])
        cursor.execute(
            "UPDATE inbox_conversation SET anonymised_at = %s,"
            " external_thread_id = %s || id::text WHERE id = ANY(%s)",
            [now, ANONYMISED_PREFIX, ids],
        )
    _audit_many(
        [
            AuditEvent(
                action="conversation.anonymised",
                actor=actor,
                channel_id=channel_id,
                conversation_id=conversation_id,
                data={
                    "reason": reason,
                    "messages": messages[conversation_id],
                    "notes": notes[conversation_id],
                },
            )
            for conversation_id, channel_id, _contact in rows
        ]
    )
    contact_ids = {contact_id for _conversation, _channel, contact_id in rows}
    remaining = set(
        Conversation.objects.filter(contact_id__in=contact_ids, anonymised_at__isnull=True)
        .values_list("contact_id", flat=True)
        .distinct()
    )
    _contacts_scrub(
        actor=actor, contact_ids=sorted(contact_ids - remaining), reason=reason, now=now
    )
    return len(ids)


def _count_by_conversation(model: Any, ids: list[int]) -> Counter[int]:
    counts: Counter[int] = Counter()
    for conversation_id, count in (
        model.objects.filter(conversation_id__in=ids)
        .values_list("conversation_id")
        .annotate(count=Count("id"))
        .order_by()
    ):
        counts[conversation_id] = count
    return counts


def _contacts_scrub(
    *, actor: User | None, contact_ids: list[int], reason: str, now: datetime
) -> int:
    """Replace the names, handle, avatar and platform id of these contacts (not yet
    anonymised), and unlink them from the person they were linked to."""
    rows = list(
        Contact.objects.select_for_update()
        .filter(id__in=contact_ids, anonymised_at__isnull=True)
        .order_by("id")
        .values_list("id", "channel_id")
    )
    if not rows:
        return 0
    ids = [contact_id for contact_id, _channel in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_contact SET display_name = '', username = '', avatar_url = '',"
            " external_id = %s || id::text, person_id = NULL,"
            " anonymised_at = %s, updated_at = %s WHERE id = ANY(%s)",
            [ANONYMISED_PREFIX, now, now, ids],
        )
    _audit_many(
        [
            AuditEvent(
                action="contact.anonymised",
                actor=actor,
                channel_id=channel_id,
                data={"contact_id": contact_id, "reason": reason},
            )
            for contact_id, channel_id in rows
        ]
    )
    return len(ids)


@transaction.atomic
def contacts_anonymise(
    *, actor: User | None, contact_ids: list[int], reason: str, now: datetime | None = None
) -> int:
    """Anonymise these contacts (names, handle, platform id, avatar) and all their
    conversations; returns how many contacts.

    Their conversations are the ones they started. A message a citizen wrote in another
    citizen's conversation (a reply in someone else's public thread) stays with that thread:
    it is anonymised when that conversation is."""
    now = now or timezone.now()
    conversation_ids = list(
        Conversation.objects.filter(contact_id__in=contact_ids).values_list("id", flat=True)
    )
    conversations_anonymise(actor=actor, conversation_ids=conversation_ids, reason=reason, now=now)
    # Contacts without conversations, or whose conversations were anonymised before, are
    # not reached through their conversations.
    _contacts_scrub(actor=actor, contact_ids=list(contact_ids), reason=reason, now=now)
    return Contact.objects.filter(id__in=contact_ids, anonymised_at__isnull=False).count()


# --- delete ---------------------------------------------------------------------------------

_HOURS_SQL = """
SELECT DISTINCT date_trunc('hour', moment AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM (
    SELECT unnest(ARRAY[started_at, ended_at]) AS moment
        FROM inbox_waitfact WHERE conversation_id = ANY(%(ids)s)
    UNION ALL SELECT unnest(ARRAY[started_at, resolved_at])
        FROM inbox_cyclefact WHERE conversation_id = ANY(%(ids)s)
    UNION ALL SELECT unnest(ARRAY[started_at, resolved_at])
        FROM inbox_carecycle WHERE conversation_id = ANY(%(ids)s)
    UNION ALL SELECT unnest(ARRAY[sent_at, delivered_at])
        FROM inbox_message WHERE conversation_id = ANY(%(ids)s)
) AS moments WHERE moment IS NOT NULL
"""

# Children first; every foreign key to a conversation, message or note (checked against
# pg_constraint). The audit trail keeps its rows: their links become NULL, which its
# append-only trigger allows, and `data` names the conversation.
_DELETES = (
    "UPDATE inbox_auditevent SET message_id = NULL WHERE message_id IN"
    " (SELECT id FROM inbox_message WHERE conversation_id = ANY(%(ids)s))",
    "UPDATE inbox_auditevent SET conversation_id = NULL WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_messagetopic WHERE message_id IN"
    " (SELECT id FROM inbox_message WHERE conversation_id = ANY(%(ids)s))",
    "DELETE FROM inbox_notemention WHERE note_id IN"
    " (SELECT id FROM inbox_note WHERE conversation_id = ANY(%(ids)s))",
    "DELETE FROM inbox_note WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_message WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_carecycle WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_conversationtag WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_conversationreadstate WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_waitfact WHERE conversation_id = ANY(%(ids)s)",
    "DELETE FROM inbox_cyclefact WHERE conversation_id = ANY(%(ids)s)",
    # Merged-away conversations point at their target; they are in `ids` too.
    "UPDATE inbox_conversation SET merged_into_id = NULL WHERE id = ANY(%(ids)s)",
    "DELETE FROM inbox_conversation WHERE id = ANY(%(ids)s)",
)


@transaction.atomic
def conversations_delete(*, actor: User | None, conversation_ids: list[int], reason: str) -> int:
    """Delete these conversations (and those merged into them) with their messages, notes,
    tags, care cycles, read states and dashboard facts; returns how many. Contacts left
    without conversations or messages are deleted too. The dashboard's rollup hours they
    touched are rebuilt in the same transaction, so the figures never count them again."""
    # The metrics refresh's lock first: it rebuilds the same rollup hours, and taken after
    # the deletes it could deadlock with a refresh inserting facts for these rows.
    metrics.metrics_refresh_lock()
    rows = list(
        Conversation.objects.select_for_update()
        .filter(id__in=_with_merged(conversation_ids))
        .order_by("id")
        .values_list("id", "channel_id", "contact_id")
    )
    if not rows:
        return 0
    ids = [conversation_id for conversation_id, _channel, _contact in rows]
    messages = _count_by_conversation(Message, ids)
    contact_ids = {contact_id for _conversation, _channel, contact_id in rows} | set(
        Message.objects.filter(conversation_id__in=ids, author_contact__isnull=False)
        .values_list("author_contact_id", flat=True)
        .distinct()
    )
    # Written before the rows go, with the conversation's id in `data`: the link itself
    # becomes NULL with the delete.
    _audit_many(
        [
            AuditEvent(
                action="conversation.deleted",
                actor=actor,
                channel_id=channel_id,
                conversation_id=conversation_id,
                data={
                    "conversation_id": conversation_id,
                    "reason": reason,
                    "messages": messages[conversation_id],
                },
            )
            for conversation_id, channel_id, _contact in rows
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(_HOURS_SQL, {"ids": ids})
        hours = {hour for (hour,) in cursor.fetchall()}
        _remember_erased_messages(cursor, ids, timezone.now())
        for statement in _DELETES:
            cursor.execute(statement, {"ids": ids})
        cursor.execute(
            "DELETE FROM inbox_contact ct WHERE ct.id = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM inbox_conversation c WHERE c.contact_id = ct.id)"
            " AND NOT EXISTS (SELECT 1 FROM inbox_message m WHERE m.author_contact_id = ct.id)",
            [sorted(contact_ids)],
        )
    # The facts are gone with the conversations, so the refresh could no longer tell which
    # hours they counted in: rebuild those hours now, from what is left.
    metrics.metrics_hours_rebuild(hours)
    return len(ids)


# --- policies -------------------------------------------------------------------------------


def _policy_values(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "action": policy.action,
        "months_after_resolution": policy.months_after_resolution,
        "require_archive": policy.require_archive,
        "basis": policy.basis,
        "is_active": policy.is_active,
    }


@transaction.atomic
def retention_policy_set(
    *,
    actor: User,
    channel_id: int | None,
    action: str,
    months_after_resolution: int,
    require_archive: bool,
    basis: str,
    is_active: bool,
) -> RetentionPolicy:
    """Create or change the policy of a channel (channel_id None: the default)."""
    if action not in RetentionPolicy.Action.values:
        raise ServiceError(_("Choose anonymise or delete."))
    if not 1 <= months_after_resolution <= MAX_MONTHS:
        raise ServiceError(_("The term must be between 1 and 1200 months."))
    if channel_id is not None and not Channel.objects.filter(pk=channel_id).exists():
        raise ServiceError(_("This channel does not exist."))
    policies = RetentionPolicy.objects.select_for_update()
    policy = (
        policies.filter(channel__isnull=True)
        if channel_id is None
        else policies.filter(channel_id=channel_id)
    ).first()
    previous = _policy_values(policy) if policy is not None else None
    if policy is None:
        policy = RetentionPolicy(channel_id=channel_id)
    policy.action = action
    policy.months_after_resolution = months_after_resolution
    policy.require_archive = require_archive
    policy.basis = basis.strip()
    policy.is_active = is_active
    policy.updated_by = actor
    policy.save()
    audit(
        "retention.policy_changed",
        actor=actor,
        channel_id=channel_id,
        policy_id=policy.pk,
        previous=previous,
        current=_policy_values(policy),
    )
    return policy


# --- the run --------------------------------------------------------------------------------


def retention_apply(
    *,
    actor: User | None = None,
    dry_run: bool,
    now: datetime | None = None,
    batch_size: int = RETENTION_BATCH_SIZE,
) -> RetentionRun:
    """Apply every active retention policy (or, with dry_run, only report what it would
    remove); the run and its report are stored as a RetentionRun.

    Not one transaction: each batch of `batch_size` conversations commits on its own, and the
    run's report is saved after each, so a crash keeps what was done. The report of a real
    run counts what was due when the run started; the same numbers a dry run at that moment
    shows."""
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=timezone.now(), dry_run=dry_run, started_by=actor)
    scopes = retention_scopes()
    reports = []
    for scope in scopes:
        cutoff = retention_cutoff(now, scope.policy.months_after_resolution)
        report = retention_scope_report(scope, cutoff=cutoff)
        report["done"] = 0
        reports.append((scope, cutoff, report))
    run.report = _run_report([report for _scope, _cutoff, report in reports])
    run.save(update_fields=["report"])
    if not dry_run:

        def save_progress() -> None:
            run.report = _run_report([report for _scope, _cutoff, report in reports])
            run.save(update_fields=["report"])

        try:
            for scope, cutoff, report in reports:
                _apply_scope(
                    scope,
                    cutoff=cutoff,
                    report=report,
                    actor=actor,
                    batch_size=batch_size,
                    now=now,
                    save_progress=save_progress,
                )
        except Exception as error:
            logger.exception("Retention run %s stopped", run.pk)
            run.error = f"{type(error).__name__}: {error}"
    run.report = _run_report([report for _scope, _cutoff, report in reports])
    run.finished_at = timezone.now()
    run.save(update_fields=["report", "error", "finished_at"])
    with transaction.atomic():
        audit(
            "retention.dry_run" if dry_run else "retention.applied",
            actor=actor,
            run_id=run.pk,
            conversations=run.report["conversations"],
            messages=run.report["messages"],
            done=run.report["done"],
            kept_unarchived=run.report["kept_unarchived"],
            error=bool(run.error),
        )
    return run


def _apply_scope(
    scope: PolicyScope,
    *,
    cutoff: datetime,
    report: dict[str, Any],
    actor: User | None,
    batch_size: int,
    now: datetime,
    save_progress: Callable[[], None],
) -> None:
    after_id = 0
    reason = f"retention:{scope.policy.action}"
    while True:
        ids = retention_candidate_ids(scope, cutoff=cutoff, limit=batch_size, after_id=after_id)
        if not ids:
            return
        if scope.policy.action == RetentionPolicy.Action.DELETE:
            done = conversations_delete(actor=actor, conversation_ids=ids, reason=reason)
        else:
            done = conversations_anonymise(
                actor=actor, conversation_ids=ids, reason=reason, now=now
            )
        report["done"] += done
        after_id = ids[-1]
        save_progress()


def _run_report(channels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "channels": channels,
        "conversations": sum(report["conversations"] for report in channels),
        "messages": sum(report["messages"] for report in channels),
        "kept_unarchived": sum(report["kept_unarchived"] for report in channels),
        "done": sum(report["done"] for report in channels),
    }
