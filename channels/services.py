"""State changes of channels: creating them, polling them, recording their health."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from channels.base import (
    AuthenticationFailed,
    ConnectorError,
    FetchResult,
    RateLimited,
    RejectedItem,
)
from channels.credentials import encrypt_credentials
from channels.models import DEFAULT_API_BASE_URLS, Channel, QuarantinedItem, ReceivedWebhook
from channels.registry import get_connector, learned_settings
from inbox.services import audit, messages_ingest
from inbox.services.common import task_send_on_commit

logger = logging.getLogger(__name__)

# Credential names per platform: the client library's own parameter names.
REQUIRED_CREDENTIALS = {
    Channel.Kind.TWITTER: (
        "bearer_token",
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
    ),
    Channel.Kind.MASTODON: ("access_token",),
    # A page access token, and the app secret for Graph's appsecret_proof.
    Channel.Kind.FACEBOOK: ("access_token", "app_secret"),
}
# Credentials a channel may have beside the required ones. Facebook: the secret that Meta
# echoes in the webhook subscription handshake (docs/architecture.md, "Webhooks").
OPTIONAL_CREDENTIALS = {
    Channel.Kind.FACEBOOK: ("verify_token",),
}


class ChannelError(Exception):
    """A channel cannot be created or changed as asked; the message is shown to the admin."""


@transaction.atomic
def channel_create(
    *,
    kind: str,
    name: str,
    account_id: str,
    credentials: dict[str, str],
    api_base_url: str = "",
    account_handle: str = "",
    poll_interval_seconds: int = 60,
    history_days: int = 7,
    append_signature: bool = False,
    actor: User | None = None,
) -> Channel:
    if kind not in Channel.Kind.values:
        raise ChannelError(
            f"Unknown channel kind {kind!r}; choose from {', '.join(Channel.Kind.values)}."
        )
    _check_credential_names(kind, credentials)
    if Channel.objects.filter(name=name).exists():
        raise ChannelError(f"A channel named {name!r} exists already.")
    if Channel.objects.filter(kind=kind, account_id=account_id).exists():
        raise ChannelError(f"Account {account_id} on {kind} is connected already.")
    channel = Channel(
        kind=kind,
        name=name,
        account_id=account_id,
        account_handle=account_handle,
        api_base_url=(api_base_url or DEFAULT_API_BASE_URLS[kind]).rstrip("/"),
        credentials_encrypted=encrypt_credentials(credentials),
        poll_interval_seconds=poll_interval_seconds,
        history_days=history_days,
        append_signature=append_signature,
    )
    channel.full_clean()
    channel.save()
    # The audit trail records which credentials were set, never their values.
    audit(
        "channel.created",
        actor=actor,
        channel_id=channel.id,
        kind=kind,
        credential_names=sorted(credentials),
    )
    # Import the recent history now rather than at the next beat tick.
    _enqueue_poll_on_commit(channel.id)
    return channel


def _enqueue_poll_on_commit(channel_id: int) -> None:
    from channels.tasks import poll

    task_send_on_commit(poll, channel_id, otherwise="beat's channels.poll_due")


def _check_credential_names(kind: str, credentials: dict[str, str]) -> None:
    required = REQUIRED_CREDENTIALS.get(Channel.Kind(kind), ())
    missing = [key for key in required if not credentials.get(key)]
    optional = OPTIONAL_CREDENTIALS.get(Channel.Kind(kind), ())
    unknown = [
        key for key in credentials if required and key not in required and key not in optional
    ]
    if missing:
        raise ChannelError(f"Missing credentials for {kind}: {', '.join(missing)}.")
    if unknown:
        raise ChannelError(f"Unknown credential names for {kind}: {', '.join(unknown)}.")


@dataclass(frozen=True)
class PollOutcome:
    succeeded: bool
    new_messages: int = 0
    error: str = ""


def channel_poll(*, channel_id: int) -> PollOutcome:
    """Fetch what is new on the platform and store it. Callers hold the channel's poll lock."""
    channel = Channel.objects.get(id=channel_id)
    Channel.objects.filter(id=channel_id).update(last_polled_at=timezone.now())
    try:
        connector = get_connector(channel)
        fetched = connector.fetch_new()
    except ConnectorError as error:
        retry_after = error.retry_after if isinstance(error, RateLimited) else None
        channel_record_poll_failure(
            channel_id=channel_id,
            error=str(error),
            retry_after=retry_after,
            needs_attention=isinstance(error, AuthenticationFailed),
        )
        return PollOutcome(succeeded=False, error=str(error))
    except Exception as error:
        channel_record_poll_failure(channel_id=channel_id, error=f"Internal error: {error!r}")
        raise
    result = messages_ingest(channel_id=channel_id, fetched=fetched)
    channel_record_platform_settings(channel_id=channel_id, learned=learned_settings(connector))
    logger.info(
        "channel polled",
        extra={
            "channel": channel.name,
            "new_messages": result.new_messages,
            "echoes": result.echoes,
        },
    )
    return PollOutcome(succeeded=True, new_messages=result.new_messages)


@transaction.atomic
def channel_record_poll_failure(
    *, channel_id: int, error: str, retry_after: float | None = None, needs_attention: bool = False
) -> None:
    """Record a failed poll where staff see it. Credentials problems stop polling (they do
    not fix themselves and every try counts against the platform's patience); anything
    else is retried at the next interval, or after the platform's rate-limit reset."""
    channel = Channel.objects.select_for_update().get(id=channel_id)
    now = timezone.now()
    health = Channel.Health.NEEDS_ATTENTION if needs_attention else Channel.Health.FAILING
    is_news = channel.health != health or channel.last_error != error
    channel.health = health
    channel.last_error = error
    channel.last_error_at = now
    channel.paused_until = now + timedelta(seconds=retry_after) if retry_after else None
    channel.save(update_fields=["health", "last_error", "last_error_at", "paused_until"])
    logger.warning("channel poll failed", extra={"channel": channel.name, "error": error})
    # One audit row per distinct failure, not one per poll while a platform is down.
    if is_news:
        audit("channel.poll_failed", channel_id=channel.id, error=error)


@transaction.atomic
def channel_update_credentials(
    *, channel_id: int, credentials: dict[str, str], actor: User | None = None
) -> Channel:
    """New credentials (a renewed token): stored encrypted, and polling resumes."""
    channel = Channel.objects.select_for_update().get(id=channel_id)
    _check_credential_names(channel.kind, credentials)
    channel.credentials_encrypted = encrypt_credentials(credentials)
    channel.health = Channel.Health.UNKNOWN
    channel.last_error = ""
    channel.save(update_fields=["credentials_encrypted", "health", "last_error"])
    audit(
        "channel.credentials_updated",
        actor=actor,
        channel_id=channel.id,
        credential_names=sorted(credentials),
    )
    _enqueue_poll_on_commit(channel.id)
    return channel


@transaction.atomic
def channel_record_platform_settings(*, channel_id: int, learned: dict[str, Any]) -> None:
    """Keep what the connector learnt about the account (e.g. a Mastodon instance's
    character limit) in `Channel.platform_settings`; audited only when something changed."""
    if not learned:
        return
    channel = Channel.objects.select_for_update().get(id=channel_id)
    changed = {
        key: value for key, value in learned.items() if channel.platform_settings.get(key) != value
    }
    if not changed:
        return
    channel.platform_settings = {**channel.platform_settings, **changed}
    channel.save(update_fields=["platform_settings"])
    audit("channel.platform_settings_updated", channel_id=channel.id, settings=changed)


@transaction.atomic
def channel_record_check_passed(
    *, channel_id: int, description: str, learned: dict[str, Any] | None = None
) -> None:
    """`channels test` succeeded: a channel that needed attention is polled again, and what
    the check learnt about the account is kept."""
    channel_record_platform_settings(channel_id=channel_id, learned=learned or {})
    channel = Channel.objects.select_for_update().get(id=channel_id)
    if channel.health != Channel.Health.NEEDS_ATTENTION:
        return
    channel.health = Channel.Health.UNKNOWN
    channel.last_error = ""
    channel.save(update_fields=["health", "last_error"])
    audit("channel.check_passed", channel_id=channel.id, account=description)
    _enqueue_poll_on_commit(channel.id)


@transaction.atomic
def quarantine_resolve(*, item_ids: list[int], actor: User) -> int:
    """An admin has handled these unreadable items (e.g. answered them on the platform)."""
    items = list(
        QuarantinedItem.objects.select_for_update().filter(
            id__in=item_ids, resolved_at__isnull=True
        )
    )
    now = timezone.now()
    for item in items:
        item.resolved_at = now
        item.save(update_fields=["resolved_at"])
        audit(
            "channel.item_resolved",
            actor=actor,
            channel_id=item.channel_id,
            quarantined_item_id=item.id,
        )
    return len(items)


@dataclass(frozen=True)
class WebhookOutcome:
    new_messages: int = 0
    rejected: int = 0
    ignored: str = ""
    # Every entry is older than WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS: refused (403).
    stale: bool = False


@transaction.atomic
def channel_receive_facebook_webhook(*, channel_id: int, body: bytes) -> WebhookOutcome:
    """Store what a signed Graph webhook delivery brings (the view has checked the signature).

    Synchronous, in ingest's one transaction, on the same exactly-once path as polls: a
    redelivered event or one the poll has stored already creates nothing. If this raises
    (the database is down), the view answers 5xx and Meta delivers again. A body that is not
    JSON is kept in the quarantine (Meta would otherwise retry it for hours).
    """
    from channels.facebook_webhooks import parse_webhook

    # The lock ingest takes, taken first: two deliveries of the channel then queue here
    # rather than deadlock between the body's row and ingest's lock.
    channel = Channel.objects.select_for_update(no_key=True).get(id=channel_id)
    if not channel.is_active:
        # Switched off by an admin: like polling, webhooks store nothing. When the channel is
        # switched on again, its poll reads from where it stopped.
        logger.info("webhook for an inactive channel ignored", extra={"channel": channel.name})
        return WebhookOutcome(ignored="inactive channel")
    try:
        payload = json.loads(body)
    except ValueError as error:
        fetched = FetchResult(
            messages=[],
            cursor={},
            rejected=[
                RejectedItem(
                    reason=f"Webhook body is not JSON: {error}",
                    raw=body.decode("utf-8", errors="replace"),
                )
            ],
        )
    else:
        payload, stale_entries = webhook_drop_stale_entries(payload, now=timezone.now())
        if stale_entries:
            logger.warning(
                "webhook entries older than the replay window refused",
                extra={"channel": channel.name, "entries": stale_entries},
            )
            if not payload["entry"]:
                return WebhookOutcome(stale=True)
        parsed = parse_webhook(payload, page_id=channel.account_id)
        for page_id in parsed.foreign_page_ids:
            logger.warning(
                "webhook entry for another page ignored",
                extra={"channel": channel.name, "page_id": page_id},
            )
        fetched = FetchResult(messages=parsed.messages, cursor={}, rejected=parsed.rejected)
    # Replays (docs/architecture.md, "Webhooks"): the body's digest is recorded in this
    # transaction, with what it stores, so a delivery that failed (503) is not remembered and
    # Meta's redelivery of it is processed; the same signed bytes accepted before are not.
    if not webhook_body_remember(channel_id=channel.id, body=body):
        logger.warning("webhook body replayed, not processed", extra={"channel": channel.name})
        return WebhookOutcome(ignored="replayed")
    if not fetched.messages and not fetched.rejected:
        return WebhookOutcome()
    result = messages_ingest(channel_id=channel_id, fetched=fetched, from_webhook=True)
    return WebhookOutcome(new_messages=result.new_messages, rejected=result.rejected)


def webhook_body_remember(*, channel_id: int, body: bytes) -> bool:
    """Record the body's SHA-256 for the channel; False when it was recorded before (a
    replay). A concurrent identical delivery waits on the unique index for this one."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ReceivedWebhook._meta.db_table} (channel_id, body_sha256, received_at)"  # noqa: S608
            " VALUES (%s, %s, %s) ON CONFLICT (channel_id, body_sha256) DO NOTHING",
            [channel_id, hashlib.sha256(body).hexdigest(), timezone.now()],
        )
        return cursor.rowcount == 1


def webhook_drop_stale_entries(payload: Any, *, now: datetime) -> tuple[Any, int]:
    """The payload without entries whose `time` lies before the replay window, and how many
    were dropped. Meta retries for at most 36 hours, so such an entry can only be a captured
    delivery sent again after its digest was forgotten. Graph gives `time` in seconds for
    feed changes and in milliseconds for Messenger."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        return payload, 0
    oldest = (now - timedelta(seconds=settings.WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS)).timestamp()
    fresh = []
    for entry in payload["entry"]:
        moment = entry.get("time") if isinstance(entry, dict) else None
        if isinstance(moment, int | float) and not isinstance(moment, bool):
            seconds = moment / 1000 if moment > 100_000_000_000 else moment
            if seconds < oldest:
                continue
        fresh.append(entry)
    return {**payload, "entry": fresh}, len(payload["entry"]) - len(fresh)


def received_webhooks_prune(*, now: datetime | None = None) -> int:
    """Forget webhook bodies older than the replay window: the age check refuses them now."""
    cutoff = (now or timezone.now()) - timedelta(
        seconds=settings.WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS
    )
    deleted, _by_model = ReceivedWebhook.objects.filter(received_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def channel_replace_credentials(
    *, channel_id: int, credentials: dict[str, str], actor: User
) -> Channel:
    """An administrator replaces some of a channel's credentials (the channel page): names
    given with a value are replaced, the others kept. If the stored credentials cannot be
    decrypted (a rotated-out key), every required one must be given. The audit event names
    the replaced credentials, never their values; polling resumes as after
    `channel_update_credentials`."""
    from channels.credentials import CredentialsError, decrypt_credentials

    channel = Channel.objects.select_for_update().get(id=channel_id)
    replaced = {name: value for name, value in credentials.items() if value}
    if not replaced:
        raise ChannelError("Give at least one new credential; empty fields keep the stored ones.")
    try:
        stored = decrypt_credentials(channel.credentials_encrypted)
    except CredentialsError:
        stored = {}
    merged = {**stored, **replaced}
    _check_credential_names(channel.kind, merged)
    channel.credentials_encrypted = encrypt_credentials(merged)
    channel.health = Channel.Health.UNKNOWN
    channel.last_error = ""
    channel.paused_until = None
    channel.save(update_fields=["credentials_encrypted", "health", "last_error", "paused_until"])
    audit(
        "channel.credentials_replaced",
        actor=actor,
        channel_id=channel.id,
        credential_names=sorted(replaced),
    )
    logger.info(
        "channel credentials replaced",
        extra={"channel": channel.name, "credential_names": sorted(replaced)},
    )
    if channel.is_active:
        _enqueue_poll_on_commit(channel.id)
    return channel


@transaction.atomic
def channel_set_active(*, channel_id: int, is_active: bool, actor: User) -> Channel:
    """Switch a channel on or off. An inactive channel is neither polled nor stores webhook
    deliveries; switched on again, its poll reads on from where it stopped."""
    channel = Channel.objects.select_for_update().get(id=channel_id)
    if channel.is_active == is_active:
        return channel
    channel.is_active = is_active
    channel.save(update_fields=["is_active"])
    audit(
        "channel.activated" if is_active else "channel.deactivated",
        actor=actor,
        channel_id=channel.id,
        previous_is_active=not is_active,
    )
    if is_active:
        _enqueue_poll_on_commit(channel.id)
    return channel
