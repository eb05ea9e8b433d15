"""/administration/archive/: administrators make archive exports, see them and download
them as a ZIP; nobody else may."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from inbox.models import ArchiveExport, AuditEvent
from inbox.services import archive_export_create, archive_export_start
from tests.inbox.helpers import citizen_writes

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def archive_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.WEBCARE_ARCHIVE_DIR = tmp_path / "archive"
    return settings.WEBCARE_ARCHIVE_DIR


@pytest.fixture
def january(channel):  # type: ignore[no-untyped-def]
    return citizen_writes(
        channel, username="ada", sent_at=datetime(2026, 1, 10, 10, tzinfo=AMSTERDAM)
    )


def completed_export(tmp_path, actor=None) -> ArchiveExport:  # type: ignore[no-untyped-def]
    return archive_export_create(
        actor=actor,
        date_from=date(2026, 1, 1),
        date_to=date(2026, 1, 31),
        out_dir=tmp_path / "exported",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["agent", "team_lead"])
def test_only_administrators_see_the_archive_page_and_downloads(
    persona, request, logged_in, tmp_path
):
    export = completed_export(tmp_path)
    client = logged_in(request.getfixturevalue(persona))

    assert client.get(reverse("inbox:archive_exports")).status_code == 403
    assert (
        client.post(
            reverse("inbox:archive_exports"), {"date_from": "2026-01-01", "date_to": "2026-01-31"}
        ).status_code
        == 403
    )
    download = reverse("inbox:archive_export_download", args=[export.pk])
    assert client.get(download).status_code == 403
    assert not AuditEvent.objects.filter(action="archive.downloaded").exists()
    assert ArchiveExport.objects.count() == 1


@pytest.mark.django_db
def test_the_page_lists_exports_with_their_checksum_in_a_bounded_number_of_queries(
    administrator, logged_in, tmp_path, january, django_assert_max_num_queries
):
    exports = [completed_export(tmp_path / str(n), administrator.user) for n in range(3)]
    client = logged_in(administrator)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("inbox:archive_exports"))

    assert response.status_code == 200
    page = response.content.decode()
    for export in exports:
        assert export.manifest_sha256 in page
    assert reverse("inbox:archive_export_download", args=[exports[0].pk]) in page


@pytest.mark.django_db
def test_a_range_that_is_not_over_or_reversed_is_refused_with_an_error(
    administrator, logged_in, archive_dir
):
    client = logged_in(administrator)

    reversed_range = client.post(
        reverse("inbox:archive_exports"), {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    future = client.post(
        reverse("inbox:archive_exports"), {"date_from": "2026-01-01", "date_to": "2099-01-01"}
    )

    assert reversed_range.status_code == 400 and future.status_code == 400
    assert 'role="alert"' in future.content.decode()
    assert not ArchiveExport.objects.exists()


@pytest.mark.django_db
def test_the_download_is_a_zip_of_the_archive_and_is_audited(
    administrator, logged_in, tmp_path, january
):
    export = completed_export(tmp_path, administrator.user)
    client = logged_in(administrator)

    response = client.get(reverse("inbox:archive_export_download", args=[export.pk]))
    content = b"".join(response.streaming_content)
    again = b"".join(
        client.get(reverse("inbox:archive_export_download", args=[export.pk])).streaming_content
    )

    assert response["Content-Type"] == "application/zip"
    assert content == again
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        names = zipped.namelist()
        assert "webcare-archive-20260101-20260131/manifest.json" in names
        assert "webcare-archive-20260101-20260131/SHA256SUMS" in names
    downloads = AuditEvent.objects.filter(action="archive.downloaded")
    assert downloads.count() == 2
    assert downloads.first().actor == administrator.user
    assert downloads.first().data == {"export_id": export.pk}


@pytest.mark.django_db
def test_a_running_export_cannot_be_downloaded_and_the_list_polls(
    administrator, logged_in, tmp_path
):
    export = archive_export_start(
        actor=administrator.user, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31)
    )
    client = logged_in(administrator)

    download = client.get(reverse("inbox:archive_export_download", args=[export.pk]))
    page = client.get(reverse("inbox:archive_exports"), headers={"HX-Request": "true"})

    assert download.status_code == 404
    assert 'hx-trigger="every 3s"' in page.content.decode()
    assert not AuditEvent.objects.filter(action="archive.downloaded").exists()


def test_an_export_made_on_the_page_is_written_by_the_worker(
    celery_worker, administrator, logged_in, archive_dir, january
):
    client = logged_in(administrator)

    response = client.post(
        reverse("inbox:archive_exports"), {"date_from": "2026-01-01", "date_to": "2026-01-31"}
    )

    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while ArchiveExport.objects.get().status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    export = ArchiveExport.objects.get()
    assert export.status == ArchiveExport.Status.COMPLETED, export.error
    assert export.created_by == administrator.user
    assert export.counts["conversations"] == 1
    assert str(archive_dir) in export.location
    exported = AuditEvent.objects.get(action="archive.exported")
    assert exported.actor == administrator.user
    assert exported.data["manifest_sha256"] == export.manifest_sha256
