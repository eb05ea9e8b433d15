"""`manage.py api_token USERNAME [--rotate]`: print the team member's API token.

The token goes in `Authorization: Token <key>` (README, "REST API"). Printed alone on
stdout, so scripts can capture it: `TOKEN=$(python manage.py api_token anouk)`.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from inbox.services import ServiceError, api_token_issue


class Command(BaseCommand):
    help = "Print a webcare team member's API token, creating it if needed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--rotate",
            action="store_true",
            help="Replace the token with a new one; the old one stops working at once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            token = api_token_issue(user_id=user.pk, rotate=options["rotate"])
        except ServiceError as error:
            raise CommandError(
                f"{user.username} has no agent profile: only webcare team members get an "
                "API token (add them with `manage.py staff add`)."
            ) from error
        self.stdout.write(token.key)
