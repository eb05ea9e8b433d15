"""Archive exports (docs/archive-format.md): complete, checksummed, deterministic, recorded."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from channels.base import SentReply
from inbox import archive
from inbox.models import ArchiveExport, AuditEvent, Conversation, Message, Note
from inbox.services import (
    ServiceError,
    archive_export_create,
    archive_verify,
    conversation_take,
    conversation_transfer,
    conversation_unassign,
    note_create,
    reply_create,
    reply_mark_sent,
)
from tests.inbox.helpers import citizen_writes

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def read_jsonl(directory: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (directory / name).read_text("utf-8").splitlines()]


def ids(directory: Path, name: str, key: str = "id") -> list[int]:
    return [record[key] for record in read_jsonl(directory, name)]


@pytest.fixture
def history(channel, agent, second_agent, sandbox):  # type: ignore[no-untyped-def]
    """Conversations around January 2026 (Amsterdam time) with replies, notes and handovers."""
    january = citizen_writes(
        channel, text="Container niet geleegd", username="ada", sent_at=at(2026, 1, 10, 10, 0)
    )
    conversation_take(conversation_id=january.id, actor=agent.user)
    reply = reply_create(
        conversation_id=january.id,
        actor=agent.user,
        text="We komen morgen langs.",
        idempotency_key=uuid.uuid4(),
    )
    # As the delivery worker records it once the platform accepted the post.
    reply_mark_sent(message_id=reply.id, sent=SentReply("1900000000000000001", {}))
    note_create(conversation_id=january.id, actor=agent.user, text="@bram wil jij dit volgen?")
    conversation_transfer(
        conversation_id=january.id,
        actor=agent.user,
        to_user_id=second_agent.user.pk,
        note="Bram volgt dit",
    )
    conversation_unassign(conversation_id=january.id, actor=second_agent.user)
    # The citizen writes again in February: still the January conversation's message.
    citizen_writes(
        channel,
        text="Nog steeds niet",
        username="ada",
        thread=january.external_thread_id,
        sent_at=at(2026, 2, 5, 9, 0),
    )
    # 00:30 on 1 January in Amsterdam is still 31 December in UTC: in January's range.
    first_minute = citizen_writes(
        channel,
        text="Gelukkig nieuwjaar, lantaarn kapot",
        username="bert",
        sent_at=at(2026, 1, 1, 0, 30),
    )
    december = citizen_writes(
        channel, text="Vuurwerkafval", username="cees", sent_at=at(2025, 12, 31, 23, 30)
    )
    february = citizen_writes(
        channel, text="Gladheid", username="dirk", sent_at=at(2026, 2, 1, 0, 10)
    )
    note_create(conversation_id=december.id, actor=agent.user, text="Oud en nieuw")
    return {
        "january": january,
        "first_minute": first_minute,
        "december": december,
        "february": february,
        "reply": Message.objects.get(pk=reply.pk),
    }


def export(directory: Path, date_from: date = JANUARY[0], date_to: date = JANUARY[1]) -> Path:
    archive.write_archive(directory, date_from=date_from, date_to=date_to)
    return directory


pytestmark = pytest.mark.django_db


def test_a_range_holds_its_conversations_with_everything_they_have_and_nothing_else(
    history, tmp_path
):
    directory = export(tmp_path / "jan")
    in_range = [history["january"].id, history["first_minute"].id]

    assert ids(directory, "conversations.jsonl") == sorted(in_range)
    assert ids(directory, "messages.jsonl") == list(
        Message.objects.filter(conversation__in=in_range)
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert ids(directory, "notes.jsonl") == list(
        Note.objects.filter(conversation__in=in_range).order_by("id").values_list("id", flat=True)
    )
    assert ids(directory, "audit_events.jsonl") == list(
        AuditEvent.objects.filter(conversation__in=in_range)
        .order_by("id")
        .values_list("id", flat=True)
    )
    handovers = read_jsonl(directory, "assignments.jsonl")
    assert [(h["action"], h["reason"]) for h in handovers] == [
        ("assigned", "taken"),
        ("transferred", "transferred"),
        ("unassigned", "manual"),
    ]
    # The February message of the January conversation is there, exactly once.
    texts = [m["text"] for m in read_jsonl(directory, "messages.jsonl")]
    assert texts.count("Nog steeds niet") == 1
    assert "Vuurwerkafval" not in texts and "Gladheid" not in texts
    staff = {s["username"]: s for s in read_jsonl(directory, "staff.jsonl")}
    assert set(staff) == {"anouk", "bram"}
    assert staff["anouk"]["role"] == "agent"


def test_consecutive_ranges_hold_every_conversation_exactly_once(history, tmp_path):
    months = [
        (date(2025, 12, 1), date(2025, 12, 31)),
        JANUARY,
        (date(2026, 2, 1), date(2026, 2, 28)),
    ]
    exported: list[int] = []
    messages: list[int] = []
    for number, (start, end) in enumerate(months):
        directory = export(tmp_path / str(number), start, end)
        exported += ids(directory, "conversations.jsonl")
        messages += ids(directory, "messages.jsonl")

    assert sorted(exported) == sorted(Conversation.objects.values_list("id", flat=True))
    assert sorted(messages) == sorted(Message.objects.values_list("id", flat=True))


def test_our_reply_is_archived_even_after_the_platform_deleted_it(history, sandbox, tmp_path):
    sandbox.reset()  # the platform forgets every post, ours included

    directory = export(tmp_path / "jan")

    [reply] = [m for m in read_jsonl(directory, "messages.jsonl") if m["direction"] == "outbound"]
    assert reply["text"] == "We komen morgen langs."
    assert reply["delivery_status"] == "sent"
    assert reply["external_id"] == history["reply"].external_id
    assert reply["delivered_at"] == archive.utc_iso(history["reply"].delivered_at)
    assert reply["author_user_id"] == history["reply"].author_user_id


def test_the_manifest_and_sha256sums_match_the_files(history, tmp_path):
    directory = export(tmp_path / "jan")
    manifest = json.loads((directory / "manifest.json").read_bytes())

    assert archive_verify(directory) == []
    assert manifest["format"] == "webcare-archive" and manifest["format_version"] == 1
    assert manifest["range"]["from"] == "2026-01-01" and manifest["range"]["to"] == "2026-01-31"
    for entry in manifest["files"]:
        content = (directory / entry["name"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert len(content) == entry["bytes"]
        assert (
            content.count(b"\n")
            == entry["records"]
            == manifest["counts"][entry["name"].removesuffix(".jsonl")]
        )
    sums = dict(
        reversed(line.split("  ")) for line in (directory / "SHA256SUMS").read_text().splitlines()
    )
    assert (
        sums["manifest.json"]
        == hashlib.sha256((directory / "manifest.json").read_bytes()).hexdigest()
    )
    assert set(sums) == {entry["name"] for entry in manifest["files"]} | {"manifest.json"}


def test_verify_finds_a_changed_byte(history, tmp_path):
    directory = export(tmp_path / "jan")
    path = directory / "messages.jsonl"
    content = bytearray(path.read_bytes())
    content[content.index(b"Container")] = ord("K")
    path.write_bytes(bytes(content))

    problems = archive_verify(directory)

    assert any("messages.jsonl: checksum" in problem for problem in problems)
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("verify_archive", str(directory))


def test_verify_finds_a_removed_line(history, tmp_path):
    directory = export(tmp_path / "jan")
    path = directory / "audit_events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[1:]))

    problems = archive_verify(directory)

    assert any("audit_events.jsonl: " in p and "records" in p for p in problems)


def test_verify_exits_with_1_from_the_command_line(history, tmp_path):
    directory = export(tmp_path / "jan")
    (directory / "notes.jsonl").write_bytes(b"")
    command = [sys.executable, "manage.py", "verify_archive", str(directory)]

    result = subprocess.run(  # noqa: S603 - our own manage.py
        command, capture_output=True, text=True, check=False, cwd=settings.BASE_DIR
    )

    assert result.returncode == 1
    assert "notes.jsonl" in result.stderr


def test_two_exports_of_the_same_range_are_byte_identical(history, tmp_path):
    first, second = export(tmp_path / "a"), export(tmp_path / "b")

    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_command_records_a_completed_export_and_audits_it_without_text(
    history, tmp_path, capsys
):
    out = tmp_path / "jan"
    call_command("export_archive", "--from", "2026-01-01", "--to", "2026-01-31", "--out", str(out))

    export_row = ArchiveExport.objects.get()
    manifest_sha256 = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert export_row.status == ArchiveExport.Status.COMPLETED
    assert export_row.manifest_sha256 == manifest_sha256
    assert export_row.counts["conversations"] == 2
    assert export_row.location == str(out.resolve())
    assert manifest_sha256 in capsys.readouterr().out
    event = AuditEvent.objects.get(action="archive.exported")
    assert event.data["manifest_sha256"] == manifest_sha256
    assert event.data["counts"] == export_row.counts
    assert "Container" not in json.dumps(event.data)
    assert not (tmp_path / "jan.partial").exists()


def test_the_command_refuses_a_non_empty_directory_unless_forced(history, tmp_path):
    out = tmp_path / "jan"
    out.mkdir()
    (out / "old.txt").write_text("old")
    arguments = ["export_archive", "--from", "2026-01-01", "--to", "2026-01-31", "--out", str(out)]

    with pytest.raises(CommandError, match="not empty"):
        call_command(*arguments)
    call_command(*arguments, "--force")

    assert not (out / "old.txt").exists()
    assert archive_verify(out) == []


def test_a_range_that_includes_today_is_refused(db, tmp_path):
    from django.utils import timezone

    with pytest.raises(ServiceError):
        archive_export_create(
            actor=None,
            date_from=date(2026, 1, 1),
            date_to=timezone.localdate(),
            out_dir=tmp_path / "x",
        )
    assert not ArchiveExport.objects.exists()


def test_a_failed_export_is_recorded_as_failed(history, tmp_path, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(archive, "_write_files", broken)

    export_row = archive_export_create(
        actor=None, date_from=JANUARY[0], date_to=JANUARY[1], out_dir=tmp_path / "jan"
    )

    assert export_row.status == ArchiveExport.Status.FAILED
    assert "disk full" in export_row.error
    assert not (tmp_path / "jan").exists() and not (tmp_path / "jan.partial").exists()
    assert AuditEvent.objects.filter(action="archive.failed").count() == 1


def test_the_number_of_queries_does_not_grow_with_the_range(
    channel, agent, tmp_path, django_assert_max_num_queries
):
    for day in range(1, 21):
        conversation = citizen_writes(
            channel, username=f"burger{day}", sent_at=at(2026, 1, day, 12)
        )
        note_create(conversation_id=conversation.id, actor=agent.user, text="Notitie")

    with django_assert_max_num_queries(12):
        archive.write_archive(tmp_path / "jan", date_from=JANUARY[0], date_to=JANUARY[1])


def test_the_zip_is_the_same_bytes_every_time_and_holds_every_file(history, tmp_path):
    import io
    import zipfile

    directory = export(tmp_path / "jan")
    first = b"".join(archive.archive_zip_stream(directory, folder="jan"))
    second = b"".join(archive.archive_zip_stream(directory, folder="jan"))

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as zipped:
        assert zipped.namelist() == [f"jan/{name}" for name in archive.archive_zip_names(directory)]
        assert zipped.read("jan/manifest.json") == (directory / "manifest.json").read_bytes()
        assert zipped.testzip() is None


@pytest.mark.django_db(transaction=True)
def test_an_export_in_another_time_zone_and_locale_is_byte_identical(history, tmp_path):
    here = export(tmp_path / "here")
    database = settings.DATABASES["default"]
    environment = {
        **os.environ,
        "TZ": "America/New_York",
        "LC_ALL": "C",
        "LANG": "C",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
    }
    command = [
        sys.executable,
        "manage.py",
        "export_archive",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--out",
        str(tmp_path / "there"),
    ]

    result = subprocess.run(  # noqa: S603 - our own manage.py
        command, env=environment, capture_output=True, text=True, check=False, cwd=settings.BASE_DIR
    )

    assert result.returncode == 0, result.stderr
    for path in sorted(here.iterdir()):
        assert (tmp_path / "there" / path.name).read_bytes() == path.read_bytes(), path.name
