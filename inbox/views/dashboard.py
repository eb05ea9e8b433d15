"""The team lead's dashboard (docs/metrics.md defines its figures).

Every figure comes from a table registered in inbox/selectors/metrics.py (imported here, so
the registry is filled at startup); the page, the CSV/XLSX export and the API render the
same tables. The controls are a GET form, so every view of the dashboard is a URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse
from django.utils.formats import date_format, number_format
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from channels.selectors import channels_with_health
from inbox.metrics import charts
from inbox.metrics.norms import norms_read_once
from inbox.metrics.tables import (
    GROUPINGS,
    RANGES,
    TABLES,
    InvalidMetricsQuery,
    MetricsQuery,
    MetricsTable,
    metrics_query_from_params,
)
from inbox.selectors import metrics as metrics_selectors
from inbox.selectors.topics import topics_overview
from inbox.services.metrics import metrics_pending_changes
from inbox.views import team_lead_required

# Lower is better for durations and the backlog, higher for shares and work done; for the
# traffic itself neither is better.
BETTER_WHEN_HIGHER = {
    "first_response_within_norm",
    "next_response_within_norm",
    "reply_rate",
    "replies_sent",
    "cycles_resolved",
}
NEUTRAL = {"messages_in", "cycles_started"}
KEY_FIGURES = [
    "first_response_median_working",
    "first_response_p90_working",
    "first_response_median_calendar",
    "first_response_p90_calendar",
    "next_response_median_working",
    "resolution_median_working",
    "first_response_within_norm",
    "next_response_within_norm",
    "messages_in",
    "replies_sent",
    "cycles_started",
    "cycles_resolved",
    "reply_rate",
    "backlog_end",
]


def _optional_url(name: str) -> str | None:
    """A link to a page another part of issue 6 adds, or None while it is not there."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _change(key: str, kind: str, current: Any, previous: Any) -> dict[str, str]:
    """The change against the previous period in words and an arrow (never colour alone)."""
    if current is None or previous is None:
        return {"arrow": "", "text": _("no comparison"), "judgement": "none"}
    difference = current - previous
    if abs(difference) < 1e-9:
        return {"arrow": "→", "text": _("unchanged"), "judgement": "same"}
    if kind == "seconds":
        amount = charts.format_value(abs(difference), "seconds")
    elif kind == "percent":
        amount = _("%(points)s percentage points") % {
            "points": number_format(round(abs(difference) * 100, 1), decimal_pos=1)
        }
    else:
        amount = charts.format_value(abs(difference), "int")
    higher = difference > 0
    text = (_("up %(amount)s") if higher else _("down %(amount)s")) % {"amount": amount}
    if key in NEUTRAL:
        judgement = "neutral"
    elif (key in BETTER_WHEN_HIGHER) == higher:
        judgement = "better"
    else:
        judgement = "worse"
    return {"arrow": "↑" if higher else "↓", "text": text, "judgement": judgement}


def _key_figures(summary: MetricsTable) -> list[dict[str, Any]]:
    current, previous = summary.rows
    columns = {column.key: column for column in summary.columns}
    figures = []
    for key in KEY_FIGURES:
        column = columns[key]
        figures.append(
            {
                "key": key,
                "label": column.label,
                "value": charts.format_value(current[key], column.kind),
                "previous": charts.format_value(previous[key], column.kind),
                "change": _change(key, column.kind, current[key], previous[key]),
            }
        )
    return figures


def _charts(tables: dict[str, MetricsTable]) -> dict[str, Any]:
    distribution = tables["response-times-distribution"]
    trend = tables["trend"]
    heat = tables["heatmap"]
    backlog = tables["backlog"]
    trend_labels = [date_format(row["day"], "j M") for row in trend.rows]
    hours = [column.key for column in heat.columns[1:]]
    grid = [[row[hour] for hour in hours] for row in heat.rows]
    busiest = max(
        (
            (value, row["weekday"], heat.columns[1 + index].label)
            for row, values in zip(heat.rows, grid, strict=True)
            for index, value in enumerate(values)
        ),
        default=(0, "", ""),
        key=lambda item: item[0],
    )
    backlog_values = [row["waiting"] for row in backlog.rows]
    return {
        "distribution": charts.bar_chart(
            "chart-distribution",
            title=str(distribution.title),
            description=charts.chart_description(
                "distribution", count=sum(row["working"] for row in distribution.rows)
            ),
            categories=[row["bucket"] for row in distribution.rows],
            series=[
                (_("Working time"), [row["working"] for row in distribution.rows]),
                (_("Calendar time"), [row["calendar"] for row in distribution.rows]),
            ],
        ),
        "trend": charts.line_chart(
            "chart-trend",
            title=_("Messages in and replies out per day"),
            description=charts.chart_description("trend"),
            labels=trend_labels,
            series=[
                (_("Messages in"), [row["messages_in"] for row in trend.rows]),
                (_("Replies out"), [row["replies_sent"] for row in trend.rows]),
            ],
        ),
        "trend_response": charts.line_chart(
            "chart-trend-response",
            title=_("Median first response per day (working time)"),
            description=charts.chart_description("trend"),
            labels=trend_labels,
            series=[
                (
                    _("Median first response"),
                    [row["first_response_median_working"] for row in trend.rows],
                )
            ],
            seconds=True,
        ),
        "heatmap": charts.heatmap(
            "chart-heatmap",
            title=str(heat.title),
            description=charts.chart_description(
                "heatmap",
                busiest=f"{busiest[1]} {busiest[2]} ({charts.format_value(busiest[0], 'int')})"
                if busiest[0]
                else "—",
            ),
            row_labels=[row["weekday"][:2] for row in heat.rows],
            column_labels=[f"{hour}" for hour in range(24)],
            grid=grid,
        ),
        "backlog": charts.line_chart(
            "chart-backlog",
            title=str(backlog.title),
            description=charts.chart_description(
                "backlog",
                first=backlog_values[0] if backlog_values else 0,
                last=backlog_values[-1] if backlog_values else 0,
            ),
            labels=_moment_labels([row["moment"] for row in backlog.rows]),
            series=[(_("Citizens waiting"), backlog_values)],
        ),
    }


def _moment_labels(moments: list[datetime]) -> list[str]:
    """Short axis labels: the day for a series of days, the day and hour for hours (a long
    label would run into its neighbours)."""
    hourly = len(moments) > 1 and moments[1] - moments[0] < timedelta(days=1)
    label_format = "j M H:i" if hourly else "j M"
    return [date_format(localtime(moment), label_format) for moment in moments]


PAGE_TABLES = [
    "summary",
    "volume",
    "response-times",
    "agents",
    "norms",
    "breaches",
    "response-times-distribution",
    "trend",
    "heatmap",
    "backlog",
]


def _dashboard_context(query: MetricsQuery) -> dict[str, Any]:
    tables = {slug: TABLES[slug](query) for slug in PAGE_TABLES}
    # Formatted once: the breaches' cells are both a table and the rows with their links.
    displayed = {slug: charts.display_table(table) for slug, table in tables.items()}
    return {
        # The topics section's own context (selectors/topics.py), passed to its partial.
        "topics_overview": topics_overview(query),
        "query": query,
        "export_query": urlencode(query.as_params()),
        "tables": {slug.replace("-", "_"): table for slug, table in displayed.items()},
        "key_figures": _key_figures(tables["summary"]),
        "period": tables["summary"].rows[0]["period"],
        "previous_period": tables["summary"].rows[1]["period"],
        "charts": _charts(tables),
        "breach_rows": [
            (cells, reverse("inbox:conversation", args=[row["conversation"]]), row["conversation"])
            for cells, row in zip(displayed["breaches"].rows, tables["breaches"].rows, strict=True)
        ],
        "now": metrics_selectors.dashboard_now(query),
        "pending_changes": metrics_pending_changes(at_most=1),
        "channels": channels_with_health(),
        "service_norms_url": _optional_url("inbox:service_norms"),
        "topics_url": _optional_url("inbox:topics"),
    }


def _form_context(request: HttpRequest, query: MetricsQuery | None) -> dict[str, Any]:
    return {
        "ranges": [(key, str(label)) for key, label in RANGES.items()],
        "groupings": [(key, str(label)) for key, label in GROUPINGS.items()],
        "choices": metrics_selectors.dashboard_filter_choices(),
        "form": {
            "range": request.GET.get("range") or "7d",
            "group": request.GET.get("group") or "none",
            "from": request.GET.get("from", ""),
            "to": request.GET.get("to", ""),
            "channel": request.GET.get("channel", ""),
            "team": request.GET.get("team", ""),
        },
    }


@require_GET
@team_lead_required
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        query = metrics_query_from_params(request.GET)
    except InvalidMetricsQuery as error:
        context = {**_form_context(request, None), "error": str(error)}
        return render(request, "inbox/dashboard.html", context, status=400)
    if request.htmx and request.GET.get("part") == "now":  # type: ignore[attr-defined]
        return render(
            request,
            "inbox/_dashboard_now.html",
            {"now": metrics_selectors.dashboard_now(query), "query": query},
        )
    with norms_read_once():
        context = {**_form_context(request, query), **_dashboard_context(query)}
    return render(request, "inbox/dashboard.html", context)


urlpatterns = [
    path("dashboard/", dashboard, name="dashboard"),
]
