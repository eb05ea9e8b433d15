"""Celery tasks of the inbox: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from inbox import services


@shared_task(name="inbox.assign_waiting", ignore_result=True)
def assign_waiting() -> int:
    return services.conversations_assign_waiting()


@shared_task(name="inbox.presence_sweep", ignore_result=True)
def presence_sweep() -> int:
    return services.agents_mark_inactive_away()


@shared_task(name="inbox.send_reply", ignore_result=True)
def send_reply(message_id: int) -> None:
    services.reply_deliver(message_id=message_id)


@shared_task(name="inbox.recover_stuck_replies", ignore_result=True)
def recover_stuck_replies() -> int:
    return services.replies_recover_stuck()


@shared_task(name="inbox.wake_snoozed", ignore_result=True)
def wake_snoozed() -> int:
    return services.conversations_wake_snoozed()


@shared_task(name="inbox.metrics_refresh", ignore_result=True)
def metrics_refresh() -> int:
    return services.metrics_refresh()


@shared_task(name="inbox.retention_apply", ignore_result=True)
def retention_apply() -> int:
    """Daily: anonymise or delete what the retention policies say has been kept long enough."""
    run = services.retention_apply(dry_run=False)
    return int(run.report.get("conversations", 0))


@shared_task(name="inbox.archive_export", ignore_result=True)
def archive_export(export_id: int) -> None:
    """Write an archive export requested on the page or through the API."""
    services.archive_export_run(export_id=export_id)
