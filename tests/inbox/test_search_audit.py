"""Searches are logged: who searched what, when (inbox/views/search.py's audit hook;
issue 7, "listening stays on topics")."""

from __future__ import annotations

from django.urls import reverse

from inbox.models import AuditEvent
from tests.inbox.helpers import citizen_writes


def test_a_search_is_logged_with_its_words_filters_and_result_count(logged_in, agent, channel):
    citizen_writes(channel, text="Mijn container is niet geleegd", username="jansen")
    citizen_writes(channel, text="De container staat nog vol", username="pietersen")
    response = logged_in(agent).get(
        reverse("inbox:search"), {"q": "container", "direction": "inbound", "kind": "messages"}
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="search.performed")
    assert event.actor == agent.user
    assert event.data == {
        "query": "container",
        "kind": "messages",
        "filters": {"direction": "inbound"},
        "result_count": 2,
    }


def test_paging_through_the_same_results_is_not_a_new_search(logged_in, agent, channel):
    citizen_writes(channel)
    client = logged_in(agent)
    client.get(reverse("inbox:search"), {"q": "container"})
    client.get(reverse("inbox:search"), {"q": "container", "page": "2"})
    assert AuditEvent.objects.filter(action="search.performed").count() == 1


def test_an_empty_or_invalid_search_or_an_htmx_request_is_not_logged(logged_in, agent, channel):
    client = logged_in(agent)
    client.get(reverse("inbox:search"))
    client.get(reverse("inbox:search"), {"q": ""})
    client.get(reverse("inbox:search"), {"q": "x" * 5000})
    client.get(reverse("inbox:search"), {"q": "container"}, HTTP_HX_REQUEST="true")
    assert not AuditEvent.objects.filter(action="search.performed").exists()


def test_an_administrator_finds_the_searches_in_the_audit_log(
    logged_in, agent, administrator, channel
):
    logged_in(agent).get(reverse("inbox:search"), {"q": "Jansen"})
    client = logged_in(administrator)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("inbox:audit_log"), {"action": "search."})
    text = page.content.decode()
    assert "Search" in text and "Jansen" in text and "Anouk Jansen" in text
