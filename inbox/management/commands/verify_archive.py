"""`manage.py verify_archive DIR`: recompute every checksum and count of an archive export
(docs/archive-format.md, "Verifying"); exit code 1 on any mismatch."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inbox.services import archive_verify


class Command(BaseCommand):
    help = "Check an archive export's files against its manifest."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("directory")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = archive_verify(options["directory"])
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(
                f"The archive in {options['directory']} does not match its manifest "
                f"({len(problems)} problem(s))."
            )
        self.stdout.write(self.style.SUCCESS(f"{options['directory']}: all checksums match."))
