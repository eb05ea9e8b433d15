"""/api/v1/metrics/: the dashboard's tables as JSON (inbox/api/metrics.py), for team leads.

Uses the export tests' sample table, registered for the test and removed after."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache

from inbox.metrics import export
from inbox.metrics.tables import TABLES
from inbox.models import AuditEvent
from tests.inbox.test_metrics_export import (
    CONTROL_STARTS,
    INJECTIONS,
    NOW,
    SEEN_QUERIES,
    SLUG,
    sample_table,
)

pytestmark = pytest.mark.django_db

DETAIL = f"/api/v1/metrics/{SLUG}/"


@pytest.fixture
def sample_tables() -> Iterator[None]:
    SEEN_QUERIES.clear()
    TABLES[SLUG] = sample_table
    yield
    TABLES.pop(SLUG, None)
    SEEN_QUERIES.clear()


@pytest.fixture
def only_sample_tables(sample_tables, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The list without the dashboard's real tables: what the list itself does and costs."""
    monkeypatch.setattr(export, "metrics_tables_load", lambda: {SLUG: sample_table})


def test_the_list_names_every_table_with_its_columns_and_address(
    api_as, team_lead, only_sample_tables
):
    response = api_as(team_lead).get("/api/v1/metrics/")

    assert response.status_code == 200
    tables = {table["slug"]: table for table in response.json()}
    assert set(tables) == {SLUG}
    ours = tables[SLUG]
    assert ours["title"] == "Kanalen: reactietijd"
    assert ours["url"] == f"http://testserver{DETAIL}"
    assert ours["columns"][0] == {
        "key": "name",
        "label": "Kanaal",
        "kind": "text",
        "help": "The channel's name.",
    }
    assert [column["kind"] for column in ours["columns"]] == [
        "text",
        "int",
        "seconds",
        "percent",
        "datetime",
        "date",
    ]


def test_a_table_answers_its_period_columns_rows_and_total(api_as, team_lead, sample_tables):
    with time_machine.travel(NOW, tick=False):
        response = api_as(team_lead).get(DETAIL, {"range": "7d", "group": "channel"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"table", "title", "period", "columns", "rows", "total"}
    assert body["table"] == SLUG
    assert body["period"] == {
        "start": "2026-03-24T00:00:00+01:00",
        "end": "2026-03-31T00:00:00+02:00",
        "range": "7d",
        "group": "channel",
    }
    assert body["rows"][0] == {
        "name": "demodorp-x",
        "conversations": 12,
        "first_response": 3725,  # whole seconds
        "within_norm": 0.8125,
        "last_message": "2026-03-29T14:00:00+02:00",
        "day": "2026-03-29",
    }
    # Text as it is: JSON is not a spreadsheet, nothing to neutralise.
    assert [row["name"] for row in body["rows"][1:]] == [*INJECTIONS, *CONTROL_STARTS]
    assert body["rows"][1]["first_response"] is None
    assert body["total"]["first_response"] == 90061
    assert isinstance(body["total"]["first_response"], int)
    assert SEEN_QUERIES[-1].group_by == "channel"


def test_a_table_without_a_total_answers_null(api_as, team_lead, sample_tables, monkeypatch):
    def without_total(query):  # type: ignore[no-untyped-def]
        table = sample_table(query)
        table.total = None
        return table

    monkeypatch.setitem(TABLES, SLUG, without_total)

    assert api_as(team_lead).get(DETAIL).json()["total"] is None


def test_the_api_rows_equal_the_csv_export_for_the_same_query(
    api_as, logged_in, team_lead, sample_tables
):
    params = {"range": "custom", "from": "2026-03-01", "to": "2026-03-29", "group": "channel"}
    body = api_as(team_lead).get(DETAIL, params).json()
    exported = (
        logged_in(team_lead)
        .get(f"/dashboard/export/{SLUG}.csv", params)
        .content.decode("utf-8-sig")
    )
    csv_rows = list(csv.reader(io.StringIO(exported, newline="")))[1:]

    def as_csv(row):  # type: ignore[no-untyped-def]
        seconds = row["first_response"]
        return [
            export.neutralise_formula(row["name"]),
            str(row["conversations"]),
            "" if seconds is None else str(seconds),
            "" if seconds is None else f"{seconds / 60:.1f}",
            "" if row["within_norm"] is None else f"{row['within_norm']:g}",
            row["last_message"] or "",
            row["day"] or "",
        ]

    assert csv_rows == [as_csv(row) for row in [*body["rows"], body["total"]]]


@pytest.mark.parametrize(
    "params",
    [
        {"range": "forever"},
        {"range": "custom", "from": "2026-02-01", "to": "2026-01-01"},
        {"range": "custom", "from": "9999-12-30", "to": "9999-12-31"},
        {"range": "custom"},
        {"group": "citizen"},
        {"team": "1,x"},
        {"team": "²"},
        {"channel": "99999999999999999999"},
    ],
)
def test_a_bad_query_is_a_400_in_the_api_error_shape(api_as, team_lead, sample_tables, params):
    response = api_as(team_lead).get(DETAIL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert body["errors"] == {"non_field_errors": [body["detail"]]}


def test_an_unknown_table_is_a_404(api_as, team_lead, sample_tables):
    response = api_as(team_lead).get("/api/v1/metrics/no-such-table/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_only_team_leads_read_the_figures(api_as, anonymous, agent, outsider, sample_tables):
    for url in ("/api/v1/metrics/", DETAIL):
        assert api_as(agent).get(url).status_code == 403
        assert api_as(outsider).get(url).status_code == 403
        assert anonymous.get(url).status_code == 401


def test_reading_the_api_is_not_audited_as_an_export(api_as, team_lead, sample_tables):
    api_as(team_lead).get(DETAIL)

    assert not AuditEvent.objects.filter(action="metrics.exported").exists()


def test_the_api_reads_few_queries(api_as, team_lead, sample_tables, django_assert_max_num_queries):
    client = api_as(team_lead)
    with django_assert_max_num_queries(3):
        assert client.get(DETAIL).status_code == 200


def test_the_list_reads_few_queries_besides_the_tables_own(
    api_as, team_lead, only_sample_tables, django_assert_max_num_queries
):
    client = api_as(team_lead)
    with django_assert_max_num_queries(3):
        assert client.get("/api/v1/metrics/").status_code == 200


def test_the_schema_describes_the_metrics_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    detail = schema["paths"]["/api/v1/metrics/{slug}/"]["get"]
    assert {parameter["name"] for parameter in detail["parameters"]} >= {
        "slug",
        "range",
        "group",
        "from",
        "to",
        "channel",
        "team",
    }
    assert {"200", "400", "401", "403", "404"} <= set(detail["responses"])
    assert "/api/v1/metrics/" in schema["paths"]


def test_every_registered_dashboard_table_answers_in_the_api(api_as, team_lead, channel, agent):
    real = sorted(export.metrics_tables_load())
    if not real:
        pytest.skip("no dashboard tables registered yet (inbox/selectors/metrics.py)")
    client = api_as(team_lead)
    failed = []
    for slug in real:
        for group in ("none", "channel", "team", "agent", "tag"):
            try:
                response = client.get(f"/api/v1/metrics/{slug}/", {"group": group})
            except Exception as error:  # name every table that fails, not only the first
                failed.append((slug, group, repr(error)[:200]))
                continue
            if response.status_code != 200 or response.json()["table"] != slug:
                failed.append((slug, group, response.status_code))
    assert not failed
    assert {table["slug"] for table in client.get("/api/v1/metrics/").json()} == set(real)


def test_the_figures_are_throttled_like_the_rest_of_the_api(
    api_as, team_lead, sample_tables, settings
):
    key = f"throttle_user_{team_lead.user.pk}"
    cache.delete(key)  # only this key: the cache's Redis database is shared with Celery
    settings.WEBCARE_API_RATE_LIMIT = 2
    client = api_as(team_lead)
    try:
        statuses = [client.get(DETAIL).status_code for _attempt in range(3)]
    finally:
        cache.delete(key)

    assert statuses == [200, 200, 429]
