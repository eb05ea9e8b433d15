"""`manage.py channels add|list|poll|test`: the channel operations admins script.

Keep the arguments and the output stable: deployment scripts depend on them.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from channels.base import ConnectorError
from channels.models import Channel
from channels.registry import get_connector, learned_settings
from channels.services import (
    ChannelError,
    channel_create,
    channel_poll,
    channel_record_check_passed,
    channel_update_credentials,
)


def _credential(value: str) -> tuple[str, str]:
    key, separator, secret = value.partition("=")
    if not separator or not key:
        raise CommandError(f"--credential must look like KEY=VALUE, got {value!r}")
    return key.strip(), secret


class Command(BaseCommand):
    help = "Connect, list, poll and test platform channels."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        add = actions.add_parser("add", help="Connect a platform account.")
        add.add_argument("kind", choices=Channel.Kind.values)
        add.add_argument("name", help="Short unique name, e.g. demodorp-x")
        add.add_argument("--account-id", required=True, help="The account's id on the platform")
        add.add_argument("--account-handle", default="", help="e.g. gemeentedemodorp")
        add.add_argument("--api-base", default="", help="API base URL (default: the platform's)")
        add.add_argument(
            "--credential",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Repeat per credential; keys are the client library's parameter names.",
        )
        add.add_argument("--poll-interval", type=int, default=60, help="Seconds between polls")
        add.add_argument(
            "--append-signature",
            action="store_true",
            help='End every reply with the agent\'s signature (initials, e.g. "^JdV")',
        )
        add.add_argument(
            "--history-days", type=int, default=7, help="First poll looks back this far"
        )

        actions.add_parser("list", help="List channels with their health.")
        poll = actions.add_parser("poll", help="Poll one channel now; exits 1 if it failed.")
        poll.add_argument("name")
        test = actions.add_parser(
            "test",
            help="Check credentials and reachability; resumes a channel that needed attention.",
        )
        test.add_argument("name")
        renew = actions.add_parser("credentials", help="Replace a channel's credentials.")
        renew.add_argument("name")
        renew.add_argument(
            "--credential", action="append", default=[], metavar="KEY=VALUE", required=True
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self._add(options)
        elif action == "list":
            self._list()
        elif action == "poll":
            self._poll(self._channel(options["name"]))
        elif action == "test":
            self._test(self._channel(options["name"]))
        elif action == "credentials":
            self._credentials(self._channel(options["name"]), options["credential"])

    def _channel(self, name: str) -> Channel:
        try:
            return Channel.objects.get(name=name)
        except Channel.DoesNotExist as error:
            raise CommandError(
                f"No channel named {name!r}; see `manage.py channels list`."
            ) from error

    def _add(self, options: dict[str, Any]) -> None:
        credentials = dict(_credential(value) for value in options["credential"])
        try:
            channel = channel_create(
                kind=options["kind"],
                name=options["name"],
                account_id=options["account_id"],
                account_handle=options["account_handle"],
                api_base_url=options["api_base"],
                credentials=credentials,
                poll_interval_seconds=options["poll_interval"],
                history_days=options["history_days"],
                append_signature=options["append_signature"],
            )
        except (ChannelError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Added channel {channel.name} ({channel.kind}, {channel.api_base_url}).")

    def _list(self) -> None:
        for channel in Channel.objects.order_by("name"):
            last = channel.last_success_at.isoformat() if channel.last_success_at else "never"
            line = (
                f"{channel.name}\t{channel.kind}\t{channel.account_id}\t{channel.health}\t"
                f"last success: {last}\t{channel.api_base_url}"
            )
            if channel.last_error:
                line += f"\terror: {channel.last_error}"
            self.stdout.write(line)

    def _poll(self, channel: Channel) -> None:
        outcome = channel_poll(channel_id=channel.id)
        if not outcome.succeeded:
            raise CommandError(f"Poll of {channel.name} failed: {outcome.error}")
        self.stdout.write(f"{outcome.new_messages} new messages")

    def _test(self, channel: Channel) -> None:
        try:
            connector = get_connector(channel)
            description = connector.check()
        except ConnectorError as error:
            raise CommandError(f"{channel.name}: {error}") from error
        channel_record_check_passed(
            channel_id=channel.id, description=description, learned=learned_settings(connector)
        )
        self.stdout.write(f"{channel.name}: OK, {description}")

    def _credentials(self, channel: Channel, values: list[str]) -> None:
        credentials = dict(_credential(value) for value in values)
        try:
            channel_update_credentials(channel_id=channel.id, credentials=credentials)
        except ChannelError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Updated the credentials of {channel.name}; polling resumes.")
