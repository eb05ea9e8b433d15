"""Data subject requests in a real browser: an administrator registers an access request,
finds the citizen, selects the contacts and downloads the JSON; then handles an erasure.
axe checks every screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox.models import Contact, DataSubjectRequest
from tests.browser.conftest import assert_no_axe_violations, assert_no_page_errors, save_screenshot
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _register(page, live_server, kind: str, reference: str) -> None:
    page.goto(f"{live_server.url}/administration/data-subject-requests/")
    page.locator(f"input[name=kind][value={kind}]").check()
    page.locator("#id_reference").fill(reference)
    page.locator("#id_subject_description").fill("Aan de balie, paspoort getoond")
    page.locator("form.data-subjects-form button[type=submit]").click()
    page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())


def _find_and_select(page, query: str) -> None:
    page.locator("#id_q").fill(query)
    page.locator("form.data-subjects-search button[type=submit]").click()
    page.wait_for_selector("#found-contacts")
    for box in page.locator(
        "#found-contacts input[type=checkbox], #linked-contacts input[type=checkbox]"
    ).all():
        box.check()
    page.locator("form[action$='/contacts/'] button[type=submit]").click()
    page.wait_for_selector("#selected-contacts")


def test_an_administrator_answers_an_access_request_and_an_erasure_request(
    page, live_server, log_in, administrator, channel, mastodon_channel, tmp_path: Path
):
    from playwright.sync_api import expect

    citizen_writes(channel, username="jdevries", text="Waar blijft mijn paspoort?")
    citizen_writes(mastodon_channel, username="jdevries@social.example", text="Hallo")
    citizen_writes(channel, username="pbakker", text="Iets anders")
    log_in(page, administrator.user.username)

    _register(page, live_server, "access", "Z/24/0100")
    assert_no_axe_violations(page)
    _find_and_select(page, "@jdevries")
    expect(page.locator("#selected-contacts tbody tr")).to_have_count(2)
    assert_no_axe_violations(page)
    save_screenshot(page, "data-subject-request")

    with page.expect_download() as download_info:
        page.locator("a[download]").click()
    target = tmp_path / "export.json"
    download_info.value.save_as(target)
    export = json.loads(target.read_text())
    assert export["format"] == "webcare-data-subject-export/1"
    assert export["counts"]["messages"] == 2
    assert "Iets anders" not in target.read_text()

    page.locator("form[action$='/complete/'] button[type=submit]").click()
    expect(page.locator(".data-subjects-status-completed")).to_be_visible()

    _register(page, live_server, "erasure", "Z/24/0101")
    _find_and_select(page, "jdevries")
    page.locator("a[href$='/erase/']").click()
    page.wait_for_url(lambda url: "/erase/" in url)
    assert_no_axe_violations(page)
    save_screenshot(page, "data-subject-erase")
    page.locator("#id_confirmed_unresolved").check()
    page.locator("form.data-subjects-form button[type=submit]").click()
    page.wait_for_url(lambda url: "/erase/" not in url)
    expect(page.locator(".data-subjects-status-completed")).to_be_visible()

    erasure = DataSubjectRequest.objects.get(reference="Z/24/0101")
    assert erasure.status == DataSubjectRequest.Status.COMPLETED
    assert all(c.anonymised_at for c in Contact.objects.filter(id__in=erasure.contact_ids))
    page.goto(f"{live_server.url}/administration/data-subject-requests/")
    assert_no_axe_violations(page)
    assert_no_page_errors(page)
