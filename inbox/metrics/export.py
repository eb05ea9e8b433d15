"""The dashboard's tables as files: CSV for scripts and spreadsheets, XLSX for people.

Both are written from the same MetricsTable as the page and /api/v1/metrics/<slug>/
(inbox/metrics/tables.py), so the three never disagree. docs/metrics.md, "Export and API",
describes the formats:

- CSV: UTF-8 with a byte order mark (Excel otherwise reads it as Windows-1252), comma
  separated, a header row with the column labels in the active language, machine-readable
  values: a duration as whole seconds ("… (s)") followed by an extra column in minutes with
  one decimal ("… (min)"), a percentage as a fraction 0..1 with a dot ("… (0-1)"), a moment
  as ISO 8601 in Europe/Amsterdam with its offset, a day as YYYY-MM-DD, nothing as "".
- XLSX: typed cells (a duration is a number of days with the format [h]:mm:ss, so Excel can
  add them up), a bold frozen header row, column widths, the table's title as the sheet's
  name, and an "About" sheet with the period, grouping, filters and generation time.

A text cell that starts with = + - @, a tab or a carriage return would be run as a formula
by a spreadsheet (CSV injection): CSV gets a leading apostrophe, XLSX always writes text as
a string cell.
"""

from __future__ import annotations

import csv
import importlib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import xlsxwriter
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.metrics.tables import (
    GROUPINGS,
    RANGES,
    TABLES,
    Column,
    MetricsQuery,
    MetricsTable,
)
from inbox.metrics.working_time import AMSTERDAM
from inbox.services.common import audit

# The tables are small (one row per channel, team, agent or tag); a cap keeps a mistake
# (a grouping that explodes) from building a file nobody can open. Excel's own limit is
# 1,048,576 rows.
MAX_EXPORT_ROWS = 100_000

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Where the figures are defined; the export names it, with the table's anchor.
DEFINITIONS = "docs/metrics.md"

# Spreadsheets treat a cell that starts with one of these as a formula (OWASP, "CSV Injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# The modules whose @metrics_table functions fill the registry when imported.
TABLE_MODULES = ("inbox.selectors.metrics", "inbox.selectors.topics")


def metrics_tables_load() -> dict[str, Any]:
    """The registry, filled: the tables register themselves when their module is imported."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return TABLES


def metrics_table_build(slug: str, query: MetricsQuery) -> MetricsTable:
    """The registered table `slug` for this query; KeyError when there is no such table."""
    return metrics_tables_load()[slug](query)


# --- values --------------------------------------------------------------------------------


def neutralise_formula(text: str) -> str:
    """A text cell as a spreadsheet will show it, never run it."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def whole_seconds(value: Any) -> int | None:
    """A duration as whole seconds (the API's and the CSV's unit)."""
    number = _number(value)
    return None if number is None else round(number)


def local_moment(value: datetime) -> datetime:
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(AMSTERDAM)


def json_value(column: Column, value: Any) -> Any:
    """A cell for the API: durations in whole seconds, fractions as floats, ISO 8601."""
    if value is None:
        return None
    kind = column.kind
    if kind == "seconds":
        return whole_seconds(value)
    if kind == "percent":
        return _number(value)
    if kind == "int":
        number = _number(value)
        return None if number is None else round(number)
    if kind == "datetime" and isinstance(value, datetime):
        return local_moment(value).isoformat(timespec="seconds")
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_cells(column: Column, value: Any) -> list[str]:
    if value is None or value == "":
        return ["", ""] if column.kind == "seconds" else [""]
    kind = column.kind
    if kind == "seconds":
        seconds = whole_seconds(value)
        if seconds is None:
            return ["", ""]
        return [str(seconds), f"{seconds / 60:.1f}"]
    if kind == "percent":
        fraction = _number(value)
        return [""] if fraction is None else [f"{round(fraction, 4):g}"]
    if kind == "int":
        number = _number(value)
        return [""] if number is None else [str(round(number))]
    if kind in ("datetime", "date"):
        return [neutralise_formula(str(json_value(column, value)))]
    return [neutralise_formula(str(value))]


def _csv_header(column: Column) -> list[str]:
    label = str(column.label)
    if column.kind == "seconds":
        return [
            _("%(label)s (s)") % {"label": label},
            _("%(label)s (min)") % {"label": label},
        ]
    if column.kind == "percent":
        return [_("%(label)s (0-1)") % {"label": label}]
    return [neutralise_formula(label)]


def _rows(table: MetricsTable) -> Iterator[dict[str, Any]]:
    yield from table.rows[:MAX_EXPORT_ROWS]
    if table.total is not None:
        yield table.total


def is_truncated(table: MetricsTable) -> bool:
    return len(table.rows) > MAX_EXPORT_ROWS


def truncation_note() -> str:
    return _("Cut off after %(count)s rows: choose a shorter period or a coarser grouping.") % {
        "count": MAX_EXPORT_ROWS
    }


# --- CSV -----------------------------------------------------------------------------------


def table_to_csv(table: MetricsTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell for column in table.columns for cell in _csv_header(column)])
    for row in _rows(table):
        writer.writerow(
            [cell for column in table.columns for cell in _csv_cells(column, row.get(column.key))]
        )
    if is_truncated(table):
        writer.writerow([truncation_note()])
    # utf-8-sig: the byte order mark tells Excel the file is UTF-8 ("één", "Zoë").
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX ----------------------------------------------------------------------------------

_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, taken: str = "") -> str:
    name = _SHEET_NAME_FORBIDDEN.sub(" ", title).strip().strip("'")[:31] or "Data"
    # Excel compares sheet names without regard to case.
    return name if name.lower() != taken.lower() else name[:28] + " 2"


@dataclass
class _Formats:
    header: Any
    integer: Any
    duration: Any
    percent: Any
    moment: Any
    day: Any
    bold: Any
    wrap: Any


def _formats(workbook: Any) -> _Formats:
    return _Formats(
        header=workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True}),
        integer=workbook.add_format({"num_format": "#,##0"}),
        # Durations as days: [h] keeps counting past 24 hours.
        duration=workbook.add_format({"num_format": "[h]:mm:ss"}),
        percent=workbook.add_format({"num_format": "0.0%"}),
        moment=workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        day=workbook.add_format({"num_format": "yyyy-mm-dd"}),
        bold=workbook.add_format({"bold": True}),
        wrap=workbook.add_format({"text_wrap": True, "valign": "top"}),
    )


def _write_cell(sheet: Any, row: int, col: int, column: Column, value: Any, f: _Formats) -> int:
    """Write one typed cell; returns the width its shown text needs."""
    if value is None or value == "":
        sheet.write_blank(row, col, None)
        return 0
    kind = column.kind
    if kind == "seconds":
        seconds = whole_seconds(value)
        if seconds is None:
            sheet.write_blank(row, col, None)
            return 0
        sheet.write_number(row, col, seconds / 86400, f.duration)
        return 10
    if kind == "percent":
        fraction = _number(value)
        if fraction is None:
            sheet.write_blank(row, col, None)
            return 0
        sheet.write_number(row, col, fraction, f.percent)
        return 7
    if kind == "int":
        number = _number(value)
        if number is None:
            sheet.write_blank(row, col, None)
            return 0
        sheet.write_number(row, col, round(number), f.integer)
        return len(f"{round(number):,}")
    if kind == "datetime" and isinstance(value, datetime):
        # Excel has no time zones: the local time, and the About sheet says which zone.
        sheet.write_datetime(row, col, local_moment(value).replace(tzinfo=None), f.moment)
        return 16
    if kind == "date" and isinstance(value, date):
        day = local_moment(value).date() if isinstance(value, datetime) else value
        sheet.write_datetime(row, col, day, f.day)
        return 10
    # Always a string cell, never a formula, whatever the text starts with.
    text = str(value)
    sheet.write_string(row, col, text)
    return len(text)


def _period_text(query: MetricsQuery) -> str:
    first = query.start.astimezone(AMSTERDAM).date()
    last = (query.end.astimezone(AMSTERDAM) - timedelta(days=1)).date()
    return f"{first.isoformat()} – {last.isoformat()}"


def table_to_xlsx(table: MetricsTable, query: MetricsQuery) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            # Belt and braces: text is written with write_string anyway.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    title = str(table.title)
    workbook.set_properties({"title": title, "comments": DEFINITIONS})
    f = _formats(workbook)
    sheet_name = _sheet_name(title)
    sheet = workbook.add_worksheet(sheet_name)

    widths = [min(len(str(column.label)), 40) for column in table.columns]
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, str(column.label), f.header)
    row_number = 0
    for row_number, row in enumerate(_rows(table), start=1):
        for col, column in enumerate(table.columns):
            width = _write_cell(sheet, row_number, col, column, row.get(column.key), f)
            widths[col] = max(widths[col], min(width, 60))
    if table.total is not None and row_number:
        sheet.set_row(row_number, None, f.bold)
    if is_truncated(table):
        sheet.write_string(row_number + 1, 0, truncation_note(), f.bold)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width + 2)
    sheet.freeze_panes(1, 0)
    sheet.set_header(f"&L{title.replace('&', '&&')}")

    about = workbook.add_worksheet(_sheet_name(_("About"), taken=sheet_name))
    filters = []
    if query.channel_ids:
        filters.append(_("channels %(ids)s") % {"ids": ", ".join(map(str, query.channel_ids))})
    if query.team_ids:
        filters.append(_("teams %(ids)s") % {"ids": ", ".join(map(str, query.team_ids))})
    definition = DEFINITIONS + (
        f"#{table.definition_anchor.lstrip('#')}" if table.definition_anchor else ""
    )
    lines = [
        (_("Table"), title),
        (_("Period"), _period_text(query)),
        (_("Range"), str(RANGES.get(query.range_key, query.range_key))),
        (_("Grouping"), str(GROUPINGS.get(query.group_by, query.group_by))),
        (_("Filters"), "; ".join(filters) or _("none")),
        (
            _("Generated at"),
            local_moment(timezone.now()).isoformat(sep=" ", timespec="seconds"),
        ),
        (_("Times"), _("Europe/Amsterdam; durations as hours:minutes:seconds.")),
        (_("Definitions"), definition),
    ]
    if is_truncated(table):
        lines.append((_("Incomplete"), truncation_note()))
    for index, (label, value) in enumerate(lines):
        about.write_string(index, 0, str(label), f.bold)
        about.write_string(index, 1, str(value), f.wrap)
    about.set_column(0, 0, 16)
    about.set_column(1, 1, 70)
    workbook.close()
    return buffer.getvalue()


def table_export(table: MetricsTable, query: MetricsQuery, file_format: str) -> bytes:
    if file_format == "csv":
        return table_to_csv(table)
    if file_format == "xlsx":
        return table_to_xlsx(table, query)
    raise ValueError(f"unknown export format {file_format!r}")


def export_filename(slug: str, query: MetricsQuery, file_format: str) -> str:
    first = query.start.astimezone(AMSTERDAM).date()
    last = (query.end.astimezone(AMSTERDAM) - timedelta(days=1)).date()
    return f"webcare-{slug}-{first.isoformat()}-{last.isoformat()}.{file_format}"


# --- the audit record ----------------------------------------------------------------------


@transaction.atomic
def metrics_export_record(*, actor: User, slug: str, file_format: str, query: MetricsQuery) -> None:
    """Who took which figures out of the inbox, and for which period (no conversation: an
    export changes nothing, so it marks nothing for the metrics refresh)."""
    audit(
        "metrics.exported",
        actor=actor,
        table=slug,
        format=file_format,
        start=query.start.isoformat(),
        end=query.end.isoformat(),
        range=query.range_key,
        group=query.group_by,
        channel_ids=list(query.channel_ids),
        team_ids=list(query.team_ids),
    )
