"""The three-pane inbox in a real browser: a row opens the conversation beside the list
without a reload, the URL follows (back button, filters), axe finds nothing, on a desktop
and on a tablet."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from channels.models import Channel
from inbox.models import Conversation
from inbox.services import (
    conversation_set_priority,
    conversation_tag,
    conversation_take,
    messages_ingest,
)
from tests.browser.conftest import (
    TABLET,
    assert_no_axe_violations,
    assert_no_page_errors,
    new_page,
    save_screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_ids = itertools.count(7_000_000)


def citizen(
    channel: Channel, *, username: str, name: str, text: str, minutes_ago: int
) -> Conversation:
    """A citizen's message arrives through the poller's ingest path, with a real name."""
    external_id = str(next(_ids))
    message = PlatformMessage(
        external_id=external_id,
        thread_key=f"{external_id}:{username}",
        author=PlatformAuthor(external_id=f"user-{username}", username=username, display_name=name),
        text=text,
        sent_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    messages_ingest(channel_id=channel.id, fetched=FetchResult(messages=[message], cursor={}))
    return Conversation.objects.get(channel=channel, external_thread_id=message.thread_key)


@pytest.fixture
def busy_inbox(channel: Channel, mastodon_channel: Channel, agent: Any) -> dict[str, Conversation]:
    """A morning's work on two channels: some waiting long, one urgent, one of them mine."""
    conversations = {
        "els": citizen(
            channel,
            username="elsdeboer",
            name="Els de Boer",
            text="De lantaarnpaal voor Kerkstraat 12 is al een week kapot. Wanneer komt er iemand?",
            minutes_ago=75,
        ),
        "mohammed": citizen(
            mastodon_channel,
            username="mohammed",
            name="Mohammed El Amrani",
            text="Mijn groene container is vanochtend niet geleegd, de hele straat wel.",
            minutes_ago=48,
        ),
        "sanne": citizen(
            channel,
            username="sannevisser",
            name="Sanne Visser",
            text="Is het zwembad in de kerstvakantie open? Ik kan het nergens vinden.",
            minutes_ago=12,
        ),
        "henk": citizen(
            mastodon_channel,
            username="henkjansen",
            name="Henk Jansen",
            text="Er ligt een boom over het fietspad langs de Dorpsweg, gevaarlijk in het donker!",
            minutes_ago=5,
        ),
        "fatima": citizen(
            channel,
            username="fatimab",
            name="Fatima Bakker",
            text="Bedankt voor de snelle hulp met mijn parkeervergunning!",
            minutes_ago=3,
        ),
    }
    conversation_take(conversation_id=conversations["els"].id, actor=agent.user)
    conversation_set_priority(
        conversation_id=conversations["henk"].id, actor=agent.user, priority=4
    )
    conversation_tag(conversation_id=conversations["mohammed"].id, actor=agent.user, name="afval")
    return conversations


def _row_link(page: Any, conversation: Conversation) -> Any:
    return page.locator(f"#conversation-link-{conversation.id}")


def test_a_row_opens_in_the_third_pane_without_a_reload_and_back_returns(
    page: Any, live_server: Any, log_in: Any, busy_inbox: dict[str, Conversation]
) -> None:
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=all")
    expect(page.locator("#conversation-list [data-conversation-row]")).to_have_count(5)
    expect(page.locator("#conversation-pane")).not_to_have_attribute(
        "data-conversation-id", str(busy_inbox["sanne"].id)
    )
    # A marker on the window survives only if the page is not reloaded.
    page.evaluate("window.inboxNotReloaded = true")

    _row_link(page, busy_inbox["sanne"]).click()

    pane = page.locator("#conversation-pane")
    expect(pane).to_have_attribute("data-conversation-id", str(busy_inbox["sanne"].id))
    expect(pane).to_contain_text("zwembad in de kerstvakantie")
    expect(page).to_have_url(f"{live_server.url}/?queue=all&open={busy_inbox['sanne'].id}")
    assert page.evaluate("window.inboxNotReloaded === true")
    # The list refreshes itself: the row is the current one and no longer unread.
    expect(_row_link(page, busy_inbox["sanne"])).to_have_attribute("aria-current", "true")
    expect(page.locator(f"#conversation-row-{busy_inbox['sanne'].id}")).not_to_have_class(
        "inbox-row--unread"
    )
    expect(_row_link(page, busy_inbox["sanne"])).to_be_focused()

    _row_link(page, busy_inbox["henk"]).click()
    expect(pane).to_have_attribute("data-conversation-id", str(busy_inbox["henk"].id))

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/?queue=all&open={busy_inbox['sanne'].id}")
    expect(page.locator("#conversation-pane")).to_have_attribute(
        "data-conversation-id", str(busy_inbox["sanne"].id)
    )
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/?queue=all")
    expect(page.locator("#conversation-pane-empty-title")).to_be_visible()
    assert_no_page_errors(page)


def test_queues_and_filters_are_in_the_url(
    page: Any,
    live_server: Any,
    log_in: Any,
    busy_inbox: dict[str, Conversation],
    mastodon_channel: Channel,
) -> None:
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#queue-mine")).to_have_attribute("aria-current", "page")
    expect(page.locator("#conversation-list [data-conversation-row]")).to_have_count(1)

    page.locator("#queue-unassigned").click()
    expect(page).to_have_url(f"{live_server.url}/?queue=unassigned")
    expect(page.locator("#queue-unassigned")).to_have_attribute("aria-current", "page")
    expect(page.locator("#conversation-list [data-conversation-row]")).to_have_count(4)

    page.locator("#inbox-filter-channel").select_option(str(mastodon_channel.id))
    page.locator("#inbox-filters-apply").click()
    expect(page).to_have_url(f"{live_server.url}/?queue=unassigned&channel={mastodon_channel.id}")
    rows = page.locator("#conversation-list [data-conversation-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("#inbox-list-pane")).to_have_attribute(
        "hx-get", f"/inbox/list/?queue=unassigned&channel={mastodon_channel.id}"
    )

    # Shared as a link: the same list.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/?queue=unassigned&channel={mastodon_channel.id}&priority=4")
    expect(other.locator("#conversation-list [data-conversation-row]")).to_have_count(1)
    expect(other.locator("#inbox-filter-priority")).to_have_value("4")
    other.close()

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/?queue=unassigned")
    expect(page.locator("#conversation-list [data-conversation-row]")).to_have_count(4)
    expect(page.locator("#inbox-filter-channel")).to_have_value("")
    page.go_back()
    expect(page.locator("#queue-mine")).to_have_attribute("aria-current", "page")
    assert_no_page_errors(page)


def test_the_three_panes_pass_axe_with_a_conversation_open(
    page: Any, live_server: Any, log_in: Any, busy_inbox: dict[str, Conversation]
) -> None:
    from playwright.sync_api import expect

    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=all")
    _row_link(page, busy_inbox["els"]).click()
    expect(_row_link(page, busy_inbox["els"])).to_have_attribute("aria-current", "true")

    boxes = [
        page.locator(selector).bounding_box()
        for selector in ("#inbox-queues", "#inbox-list-pane", "#conversation-pane")
    ]
    assert all(box is not None for box in boxes)
    # Three columns side by side, all within the 1280 px window.
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert boxes[2]["x"] + boxes[2]["width"] <= 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    expect(page.locator("#inbox-sidebar-toggle")).to_be_hidden()
    assert_no_axe_violations(page)
    save_screenshot(page, "inbox-three-panes")
    assert_no_page_errors(page)


def test_on_a_tablet_the_queues_fold_away_and_the_panes_stack(
    browser: Any, live_server: Any, log_in: Any, busy_inbox: dict[str, Conversation]
) -> None:
    from playwright.sync_api import expect

    page = new_page(browser, viewport=TABLET)
    log_in(page, "anouk")
    page.goto(f"{live_server.url}/?queue=all&open={busy_inbox['mohammed'].id}")

    toggle = page.locator("#inbox-sidebar-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#inbox-queues")).to_be_hidden()
    list_box = page.locator("#inbox-list-pane").bounding_box()
    pane_box = page.locator("#conversation-pane").bounding_box()
    assert list_box is not None and pane_box is not None
    assert pane_box["y"] >= list_box["y"] + list_box["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    assert_no_axe_violations(page)
    save_screenshot(page, "inbox-tablet")

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#inbox-queues")).to_be_visible()
    page.locator("#queue-mine").click()
    expect(page).to_have_url(f"{live_server.url}/?open={busy_inbox['mohammed'].id}")
    # The choice to show the queues holds across the swap.
    expect(page.locator("#inbox-queues")).to_be_visible()
    expect(page.locator("#queue-mine")).to_be_focused()
    assert_no_axe_violations(page)
    assert_no_page_errors(page)
    page.context.close()
