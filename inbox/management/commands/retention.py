"""`manage.py retention dry-run | apply [--yes] | policies`: the retention policies from the
shell (docs/architecture.md, "Privacy and archiving").

`dry-run` prints what the next run would anonymise or delete and stores it as a dry run, like
the page's button; `apply` does it, but only with `--yes`, as the daily task does;
`policies` lists the policies.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inbox.models import RetentionRun
from inbox.selectors.privacy import retention_policy_rows
from inbox.services import retention_apply


class Command(BaseCommand):
    help = "Show or apply the retention policies."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("what", choices=["dry-run", "apply", "policies"])
        parser.add_argument("--yes", action="store_true", help="Apply without asking (apply only).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["what"] == "policies":
            self._policies()
            return
        if options["what"] == "apply" and not options["yes"]:
            run = retention_apply(dry_run=True)
            self._report(run)
            self.stdout.write("Nothing changed: add --yes to apply.")
            return
        run = retention_apply(dry_run=options["what"] == "dry-run")
        self._report(run)
        if run.error:
            raise CommandError(f"The run stopped: {run.error}")

    def _report(self, run: RetentionRun) -> None:
        verb = "would" if run.dry_run else "did"
        for report in run.report["channels"]:
            done = "" if run.dry_run else f", done {report['done']}"
            self.stdout.write(
                f"{report['channel']}: {verb} {report['action']} {report['conversations']}"
                f" conversations ({report['messages']} messages) resolved before"
                f" {report['cutoff']}; kept because not archived: {report['kept_unarchived']}"
                f"{done}"
            )
        self.stdout.write(
            f"Total: {run.report['conversations']} conversations,"
            f" {run.report['messages']} messages (run {run.pk})."
        )

    def _policies(self) -> None:
        for row in retention_policy_rows():
            name = row["channel"].name if row["channel"] else "default"
            policy = row["policy"]
            if policy is None:
                self.stdout.write(
                    f"{name}: uses the default" if row["channel"] else f"{name}: none"
                )
                continue
            self.stdout.write(
                f"{name}: {policy.action} after {policy.months_after_resolution} months,"
                f" require archive {'yes' if policy.require_archive else 'no'},"
                f" {'active' if policy.is_active else 'off'}"
                + (f" ({policy.basis})" if policy.basis else "")
            )
