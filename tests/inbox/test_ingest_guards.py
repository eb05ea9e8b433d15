"""Ingest marks personal data in public messages and formal requests in every message, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.base import FetchResult, PlatformAuthor, PlatformMessage
from inbox.models import Message
from inbox.services import messages_ingest
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

VALID_BSN = "111222333"


def test_a_public_message_with_a_bsn_and_an_objection_is_flagged_for_both(channel):
    conversation = citizen_writes(
        channel, text=f"Ik maak bezwaar tegen de boete, mijn BSN is {VALID_BSN}"
    )
    message = conversation.messages.get()
    assert message.personal_data_kinds == ["bsn"]
    assert message.formal_request_kinds == ["objection"]


def test_a_private_message_is_checked_for_formal_requests_but_not_for_personal_data(channel):
    conversation = citizen_writes(
        channel,
        text=f"Hierbij dien ik een klacht in. Mijn nummer is 06-12345678, BSN {VALID_BSN}.",
        private=True,
    )
    message = conversation.messages.get()
    assert message.personal_data_kinds == []
    assert message.formal_request_kinds == ["complaint"]


def test_an_ordinary_message_is_not_flagged(channel):
    conversation = citizen_writes(channel, text="Geen klachten hoor, de container is geleegd!")
    message = conversation.messages.get()
    assert message.personal_data_kinds == []
    assert message.formal_request_kinds == []


def test_the_municipalitys_own_number_is_not_flagged(channel, settings):
    settings.WEBCARE_PUBLIC_CONTACT_DETAILS = ["+31 20 123 4567", "Info@Demodorp.nl"]
    conversation = citizen_writes(
        channel, text="Ik belde 020-1234567 en mailde info@demodorp.nl, geen antwoord"
    )
    assert conversation.messages.get().personal_data_kinds == []


def test_a_webhook_delivery_is_flagged_the_same_way(channel):
    platform_message = PlatformMessage(
        external_id="webhook-1",
        thread_key="webhook-1:burger",
        author=PlatformAuthor(external_id="user-burger", username="burger"),
        text="Ik wil een Woo-verzoek indienen, bel me op 06 12 34 56 78",
        sent_at=timezone.now(),
    )
    messages_ingest(
        channel_id=channel.id,
        fetched=FetchResult(messages=[platform_message], cursor={}),
        from_webhook=True,
    )
    message = Message.objects.get(external_id="webhook-1")
    assert message.personal_data_kinds == ["phone"]
    assert message.formal_request_kinds == ["woo_request"]


# --- where agents see the flags ----------------------------------------------------------


def _inbox(client, **params):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    response = client.get(reverse("inbox:inbox"), {"queue": "all", **params})
    assert response.status_code == 200
    return response.content.decode()


def test_the_inbox_marks_and_filters_conversations_with_a_formal_request(
    logged_in, agent, channel, django_assert_max_num_queries
):
    formal = citizen_writes(channel, username="els", text="Ik wil een klacht indienen")
    ordinary = citizen_writes(channel, username="piet", text="Wanneer komt de vuilniswagen?")
    client = logged_in(agent)
    _inbox(client)  # the once-a-minute "last seen" write

    with django_assert_max_num_queries(100) as unfiltered:
        html = _inbox(client)
    with django_assert_max_num_queries(100) as filtered:
        only_formal = _inbox(client, formal="1")

    assert html.count("inbox-formal-request") == 1
    assert f'id="conversation-row-{formal.id}"' in only_formal
    assert f'id="conversation-row-{ordinary.id}"' not in only_formal
    assert 'id="inbox-filter-formal" name="formal" value="1"' in only_formal
    # The badge and the filter are part of the existing queries.
    assert len(filtered.captured_queries) == len(unfiltered.captured_queries)


def test_the_thread_shows_the_flags_and_the_composer_suggests_an_answer(
    logged_in, agent, channel, settings
):
    from django.urls import reverse

    settings.WEBCARE_FORMAL_REQUEST_URL = "https://demodorp.nl/bezwaar"
    conversation = citizen_writes(
        channel, username="els", text=f"Ik maak bezwaar, mijn bsn is {VALID_BSN}"
    )
    client = logged_in(agent)
    url = reverse("inbox:conversation", args=[conversation.id])

    html = client.get(url).content.decode()
    assert "guard-badge--personal-data" in html
    assert "guard-badge--formal-request" in html
    assert 'id="guard-suggestion-objection"' in html
    assert 'id="guard-suggestion-personal_data"' in html
    # Without JavaScript the suggestion's form reloads the page with the reply started.
    prefilled = client.get(url, {"suggest": "objection"}).content.decode()
    assert "https://demodorp.nl/bezwaar" in prefilled.split("</textarea>")[0].rsplit(">", 1)[1]


def test_the_dashboard_counts_formal_requests_in_the_period(logged_in, team_lead, channel):
    from django.urls import reverse

    citizen_writes(channel, username="els", text="Hierbij dien ik een Woo-verzoek in")
    citizen_writes(channel, username="piet", text="Ik wil een klacht indienen", private=True)
    citizen_writes(
        channel,
        username="kees",
        text="Ik maak bezwaar",
        sent_at=timezone.now() - timedelta(days=10),
    )
    citizen_writes(channel, username="ans", text="Geen klachten!")

    response = logged_in(team_lead).get(reverse("inbox:dashboard"), {"range": "7d"})

    html = response.content.decode()
    figure = html.split('id="key-figure-formal-requests"')[1].split("</li>")[0]
    assert '<span class="key-figure-value">2</span>' in figure
    assert "previous period: 1" in figure or "vorige periode: 1" in figure
    assert "formal=1" in figure
