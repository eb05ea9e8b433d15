"""`manage.py staff add|list`: webcare team members, for IT staff who script onboarding."""

from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from inbox.models import AgentProfile
from inbox.services import staff_member_create


class Command(BaseCommand):
    help = "Add or list webcare staff (trainees, agents, team leads, administrators)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Add a team member; asks for the password.")
        add.add_argument("username")
        add.add_argument("--role", choices=AgentProfile.Role.values, default="agent")
        add.add_argument("--first-name", default="")
        add.add_argument("--last-name", default="")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input instead of asking (for scripts).",
        )
        actions.add_parser("list", help="List team members with role, presence and capacity.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for profile in AgentProfile.objects.select_related("user").order_by("user__username"):
                self.stdout.write(
                    f"{profile.user.username}\t{profile.role}\t{profile.presence}"
                    f"\tcapacity {profile.capacity}"
                )
            return
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        try:
            staff_member_create(
                username=options["username"],
                password=password,
                role=options["role"],
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except IntegrityError as error:
            raise CommandError(f"A user named {options['username']!r} exists already.") from error
        self.stdout.write(f"Added {options['username']} ({options['role']}).")
