"""/api/v1/archive-exports/: administrators list, create, read and download archive exports."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest

from inbox.models import ArchiveExport, AuditEvent
from inbox.services import archive_export_create

pytestmark = pytest.mark.django_db

LIST = "/api/v1/archive-exports/"


@pytest.fixture
def completed(tmp_path, administrator):  # type: ignore[no-untyped-def]
    return archive_export_create(
        actor=administrator.user,
        date_from=date(2026, 1, 1),
        date_to=date(2026, 1, 31),
        out_dir=tmp_path / "exported",
    )


@pytest.mark.parametrize("persona", ["agent", "team_lead"])
def test_only_administrators_may_use_archive_exports(persona, request, api_as, completed):
    client = api_as(request.getfixturevalue(persona))

    assert client.get(LIST).status_code == 403
    assert (
        client.post(LIST, {"date_from": "2026-01-01", "date_to": "2026-01-31"}).status_code == 403
    )
    assert client.get(f"{LIST}{completed.pk}/").status_code == 403
    assert client.get(f"{LIST}{completed.pk}/download/").status_code == 403
    assert ArchiveExport.objects.count() == 1


def test_anonymous_requests_are_unauthorised(anonymous):
    assert anonymous.get(LIST).status_code == 401


def test_an_administrator_creates_an_export_and_gets_202_with_it(
    api_as, administrator, settings, tmp_path
):
    settings.WEBCARE_ARCHIVE_DIR = tmp_path / "archive"

    response = api_as(administrator).post(
        LIST, {"date_from": "2026-01-01", "date_to": "2026-01-31"}, format="json"
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running"
    assert body["created_by"] == administrator.user.username
    assert body["download_url"] is None
    export = ArchiveExport.objects.get(pk=body["id"])
    assert export.location.startswith(str(tmp_path / "archive"))
    assert AuditEvent.objects.filter(action="archive.started", actor=administrator.user).exists()


def test_a_range_that_is_not_over_is_a_400(api_as, administrator):
    response = api_as(administrator).post(
        LIST, {"date_from": "2026-01-01", "date_to": "2099-12-31"}, format="json"
    )

    assert response.status_code == 400
    assert not ArchiveExport.objects.exists()


def test_list_and_detail_show_counts_and_the_manifest_checksum(api_as, administrator, completed):
    client = api_as(administrator)

    [listed] = client.get(LIST).json()["results"]
    detail = client.get(f"{LIST}{completed.pk}/").json()

    assert listed == detail
    assert detail["status"] == "completed"
    assert detail["manifest_sha256"] == completed.manifest_sha256
    assert detail["counts"] == completed.counts
    assert detail["download_url"] == f"{LIST}{completed.pk}/download/"
    assert client.get(f"{LIST}999999/").status_code == 404


def test_the_download_is_the_zip_and_is_audited(api_as, administrator, completed):
    response = api_as(administrator).get(f"{LIST}{completed.pk}/download/")

    content = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        assert any(name.endswith("/manifest.json") for name in zipped.namelist())
    assert AuditEvent.objects.filter(
        action="archive.downloaded", actor=administrator.user, data={"export_id": completed.pk}
    ).exists()
