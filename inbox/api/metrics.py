"""/api/v1/metrics/: the dashboard's tables as JSON, for team leads (docs/metrics.md,
"Export and API").

The same MetricsTable as the page and the CSV/XLSX export (inbox/metrics/tables.py), with
the same query parameters, so a script reads exactly what the team lead sees. Durations
are whole seconds, percentages fractions 0..1, moments ISO 8601 in Europe/Amsterdam.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.permissions import IsTeamLead
from inbox.metrics import export
from inbox.metrics.tables import (
    COLUMN_KINDS,
    GROUPINGS,
    RANGES,
    Column,
    InvalidMetricsQuery,
    MetricsQuery,
    MetricsTable,
    metrics_query_from_params,
)
from inbox.metrics.working_time import AMSTERDAM

# --- schema --------------------------------------------------------------------------------


class MetricsColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The key of this column's value in each row.")
    # The metaclass takes declared fields out of the class, so "label" shadows nothing at
    # run time; only the stubs' Field declares an attribute of that name.
    label = serializers.CharField(  # type: ignore[assignment]
        help_text="The column's name in the active language."
    )
    kind = serializers.ChoiceField(
        choices=COLUMN_KINDS,
        help_text="`seconds`: a duration in whole seconds; `percent`: a fraction 0..1; "
        "`datetime`: ISO 8601 in Europe/Amsterdam; `date`: YYYY-MM-DD.",
    )
    help = serializers.CharField(help_text="What the figure means (docs/metrics.md).")


class MetricsTableInfoSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    columns = MetricsColumnSerializer(many=True)
    url = serializers.URLField(help_text="This table's figures: GET with the query parameters.")


class MetricsPeriodSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Inclusive, Europe/Amsterdam.")
    end = serializers.DateTimeField(help_text="Exclusive, Europe/Amsterdam.")
    range = serializers.ChoiceField(choices=list(RANGES))
    group = serializers.ChoiceField(choices=list(GROUPINGS))


class MetricsTableSerializer(serializers.Serializer):
    table = serializers.CharField(help_text="The table's slug.")
    title = serializers.CharField()
    period = MetricsPeriodSerializer()
    columns = MetricsColumnSerializer(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="One object per row, keyed by the columns' keys; null where no figure.",
    )
    total = serializers.DictField(
        allow_null=True, help_text="The total row, keyed like the rows, or null."
    )


# Ids of at most nine digits: they fit PostgreSQL's integer.
_IDS_PATTERN = r"^[0-9]{1,9}(,[0-9]{1,9})*$"

QUERY_PARAMETERS = [
    OpenApiParameter(
        "range",
        OpenApiTypes.STR,
        enum=list(RANGES),
        description="The period: whole days in Europe/Amsterdam up to today, or `custom` "
        "with `from` and `to`. Default `7d`.",
    ),
    OpenApiParameter(
        "group",
        OpenApiTypes.STR,
        enum=list(GROUPINGS),
        description="One row per channel, team, agent or tag. Default `none`.",
    ),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day of a `custom` range (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="Last day of a `custom` range, included; at most 400 days after `from`.",
    ),
    OpenApiParameter(
        "channel",
        OpenApiTypes.STR,
        pattern=_IDS_PATTERN,
        description="Only these channels: ids, comma separated.",
    ),
    OpenApiParameter(
        "team", OpenApiTypes.STR, pattern=_IDS_PATTERN, description="Only these teams: ids."
    ),
]


# --- answers -------------------------------------------------------------------------------


def _column(column: Column) -> dict[str, str]:
    return {
        "key": column.key,
        "label": str(column.label),
        "kind": column.kind,
        "help": str(column.help),
    }


def _row(table: MetricsTable, row: dict[str, Any]) -> dict[str, Any]:
    return {column.key: export.json_value(column, row.get(column.key)) for column in table.columns}


def metrics_table_json(table: MetricsTable, query: MetricsQuery) -> dict[str, Any]:
    return {
        "table": table.slug,
        "title": str(table.title),
        "period": {
            "start": query.start.astimezone(AMSTERDAM).isoformat(),
            "end": query.end.astimezone(AMSTERDAM).isoformat(),
            "range": query.range_key,
            "group": query.group_by,
        },
        "columns": [_column(column) for column in table.columns],
        "rows": [_row(table, row) for row in table.rows[: export.MAX_EXPORT_ROWS]],
        "total": None if table.total is None else _row(table, table.total),
    }


def _query(request: Request) -> MetricsQuery:
    # The page is lenient about a repeated or empty parameter; the API says so (400), as the
    # schema promises.
    for parameter in QUERY_PARAMETERS:
        values = request.query_params.getlist(parameter.name)
        if len(values) > 1 or values == [""]:
            raise ValidationError(
                {"non_field_errors": [_("Give each parameter once, with a value.")]}
            )
    # Checked whatever the range: a malformed value is a mistake even where it is not used.
    for name in ("from", "to"):
        if name in request.query_params:
            value = request.query_params[name]
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                    raise ValueError(value)
                date.fromisoformat(value)
            except ValueError as error:
                raise ValidationError(
                    {"non_field_errors": [_("Give both dates as YYYY-MM-DD.")]}
                ) from error
    try:
        return metrics_query_from_params(request.query_params)
    except InvalidMetricsQuery as error:
        raise ValidationError({"non_field_errors": [str(error)]}) from error


@extend_schema(
    tags=["metrics"],
    summary="The dashboard's tables and their columns (team leads)",
    responses=MetricsTableInfoSerializer(many=True),
)
class MetricsTableList(APIView):
    """Every table of the dashboard, with its columns as they are for the default query
    (a grouping adds the column it groups by)."""

    permission_classes = [IsTeamLead]

    def get(self, request: Request) -> Response:
        query = metrics_query_from_params({"range": "today"})
        tables = []
        for slug, build in sorted(export.metrics_tables_load().items()):
            table = build(query)
            tables.append(
                {
                    "slug": slug,
                    "title": str(table.title),
                    "columns": [_column(column) for column in table.columns],
                    "url": request.build_absolute_uri(reverse("api:metrics_table", args=[slug])),
                }
            )
        return Response(tables)


@extend_schema(
    tags=["metrics"],
    summary="One table's figures for a period (team leads)",
    parameters=QUERY_PARAMETERS,
    responses=MetricsTableSerializer,
)
class MetricsTableDetail(APIView):
    """The rows of one dashboard table, as on the dashboard and in its CSV/XLSX export."""

    permission_classes = [IsTeamLead]

    def get(self, request: Request, slug: str) -> Response:
        tables = export.metrics_tables_load()
        if slug not in tables:
            raise NotFound(_("There is no such table."))
        query = _query(request)
        return Response(metrics_table_json(tables[slug](query), query))


urlpatterns: list[URLPattern] = [
    path("v1/metrics/", MetricsTableList.as_view(), name="metrics"),
    # <str:…>, not <slug:…>: any other name gets the API's JSON 404 from the view, not
    # Django's HTML page (the catch-all in urls.py does not match a name with a newline).
    path("v1/metrics/<str:slug>/", MetricsTableDetail.as_view(), name="metrics_table"),
]
