"""`manage.py permissions_matrix > docs/permissions.md`: the roles, their permissions, and the
permission every URL declares, as Markdown (inbox/url_permissions.py).

tests/test_url_permissions.py compares docs/permissions.md with this output, so the doc
cannot drift from the code: run it again after adding a view.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inbox.url_permissions import matrix_markdown


class Command(BaseCommand):
    help = "Print the permission matrix (docs/permissions.md) as Markdown."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(matrix_markdown(), ending="")
