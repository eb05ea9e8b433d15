"""The team lead's topic pages and the dashboard's topics section (inbox/views/topics.py,
templates/inbox/_dashboard_topics.html)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from channels.models import Channel
from inbox import services
from inbox.metrics.tables import TABLES, metrics_query_from_params
from inbox.models import AuditEvent, Topic
from inbox.selectors.topics import topics_overview
from tests.inbox.test_topics import citizens_write, refresh_all


def test_team_leads_open_the_topics_page_and_agents_get_403(logged_in, team_lead, agent):
    assert logged_in(team_lead).get(reverse("inbox:topics")).status_code == 200
    assert logged_in(agent).get(reverse("inbox:topics")).status_code == 403


def test_agents_cannot_post_topics(logged_in, agent, team_lead):
    topic = services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    client = logged_in(agent)
    assert client.post(reverse("inbox:topics"), {"name": "X", "keywords": "x"}).status_code == 403
    assert client.post(reverse("inbox:topic_delete", args=[topic.pk])).status_code == 403
    assert Topic.objects.count() == 1


def test_a_team_lead_creates_edits_switches_off_and_deletes_a_topic(logged_in, team_lead):
    client = logged_in(team_lead)
    response = client.post(
        reverse("inbox:topics"),
        {"name": "Afval", "keywords": "afval, #grofvuil", "is_active": "on"},
    )
    assert response.status_code == 302
    topic = Topic.objects.get()
    assert (topic.keywords, topic.is_active) == ("afval\n#grofvuil", True)
    assert "#grofvuil" in client.get(reverse("inbox:topics")).content.decode()

    assert client.get(reverse("inbox:topic_edit", args=[topic.pk])).status_code == 200
    client.post(
        reverse("inbox:topic_edit", args=[topic.pk]), {"name": "Afval", "keywords": "vuilnis"}
    )
    topic.refresh_from_db()
    assert (topic.keywords, topic.is_active) == ("vuilnis", False)

    client.post(reverse("inbox:topic_delete", args=[topic.pk]))
    assert not Topic.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="topic.").values_list("action", flat=True)
    ) == ["topic.created", "topic.updated", "topic.deleted"]


def test_an_invalid_topic_is_shown_with_its_error(logged_in, team_lead):
    client = logged_in(team_lead)
    services.topic_create(actor=team_lead.user, name="Afval", keywords="afval")
    empty = client.post(reverse("inbox:topics"), {"name": "", "keywords": ""})
    assert empty.status_code == 422
    duplicate = client.post(reverse("inbox:topics"), {"name": "afval", "keywords": "vuil"})
    assert duplicate.status_code == 422
    assert 'role="alert"' in duplicate.content.decode()
    assert client.get(reverse("inbox:topic_edit", args=[999999])).status_code == 404


def test_the_topics_page_reads_in_a_bounded_number_of_queries(
    logged_in, team_lead, django_assert_max_num_queries
):
    for n in range(15):
        services.topic_create(actor=team_lead.user, name=f"Onderwerp {n}", keywords=f"woord{n}")
    client = logged_in(team_lead)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("inbox:topics"))
    assert "Onderwerp 14" in response.content.decode()


def test_the_topics_and_terms_tables_are_registered_for_export_and_api(spiking) -> None:
    topics = TABLES["topics"](spiking)
    terms = TABLES["terms"](spiking)
    assert [(row["topic"], row["messages"], row["spike"]) for row in topics.rows] == [
        ("Brug", 10, 1)
    ]
    assert [(row["term"], row["citizens"]) for row in terms.rows] == [("#stroomstoring", 3)]
    assert {column.key for column in terms.columns} >= {"term", "messages", "citizens", "change"}


@pytest.fixture
def spiking(channel: Channel, team_lead):
    """A topic with ten messages in the last hour and nothing before; three citizens write
    about a power cut, two about a bridge."""
    services.topic_create(actor=team_lead.user, name="Brug", keywords="brug")
    now = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    citizens_write(
        channel,
        [(f"brug dicht {n}", f"burger{n % 2}", now - timedelta(minutes=5 + n)) for n in range(10)]
        + [(f"#stroomstoring {n}", f"buur{n}", now - timedelta(minutes=30)) for n in range(3)],
    )
    refresh_all()
    return metrics_query_from_params({"range": "today"}, now=now)


def test_the_dashboard_section_shows_the_spike_as_a_status_and_the_numbers_in_text(spiking):
    request = RequestFactory().get("/dashboard/")
    with translation.override("en"):
        html = render_to_string(
            "inbox/_dashboard_topics.html",
            {"overview": topics_overview(spiking), "request": request},
        )
    assert 'role="status"' in html
    assert "Something is happening in town" in html
    assert "<strong>Brug</strong>: 10 messages in the last 3 hours" in html
    # The bar list: numbers as text next to a decorative bar.
    assert "#stroomstoring" in html
    assert 'class="term-bar-value">3<' in html
    # Two citizens wrote about the bridge: "brug" and "dicht" stay hidden.
    assert ">dicht<" not in html
    assert "style=" not in html
