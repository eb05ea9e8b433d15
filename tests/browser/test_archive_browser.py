"""The archive page in a real browser: an administrator makes an export, sees it complete
(the list reloads itself while the worker writes it), downloads the ZIP, and axe finds
nothing on the way."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from inbox.models import ArchiveExport, AuditEvent
from tests.browser.conftest import assert_no_axe_violations, assert_no_page_errors
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_makes_an_archive_export_and_downloads_it(
    page: Any,
    live_server: Any,
    log_in: Any,
    administrator: Any,
    channel: Any,
    celery_worker: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.WEBCARE_ARCHIVE_DIR = tmp_path / "archive"
    citizen_writes(
        channel,
        username="ada",
        sent_at=datetime(2026, 1, 10, 10, tzinfo=ZoneInfo("Europe/Amsterdam")),
    )
    log_in(page, "femke")
    page.goto(f"{live_server.url}/administration/archive/")
    assert_no_axe_violations(page)

    page.locator("#id_date_from").fill("2026-01-01")
    page.locator("#id_date_to").fill("2026-01-31")
    with page.expect_navigation():
        page.locator(".archive-form button[type=submit]").click()

    download_link = page.locator("#archive-rows a[download]")
    download_link.wait_for(timeout=30_000)
    export = ArchiveExport.objects.get()
    assert export.status == ArchiveExport.Status.COMPLETED
    assert export.manifest_sha256 in page.locator("#archive-rows").inner_text()
    assert_no_axe_violations(page)

    with page.expect_download() as download_info:
        download_link.click()
    path = download_info.value.path()
    with open(path, "rb") as stream, zipfile.ZipFile(io.BytesIO(stream.read())) as zipped:
        assert "webcare-archive-20260101-20260131/conversations.jsonl" in zipped.namelist()
    assert AuditEvent.objects.filter(action="archive.downloaded").count() == 1
    assert_no_page_errors(page)


def test_a_reversed_range_is_announced_next_to_its_field(
    page: Any, live_server: Any, log_in: Any, administrator: Any
) -> None:
    log_in(page, "femke")
    page.goto(f"{live_server.url}/administration/archive/")
    page.locator("#id_date_from").fill("2026-02-01")
    page.locator("#id_date_to").fill("2026-01-01")
    with page.expect_navigation():
        page.locator(".archive-form button[type=submit]").click()

    field = page.locator("#id_date_to")
    assert "id_date_to-error" in (field.get_attribute("aria-describedby") or "")
    assert page.locator("#id_date_to-error").is_visible()
    assert_no_axe_violations(page)
