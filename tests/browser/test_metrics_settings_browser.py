"""The dashboard settings in a real browser: a team lead adds an evening shift to a team's
opening hours with the keyboard only, and axe finds nothing on the opening-hours page, the
norms list and the norm form, in Dutch and in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from inbox.metrics.working_time import calendar_for_team
from inbox.services import service_norm_create, team_closed_day_add, team_create
from tests.browser.conftest import (
    ARTIFACTS,
    assert_no_axe_violations,
    assert_no_page_errors,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def switch_language(page: Any, language: str) -> None:
    """With the header's language switch, as a user would."""
    page.locator("#language-select").select_option(language)
    page.locator(".language-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language


def test_a_team_lead_adds_an_evening_shift_with_the_keyboard(
    page: Any, live_server: Any, log_in: Any, team_lead: Any
) -> None:
    from datetime import date

    team = team_create(actor=team_lead.user, name="Afval")
    team_closed_day_add(actor=team_lead.user, team_id=team.pk, day=date(2027, 5, 7), name="Brugdag")
    log_in(page, "lotte")
    page.goto(f"{live_server.url}/teams/{team.pk}/opening-hours/")

    # Thursday: from its "open" box, Tab through the first period to the empty second one.
    page.locator("#id_day3_open").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_day3_opens0"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_day3_opens1"
    page.keyboard.type("19:00")
    page.keyboard.press("Tab")
    page.keyboard.type("21:00")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.locator(".flash-messages").is_visible()
    assert (3, 19 * 60, 21 * 60) in calendar_for_team(team.pk).periods
    assert page.locator("#id_day3_opens1").input_value() == "19:00"
    # 5 × 8 h 30 min + 2 h: "44 uur en 30 minuten" ("44 hours and 30 minutes").
    assert re.search(r"\b44\D+30\b", page.locator(".opening-hours-total").inner_text())
    assert_no_page_errors(page)


def test_an_overlap_is_announced_next_to_the_day(
    page: Any, live_server: Any, log_in: Any, team_lead: Any
) -> None:
    team = team_create(actor=team_lead.user, name="Afval")
    log_in(page, "lotte")
    page.goto(f"{live_server.url}/teams/{team.pk}/opening-hours/")
    page.locator("#id_day1_opens1").fill("16:00")
    page.locator("#id_day1_closes1").fill("18:00")
    with page.expect_navigation():
        page.locator("#id_day1_closes1").press("Enter")

    error = page.locator("#day1-errors")
    assert error.is_visible()
    assert "16:00-18:00" in error.inner_text()
    assert_no_axe_violations(page)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_settings_pages_have_no_axe_violations(
    page: Any, live_server: Any, log_in: Any, team_lead: Any, language: str
) -> None:
    from datetime import date

    team = team_create(actor=team_lead.user, name="Afval")
    team_closed_day_add(actor=team_lead.user, team_id=team.pk, day=date(2027, 5, 7), name="Brugdag")
    # A transactional test starts from an empty table: the seeded norms are gone.
    norm = service_norm_create(
        actor=team_lead.user,
        name="Eerste reactie binnen 1 werkuur",
        metric="first_response",
        target_minutes=60,
        visibility="public",
    )
    log_in(page, "lotte")
    page.goto(f"{live_server.url}/teams/{team.pk}/opening-hours/")
    if language != "nl":
        switch_language(page, language)
    pages = {
        "opening-hours": f"/teams/{team.pk}/opening-hours/",
        "service-norms": "/dashboard/norms/",
        "service-norm-form": f"/dashboard/norms/{norm.pk}/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == language
        assert_no_axe_violations(page)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name} scrolls sideways"
        save_screenshot(page, f"metrics-settings-{name}-{language}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"metrics-settings-{name}-{language}-full.png"), full_page=True
        )
        assert_no_page_errors(page)
