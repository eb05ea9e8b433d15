"""`manage.py metrics_rebuild`: rebuild every fact and rollup of the dashboard from scratch.

For after a change the refresh cannot see (a data repair in SQL, a changed definition in
inbox/metrics/facts.py). Marks every conversation changed and refreshes batch by batch
(services.metrics_rebuild_all); the dashboard keeps working meanwhile, showing "updating".
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from inbox.models import Conversation
from inbox.services import metrics_rebuild_all


class Command(BaseCommand):
    help = "Rebuild the dashboard's facts and rollups of every conversation."

    def handle(self, *args: Any, **options: Any) -> None:
        total = Conversation.objects.count()
        started = time.monotonic()
        self.stdout.write(f"Rebuilding the facts and rollups of {total} conversations.")

        def progress(done: int) -> None:
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed > 0 else 0.0
            self.stdout.write(f"  {done}/{total} conversations ({rate:.0f}/s)")

        handled = metrics_rebuild_all(progress=progress)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt {handled} conversations in {elapsed:.1f} s.")
        )
