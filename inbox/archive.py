"""The archive format (docs/archive-format.md): write a range of conversations as JSON Lines
with a checksummed manifest, and verify a written archive.

No state changes and no audit here: inbox/services/archive.py records exports and audits them.
Every byte is a function of the database rows and the range alone (no clock, locale, time
zone or dict order), so re-exporting an unchanged range gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, QuerySet, Subquery

from channels.models import Channel
from inbox.models import (
    AgentProfile,
    AuditEvent,
    Contact,
    Conversation,
    Message,
    Note,
    NoteMention,
    Tag,
)
from inbox.services.assignment import HANDOVER_ACTIONS

FORMAT_NAME = "webcare-archive"
FORMAT_VERSION = 1
# The range's dates are the municipality's calendar days.
ARCHIVE_TIME_ZONE = ZoneInfo("Europe/Amsterdam")
MANIFEST_NAME = "manifest.json"
CHECKSUMS_NAME = "SHA256SUMS"
# Rows fetched per round trip: memory stays flat however long the range.
CHUNK_SIZE = 2000

# The data files, in the order the manifest lists them (docs/archive-format.md, "Files").
DATA_FILES = (
    "conversations.jsonl",
    "messages.jsonl",
    "notes.jsonl",
    "assignments.jsonl",
    "audit_events.jsonl",
    "contacts.jsonl",
    "channels.jsonl",
    "staff.jsonl",
)


class ArchiveError(Exception):
    """The archive cannot be written where asked."""


def utc_iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with microseconds, always the same length: 2026-01-05T09:30:00.000000Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_line(record: dict[str, Any]) -> bytes:
    """One record as one line: sorted keys, no spaces, UTF-8 as is."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def range_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start, end) in aware datetimes: the first moment of `date_from` up to, not including,
    the first moment of the day after `date_to`, both in Europe/Amsterdam."""
    start = datetime.combine(date_from, time.min, tzinfo=ARCHIVE_TIME_ZONE)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=ARCHIVE_TIME_ZONE)
    return start, end


def webcare_version() -> str:
    try:
        return metadata.version("webcare")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def conversations_in_range(date_from: date, date_to: date) -> QuerySet[Conversation]:
    """The selection rule (docs/archive-format.md, "Selection"): a conversation belongs to the
    range in which its first inbound message lies, so consecutive ranges hold every
    conversation exactly once, with everything it has at the time of the export."""
    start, end = range_bounds(date_from, date_to)
    return Conversation.objects.filter(first_inbound_at__gte=start, first_inbound_at__lt=end)


# --- records ------------------------------------------------------------------------------


def _conversation_records(conversations: QuerySet[Conversation]) -> Iterator[dict[str, Any]]:
    tag_names = ArraySubquery(
        Tag.objects.filter(conversations=OuterRef("pk")).order_by("name").values("name")
    )
    rows = (
        conversations.annotate(tag_names=tag_names)
        .order_by("id")
        .values(
            "id",
            "channel_id",
            "contact_id",
            "external_thread_id",
            "is_private",
            "status",
            "priority",
            "team_id",
            "team__name",
            "merged_into_id",
            "assignee_id",
            "assigned_at",
            "first_inbound_at",
            "first_response_at",
            "last_inbound_at",
            "last_activity_at",
            "created_at",
            "anonymised_at",
            "tag_names",
        )
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": row["id"],
            "channel_id": row["channel_id"],
            "contact_id": row["contact_id"],
            "external_thread_id": row["external_thread_id"],
            "is_private": row["is_private"],
            "status": row["status"],
            "priority": row["priority"],
            "team_id": row["team_id"],
            "team_name": row["team__name"],
            "merged_into_id": row["merged_into_id"],
            "assignee_id": row["assignee_id"],
            "assigned_at": utc_iso(row["assigned_at"]),
            "first_inbound_at": utc_iso(row["first_inbound_at"]),
            "first_response_at": utc_iso(row["first_response_at"]),
            "last_inbound_at": utc_iso(row["last_inbound_at"]),
            "last_activity_at": utc_iso(row["last_activity_at"]),
            "created_at": utc_iso(row["created_at"]),
            "anonymised_at": utc_iso(row["anonymised_at"]),
            "tags": list(row["tag_names"] or []),
        }


def _message_records(conversations: QuerySet[Conversation]) -> Iterator[dict[str, Any]]:
    # Our own replies are rows like any other: what the platform later does with its copy
    # (deletes it, hides it) changes nothing here.
    rows = (
        Message.objects.filter(conversation__in=conversations.values("id"))
        .order_by("id")
        .values(
            "id",
            "conversation_id",
            "channel_id",
            "direction",
            "external_id",
            "in_reply_to_external_id",
            "author_contact_id",
            "author_user_id",
            "text",
            "is_private",
            "attachments",
            "sent_at",
            "created_at",
            "delivery_status",
            "delivery_error",
            "delivery_attempts",
            "delivered_at",
            "approval_reason",
            "reviewed_by_id",
            "reviewed_at",
            "review_feedback",
            "personal_data_kinds",
            "formal_request_kinds",
        )
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        record = dict(row)
        for key in ("sent_at", "created_at", "delivered_at", "reviewed_at"):
            record[key] = utc_iso(row[key])
        record["personal_data_kinds"] = sorted(row["personal_data_kinds"] or [])
        record["formal_request_kinds"] = sorted(row["formal_request_kinds"] or [])
        yield record


def _note_records(conversations: QuerySet[Conversation]) -> Iterator[dict[str, Any]]:
    mentioned = ArraySubquery(
        NoteMention.objects.filter(note=OuterRef("pk")).order_by("user_id").values("user_id")
    )
    rows = (
        Note.objects.filter(conversation__in=conversations.values("id"))
        .annotate(mentioned_ids=mentioned)
        .order_by("id")
        .values("id", "conversation_id", "author_id", "text", "created_at", "mentioned_ids")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": row["id"],
            "conversation_id": row["conversation_id"],
            "author_id": row["author_id"],
            "text": row["text"],
            "created_at": utc_iso(row["created_at"]),
            "mentioned_user_ids": list(row["mentioned_ids"] or []),
        }


def _audit_events(conversations: QuerySet[Conversation], date_from: date, date_to: date) -> Q:
    """Events of the selected conversations whenever they happened, and events about no
    conversation (channels, staff, settings, the system) that happened in the range."""
    start, end = range_bounds(date_from, date_to)
    return Q(conversation__in=conversations.values("id")) | Q(
        conversation__isnull=True, created_at__gte=start, created_at__lt=end
    )


def _audit_records(
    conversations: QuerySet[Conversation], date_from: date, date_to: date
) -> Iterator[dict[str, Any]]:
    rows = (
        AuditEvent.objects.filter(_audit_events(conversations, date_from, date_to))
        .order_by("id")
        .values(
            "id",
            "created_at",
            "action",
            "actor_id",
            "channel_id",
            "conversation_id",
            "message_id",
            "data",
        )
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        record = dict(row)
        record["created_at"] = utc_iso(row["created_at"])
        yield record


def _assignment_records(
    conversations: QuerySet[Conversation], staff_ids: set[int]
) -> Iterator[dict[str, Any]]:
    """Every handover of a selected conversation, from its audit events (the same rows are
    in audit_events.jsonl; this file is the readable history of who had it)."""
    rows = (
        AuditEvent.objects.filter(
            conversation__in=conversations.values("id"), action__in=HANDOVER_ACTIONS
        )
        .order_by("id")
        .values("id", "created_at", "action", "actor_id", "conversation_id", "data")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        data = row["data"] or {}
        record = {
            "audit_event_id": row["id"],
            "at": utc_iso(row["created_at"]),
            "action": row["action"].removeprefix("conversation."),
            "actor_id": row["actor_id"],
            "conversation_id": row["conversation_id"],
            "assignee_id": data.get("assignee_id"),
            "previous_assignee_id": data.get("previous_assignee_id"),
            "team_id": data.get("team_id"),
            "previous_team_id": data.get("previous_team_id"),
            "reason": data.get("reason"),
        }
        for key in ("assignee_id", "previous_assignee_id"):
            if isinstance(user_id := data.get(key), int):
                staff_ids.add(user_id)
        yield record


def _contact_records(conversations: QuerySet[Conversation]) -> Iterator[dict[str, Any]]:
    selected = conversations.values("id")
    rows = (
        Contact.objects.filter(
            Q(id__in=conversations.values("contact_id"))
            | Q(
                id__in=Message.objects.filter(
                    conversation__in=selected, author_contact__isnull=False
                ).values("author_contact_id")
            )
        )
        .order_by("id")
        .values(
            "id",
            "channel_id",
            "external_id",
            "username",
            "display_name",
            "category",
            "person_id",
            "created_at",
            "anonymised_at",
        )
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        record = dict(row)
        record["created_at"] = utc_iso(row["created_at"])
        record["anonymised_at"] = utc_iso(row["anonymised_at"])
        yield record


def _channel_records(
    conversations: QuerySet[Conversation], date_from: date, date_to: date
) -> Iterator[dict[str, Any]]:
    events = AuditEvent.objects.filter(_audit_events(conversations, date_from, date_to))
    rows = (
        Channel.objects.filter(
            Q(id__in=conversations.values("channel_id"))
            | Q(id__in=events.filter(channel__isnull=False).values("channel_id"))
        )
        .order_by("id")
        .values("id", "kind", "name", "account_id", "account_handle")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield dict(row)


def _staff_records(
    conversations: QuerySet[Conversation], date_from: date, date_to: date, staff_ids: set[int]
) -> Iterator[dict[str, Any]]:
    """Who the ids in the other files are: the archive must say who answered, even after
    their account is gone. Role as it is at the time of the export."""
    selected = conversations.values("id")
    messages = Message.objects.filter(conversation__in=selected)
    events = AuditEvent.objects.filter(_audit_events(conversations, date_from, date_to))
    referenced = (
        Q(id__in=conversations.filter(assignee__isnull=False).values("assignee_id"))
        | Q(id__in=messages.filter(author_user__isnull=False).values("author_user_id"))
        | Q(id__in=messages.filter(reviewed_by__isnull=False).values("reviewed_by_id"))
        | Q(id__in=Note.objects.filter(conversation__in=selected).values("author_id"))
        | Q(id__in=NoteMention.objects.filter(note__conversation__in=selected).values("user_id"))
        | Q(id__in=events.filter(actor__isnull=False).values("actor_id"))
        | Q(id__in=sorted(staff_ids))
    )
    role = AgentProfile.objects.filter(user=OuterRef("pk")).values("role")[:1]
    rows = (
        User.objects.filter(referenced)
        .annotate(role=Subquery(role))
        .order_by("id")
        .values("id", "username", "first_name", "last_name", "is_active", "role")
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": row["id"],
            "username": row["username"],
            "name": f"{row['first_name']} {row['last_name']}".strip(),
            "is_active": row["is_active"],
            "role": row["role"],
        }


# --- writing ------------------------------------------------------------------------------


@dataclass
class FileSummary:
    name: str
    bytes: int = 0
    records: int = 0
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bytes": self.bytes,
            "records": self.records,
            "sha256": self.sha256,
        }


@dataclass
class ArchiveResult:
    directory: Path
    manifest_sha256: str
    files: list[FileSummary] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {summary.name.removesuffix(".jsonl"): summary.records for summary in self.files}


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> FileSummary:
    summary = FileSummary(name=path.name)
    digest = hashlib.sha256()
    with path.open("wb") as stream:
        for record in records:
            line = json_line(record)
            stream.write(line)
            digest.update(line)
            summary.bytes += len(line)
            summary.records += 1
    summary.sha256 = digest.hexdigest()
    return summary


def manifest_bytes(date_from: date, date_to: date, files: list[FileSummary], version: str) -> bytes:
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "generated_by": f"webcare {version}",
        "range": {
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "time_zone": str(ARCHIVE_TIME_ZONE),
            "selection": "conversations whose first inbound message lies in the range",
        },
        "files": [summary.as_dict() for summary in files],
        "counts": {summary.name.removesuffix(".jsonl"): summary.records for summary in files},
    }
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def checksums_bytes(files: list[FileSummary], manifest_sha256: str) -> bytes:
    """`sha256sum -c SHA256SUMS` checks the directory with standard tools."""
    lines = [f"{summary.sha256}  {summary.name}\n" for summary in files]
    lines.append(f"{manifest_sha256}  {MANIFEST_NAME}\n")
    return "".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])).encode("ascii")


def write_archive(
    directory: Path, *, date_from: date, date_to: date, replace: bool = False
) -> ArchiveResult:
    """Write the range into `directory`, atomically: into `<directory>.partial` first, renamed
    when complete, so a directory with the final name is always a whole archive.

    A non-empty `directory` is refused unless `replace`, which swaps it only once the new
    archive is complete."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())) and not replace:
        raise ArchiveError(f"{directory} exists and is not empty.")
    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        result = _write_files(partial, date_from=date_from, date_to=date_to)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if directory.exists():
        previous = directory.with_name(directory.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        directory.rename(previous)
        partial.rename(directory)
        shutil.rmtree(previous, ignore_errors=True)
    else:
        partial.rename(directory)
    result.directory = directory
    return result


def _write_files(directory: Path, *, date_from: date, date_to: date) -> ArchiveResult:
    conversations = conversations_in_range(date_from, date_to)
    staff_ids: set[int] = set()
    writers: dict[str, Iterable[dict[str, Any]]] = {
        "conversations.jsonl": _conversation_records(conversations),
        "messages.jsonl": _message_records(conversations),
        "notes.jsonl": _note_records(conversations),
        "assignments.jsonl": _assignment_records(conversations, staff_ids),
        "audit_events.jsonl": _audit_records(conversations, date_from, date_to),
        "contacts.jsonl": _contact_records(conversations),
        "channels.jsonl": _channel_records(conversations, date_from, date_to),
        # Last: it names the staff ids the assignments mention.
        "staff.jsonl": _staff_records(conversations, date_from, date_to, staff_ids),
    }
    files = [_write_jsonl(directory / name, records) for name, records in writers.items()]
    manifest = manifest_bytes(date_from, date_to, files, webcare_version())
    manifest_sha256 = hashlib.sha256(manifest).hexdigest()
    (directory / MANIFEST_NAME).write_bytes(manifest)
    (directory / CHECKSUMS_NAME).write_bytes(checksums_bytes(files, manifest_sha256))
    return ArchiveResult(directory=directory, manifest_sha256=manifest_sha256, files=files)


# --- verifying ----------------------------------------------------------------------------


def _file_digest(path: Path) -> tuple[str, int, int]:
    """sha256, bytes, lines of a file, read in blocks."""
    digest = hashlib.sha256()
    size = lines = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 16):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
    return digest.hexdigest(), size, lines


def _unparseable_line(path: Path) -> int | None:
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                json.loads(line)
            except ValueError:
                return number
    return None


def verify_archive(directory: Path) -> list[str]:
    """Everything wrong with the archive in `directory`; an empty list means it is intact."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"{MANIFEST_NAME} is missing."]
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except ValueError:
        return [f"{MANIFEST_NAME} is not valid JSON."]
    if manifest.get("format") != FORMAT_NAME:
        return [f"{MANIFEST_NAME} does not describe a {FORMAT_NAME} archive."]
    if manifest.get("format_version") != FORMAT_VERSION:
        return [f"Format version {manifest.get('format_version')!r} is not supported."]
    problems: list[str] = []
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        name = str(entry.get("name"))
        listed.add(name)
        path = directory / name
        if Path(name).name != name or not path.is_file():
            problems.append(f"{name}: missing.")
            continue
        sha256, size, lines = _file_digest(path)
        if size != entry.get("bytes"):
            problems.append(f"{name}: {size} bytes, the manifest says {entry.get('bytes')}.")
        if lines != entry.get("records"):
            problems.append(f"{name}: {lines} records, the manifest says {entry.get('records')}.")
        if sha256 != entry.get("sha256"):
            problems.append(f"{name}: checksum {sha256} does not match the manifest.")
        elif (bad_line := _unparseable_line(path)) is not None:
            problems.append(f"{name}: line {bad_line} is not valid JSON.")
    counts = manifest.get("counts", {})
    for entry in manifest.get("files", []):
        key = str(entry.get("name")).removesuffix(".jsonl")
        if counts.get(key) != entry.get("records"):
            problems.append(f"{MANIFEST_NAME}: the count of {key} differs from its file entry.")
    known = listed | {MANIFEST_NAME, CHECKSUMS_NAME}
    problems.extend(
        f"{path.name}: not listed in the manifest."
        for path in sorted(directory.iterdir())
        if path.name not in known
    )
    problems.extend(_verify_checksums_file(directory))
    return problems


def _verify_checksums_file(directory: Path) -> list[str]:
    path = directory / CHECKSUMS_NAME
    if not path.is_file():
        return [f"{CHECKSUMS_NAME} is missing."]
    problems = []
    for line in path.read_text("ascii", errors="replace").splitlines():
        expected, _, name = line.partition("  ")
        target = directory / name
        if Path(name).name != name or not target.is_file():
            problems.append(f"{CHECKSUMS_NAME}: {name} is missing.")
        elif _file_digest(target)[0] != expected:
            problems.append(f"{CHECKSUMS_NAME}: checksum of {name} does not match.")
    return problems


def manifest_sha256_of(directory: Path) -> str:
    return _file_digest(Path(directory) / MANIFEST_NAME)[0]


# --- ZIP ----------------------------------------------------------------------------------

# Every entry gets this time, so the same archive always zips to the same bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


class _ZipSink:
    """A write-only, unseekable stream that hands out what was written since the last look:
    zipfile then writes data descriptors, and the ZIP is streamed without a temporary file."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def archive_zip_names(directory: Path) -> list[str]:
    return sorted(path.name for path in Path(directory).iterdir() if path.is_file())


def archive_zip_stream(directory: Path, *, folder: str) -> Iterator[bytes]:
    """The archive's files as one ZIP, in blocks: sorted names under `folder/`, fixed times
    and permissions, so the same directory always gives the same bytes."""
    directory = Path(directory)
    sink = _ZipSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[call-overload]
        for name in archive_zip_names(directory):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with (directory / name).open("rb") as source, archive.open(info, "w") as target:
                while block := source.read(1 << 16):
                    target.write(block)
                    if chunk := sink.take():
                        yield chunk
            if chunk := sink.take():
                yield chunk
    if chunk := sink.take():
        yield chunk
