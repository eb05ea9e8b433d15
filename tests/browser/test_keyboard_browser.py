"""Keyboard shortcuts in a real browser (static/js/keyboard.js) on the real inbox: j/k move
through the list, Enter opens, r reply, a assign, e resolve, / search, ? the list of
shortcuts, Esc closes it; never while typing; and they can be turned off (WCAG 2.1.4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from inbox.models import Conversation
from tests.browser.conftest import (
    assert_no_axe_violations,
    assert_no_page_errors,
    save_screenshot,
)
from tests.inbox.helpers import citizen_writes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused_row_id(page: Any) -> str | None:
    return page.evaluate(
        """() => {
            const row = document.activeElement.closest("[data-conversation-row]");
            return row ? row.dataset.conversationId : null;
        }"""
    )


def active_element_matches(page: Any, selector: str) -> bool:
    return page.evaluate("(selector) => document.activeElement.matches(selector)", selector)


@pytest.fixture
def three_waiting(channel: Any) -> list[Conversation]:
    """Three citizens in the unassigned queue, the longest waiting first."""
    now = timezone.now()
    return [
        citizen_writes(channel, username=name, text=text, sent_at=now - timedelta(minutes=age))
        for name, text, age in (
            ("els", "Lantaarnpaal kapot", 30),
            ("piet", "Grofvuil niet opgehaald", 20),
            ("joris", "Boom omgewaaid", 10),
        )
    ]


def test_j_and_k_move_through_the_list_enter_opens_and_r_goes_to_the_reply(
    page, log_in, live_server, agent, three_waiting
):
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=unassigned")
    rows = page.locator("#inbox-list-pane [data-conversation-row]")
    expect(rows).to_have_count(3)
    ids = [rows.nth(i).get_attribute("data-conversation-id") for i in range(3)]

    page.keyboard.press("j")
    assert focused_row_id(page) == ids[0]
    assert active_element_matches(page, "a[data-conversation-link]")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert focused_row_id(page) == ids[2]
    page.keyboard.press("j")  # stays on the last row
    assert focused_row_id(page) == ids[2]
    page.keyboard.press("k")
    assert focused_row_id(page) == ids[1]

    page.keyboard.press("Enter")
    expect(page.locator("#conversation-pane")).to_have_attribute("data-conversation-id", ids[1])
    expect(page.locator("#thread")).to_contain_text("Grofvuil niet opgehaald")

    page.keyboard.press("r")
    reply = page.locator('[data-shortcut="reply"]')
    expect(reply).to_be_focused()
    assert "r" not in reply.input_value()  # the key moved focus, it typed nothing

    page.keyboard.type("jk")  # typing in a field is typing, not shortcuts
    assert reply.input_value().endswith("jk")
    expect(reply).to_be_focused()
    page.keyboard.press("Escape")  # leaves the field …
    expect(reply).not_to_be_focused()
    page.keyboard.press("j")  # … and j goes on from the open conversation
    assert focused_row_id(page) == ids[2]
    assert_no_page_errors(page)


def test_a_takes_the_open_conversation_and_e_resolves_it(
    page, log_in, live_server, agent, three_waiting
):
    from playwright.sync_api import expect

    conversation = three_waiting[0]
    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=unassigned&open={conversation.id}")
    expect(page.locator('[data-shortcut="assign"]')).to_be_visible()

    page.keyboard.press("a")

    expect(page.locator('[data-shortcut="resolve"]')).to_be_visible()
    page.wait_for_load_state()
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.user.pk

    # Now the agent's own: "a" goes to "transfer to", and Esc leaves that select again.
    page.wait_for_timeout(300)
    page.keyboard.press("a")
    transfer = page.locator('select[data-shortcut="assign"]')
    expect(transfer).to_be_focused()
    page.keyboard.press("Escape")
    expect(transfer).not_to_be_focused()

    page.keyboard.press("e")

    def resolved() -> bool:
        conversation.refresh_from_db()
        return conversation.status == Conversation.Status.RESOLVED

    deadline = timezone.now() + timedelta(seconds=5)
    while not resolved() and timezone.now() < deadline:
        page.wait_for_timeout(100)
    assert conversation.status == Conversation.Status.RESOLVED
    assert_no_page_errors(page)


def test_slash_searches_and_question_mark_lists_the_shortcuts_in_a_dialog(
    page, log_in, live_server, agent, three_waiting
):
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=unassigned")
    search = page.locator('[data-shortcut="search"]')

    page.keyboard.press("/")
    expect(search).to_be_focused()
    assert search.input_value() == ""  # "/" moved focus, it typed nothing
    page.keyboard.press("?")  # in a field "?" is a question mark
    assert search.input_value() == "?"
    search.fill("")
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()

    page.keyboard.press("j")
    opener = page.evaluate("document.activeElement.id")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("id", "shortcuts-dialog")
    expect(dialog).to_have_accessible_name(page.locator("#shortcuts-title").inner_text())
    expect(page.locator("[data-shortcuts-close]")).to_be_focused()
    keys = page.locator("#shortcuts-dialog tbody kbd").all_inner_texts()
    assert keys == ["j", "k", "Enter", "r", "Ctrl", "Enter", "a", "e", "/", "?", "Esc"]
    page.keyboard.press("j")  # shortcuts rest while the dialog is open
    expect(page.locator("[data-shortcuts-close]")).to_be_focused()
    assert_no_axe_violations(page)
    save_screenshot(page, "keyboard-shortcuts-dialog")

    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts-dialog")).not_to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.id") == opener  # focus is back

    page.locator("[data-shortcuts-open]").click()  # the way with a mouse
    expect(page.locator("#shortcuts-dialog")).to_have_attribute("open", "")
    page.locator("[data-shortcuts-close]").click()
    expect(page.locator("#shortcuts-dialog")).not_to_have_attribute("open", "")
    assert_no_page_errors(page)


def test_single_key_shortcuts_can_be_turned_off_and_stay_off(
    page, log_in, live_server, agent, three_waiting
):
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=unassigned")
    page.keyboard.press("?")
    toggle = page.locator("#shortcuts-enabled")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    page.keyboard.press("Escape")

    page.reload()
    page.keyboard.press("j")
    page.keyboard.press("?")
    page.keyboard.press("/")
    assert focused_row_id(page) is None
    expect(page.locator("#shortcuts-dialog")).not_to_have_attribute("open", "")
    expect(page.locator('[data-shortcut="search"]')).not_to_be_focused()

    # Back on through the button, which works with shortcuts off.
    page.locator("[data-shortcuts-open]").click()
    expect(toggle).not_to_be_checked()
    toggle.check()
    page.locator("[data-shortcuts-close]").click()
    page.keyboard.press("j")
    assert focused_row_id(page) is not None
    assert_no_page_errors(page)
