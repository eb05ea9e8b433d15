"""`manage.py export_archive --from DATE --to DATE --out DIR [--force] [--user USERNAME]`:
write an archive export (docs/archive-format.md) and record it, so retention may remove
what it covers.

Refuses a non-empty DIR unless --force; the files are written into DIR.partial and renamed
when complete, so DIR is never half an archive.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from inbox.models import ArchiveExport
from inbox.services import ServiceError, archive_export_create


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from error


class Command(BaseCommand):
    help = "Export conversations of a date range as a checksummed archive (Archiefwet)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD, included")
        parser.add_argument("--out", required=True, help="Directory to write the archive to.")
        parser.add_argument("--force", action="store_true", help="Replace DIR if it is not empty.")
        parser.add_argument("--user", help="The administrator recorded as having made the export.")

    def handle(self, *args: Any, **options: Any) -> None:
        date_from, date_to = _date(options["date_from"]), _date(options["date_to"])
        out = Path(options["out"]).resolve()
        if out.exists() and (not out.is_dir() or any(out.iterdir())) and not options["force"]:
            raise CommandError(f"{out} is not empty; use --force to replace it.")
        actor = None
        if options["user"]:
            actor = User.objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user named {options['user']!r}.")
        try:
            export = archive_export_create(
                actor=actor,
                date_from=date_from,
                date_to=date_to,
                out_dir=out,
                replace=options["force"],
            )
        except ServiceError as error:
            raise CommandError(str(error)) from error
        if export.status != ArchiveExport.Status.COMPLETED:
            raise CommandError(f"Export {export.pk} failed: {export.error}")
        for name, count in export.counts.items():
            self.stdout.write(f"{name}: {count}")
        self.stdout.write(f"manifest sha256: {export.manifest_sha256}")
        self.stdout.write(self.style.SUCCESS(f"Archive export {export.pk} written to {out}"))
