"""Archive exports (Archiefwet): conversations with messages, notes, assignments and audit
events as JSON Lines with a checksummed manifest (docs/archive-format.md).

Every completed export is an ArchiveExport row: the retention task removes only what a
completed export covers. The files are written outside any transaction (a long range takes
minutes); the row is marked completed, and audited, once they are all on disk.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox import archive
from inbox.models import ArchiveExport
from inbox.services.common import ServiceError, audit

__all__ = [
    "archive_export_create",
    "archive_export_record_download",
    "archive_export_request",
    "archive_export_run",
    "archive_export_start",
    "archive_verify",
]

logger = logging.getLogger(__name__)


def _default_location(export: ArchiveExport) -> Path:
    return Path(settings.WEBCARE_ARCHIVE_DIR) / (
        f"archive-{export.pk}-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}"
    )


@transaction.atomic
def archive_export_start(
    *, actor: User | None, date_from: date, date_to: date, out_dir: Path | None = None
) -> ArchiveExport:
    """Record a requested export as running; archive_export_run writes it."""
    if date_from > date_to:
        raise ServiceError(_("The start date must not be after the end date."))
    if date_to >= timezone.localdate():
        # Today is not over: a later export of the same range would differ.
        raise ServiceError(_("An archive can only cover days that are over."))
    export = ArchiveExport.objects.create(
        date_from=date_from, date_to=date_to, created_by=actor, status=ArchiveExport.Status.RUNNING
    )
    export.location = str(out_dir if out_dir is not None else _default_location(export))
    export.save(update_fields=["location"])
    audit(
        "archive.started",
        actor=actor,
        export_id=export.pk,
        date_from=date_from.isoformat(),
        date_to=date_to.isoformat(),
    )
    return export


def archive_export_request(*, actor: User, date_from: date, date_to: date) -> ArchiveExport:
    """An export from the page or the API: recorded now, written by the worker
    (task `inbox.archive_export`) under WEBCARE_ARCHIVE_DIR."""
    from inbox.tasks import archive_export

    with transaction.atomic():
        export = archive_export_start(actor=actor, date_from=date_from, date_to=date_to)
        export_id = export.pk
        transaction.on_commit(lambda: archive_export.delay(export_id))
    return export


def archive_export_run(*, export_id: int, replace: bool = False) -> ArchiveExport | None:
    """Write a running export's files, then mark it completed (or failed, with the reason)."""
    export = ArchiveExport.objects.filter(pk=export_id).first()
    if export is None or export.status != ArchiveExport.Status.RUNNING:
        return export
    try:
        result = archive.write_archive(
            Path(export.location),
            date_from=export.date_from,
            date_to=export.date_to,
            replace=replace,
        )
    except Exception as error:
        logger.exception("archive export %s failed", export_id)
        return _archive_export_failed(export_id=export_id, error=str(error) or repr(error))
    return _archive_export_completed(
        export_id=export_id, manifest_sha256=result.manifest_sha256, counts=result.counts
    )


@transaction.atomic
def _archive_export_completed(
    *, export_id: int, manifest_sha256: str, counts: dict[str, int]
) -> ArchiveExport:
    export = ArchiveExport.objects.select_for_update().get(pk=export_id)
    export.status = ArchiveExport.Status.COMPLETED
    export.finished_at = timezone.now()
    export.manifest_sha256 = manifest_sha256
    export.counts = counts
    export.save(update_fields=["status", "finished_at", "manifest_sha256", "counts"])
    audit(
        "archive.exported",
        actor=export.created_by,
        export_id=export.pk,
        date_from=export.date_from.isoformat(),
        date_to=export.date_to.isoformat(),
        manifest_sha256=manifest_sha256,
        counts=counts,
    )
    return export


@transaction.atomic
def _archive_export_failed(*, export_id: int, error: str) -> ArchiveExport:
    export = ArchiveExport.objects.select_for_update().get(pk=export_id)
    export.status = ArchiveExport.Status.FAILED
    export.finished_at = timezone.now()
    export.error = error[:2000]
    export.save(update_fields=["status", "finished_at", "error"])
    # The reason may name paths; the audit trail keeps only that it failed.
    audit("archive.failed", actor=export.created_by, export_id=export.pk)
    return export


def archive_export_create(
    *,
    actor: User | None,
    date_from: date,
    date_to: date,
    out_dir: Path | None = None,
    replace: bool = False,
) -> ArchiveExport:
    """Export a range now, in this process (manage.py export_archive)."""
    export = archive_export_start(
        actor=actor, date_from=date_from, date_to=date_to, out_dir=out_dir
    )
    return archive_export_run(export_id=export.pk, replace=replace) or export


@transaction.atomic
def archive_export_record_download(*, actor: User, export_id: int) -> ArchiveExport:
    """A download of the archive's files is a sensitive read: audited before it starts."""
    export = ArchiveExport.objects.filter(pk=export_id).first()
    if export is None or export.status != ArchiveExport.Status.COMPLETED:
        raise ServiceError(_("This archive export is not available for download."))
    if not Path(export.location).is_dir():
        raise ServiceError(_("The files of this archive export are no longer there."))
    audit("archive.downloaded", actor=actor, export_id=export.pk)
    return export


def archive_verify(directory: Path | str) -> list[str]:
    """Every problem with the archive in `directory` (checksums, counts, missing or extra
    files); empty when it is intact."""
    return archive.verify_archive(Path(directory))
