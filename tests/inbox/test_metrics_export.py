"""The dashboard's tables as CSV and XLSX downloads (inbox/metrics/export.py,
inbox/views/metrics_export.py).

The tests register tables of their own (and remove them after), so they do not depend on
which real tables the dashboard registers; the last test exports every real one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from inbox.metrics import export
from inbox.metrics.tables import (
    TABLES,
    Column,
    MetricsQuery,
    MetricsTable,
    metrics_query_from_params,
)
from inbox.models import AuditEvent

pytestmark = pytest.mark.django_db

SLUG = "test-export-channels"
NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # a Monday, summer time in Amsterdam

# Text a spreadsheet would run as a formula, and text it would not.
INJECTIONS = ['=HYPERLINK("http://evil.example","klik")', "+31 6 1234", "-2+3", "@SUM(A1)"]
CONTROL_STARTS = ["\tverborgen", "\rterug"]
SEEN_QUERIES: list[MetricsQuery] = []


def sample_table(query: MetricsQuery) -> MetricsTable:
    SEEN_QUERIES.append(query)
    rows: list[dict[str, Any]] = [
        {
            "name": "demodorp-x",
            "conversations": 12,
            "first_response": 3725.4,  # 1 h 2 min 5.4 s
            "within_norm": 0.8125,
            "last_message": datetime(2026, 3, 29, 12, 0, tzinfo=UTC),
            "day": date(2026, 3, 29),
            "ignored": "not a column",
        },
        *(
            {
                "name": name,
                "conversations": -3,
                "first_response": None,
                "within_norm": None,
                "last_message": None,
                "day": None,
            }
            for name in [*INJECTIONS, *CONTROL_STARTS]
        ),
    ]
    return MetricsTable(
        slug=SLUG,
        title="Kanalen: reactietijd",
        columns=[
            Column("name", gettext_lazy("Channel"), "text", help="The channel's name."),
            Column("conversations", "Conversations", "int"),
            Column("first_response", "First response", "seconds", help="Median."),
            Column("within_norm", "Within norm", "percent"),
            Column("last_message", "Last message", "datetime"),
            Column("day", "Day", "date"),
        ],
        rows=rows,
        definition_anchor="first-response-time",
        total={"name": "Totaal", "conversations": 12, "first_response": 90061, "within_norm": 1},
    )


@pytest.fixture
def sample_tables() -> Iterator[None]:
    SEEN_QUERIES.clear()
    TABLES[SLUG] = sample_table
    yield
    TABLES.pop(SLUG, None)
    SEEN_QUERIES.clear()


def sample_query(**params: str) -> MetricsQuery:
    return metrics_query_from_params({"range": "7d", **params}, now=NOW)


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# --- XLSX, read as the XML it is --------------------------------------------------------------

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    # Our own file, just written: no untrusted XML.
    return ElementTree.fromstring(archive.read(name))  # noqa: S314


class Workbook:
    def __init__(self, content: bytes) -> None:
        self.archive = zipfile.ZipFile(io.BytesIO(content))
        self.strings = [
            "".join(node.itertext())
            for node in _xml(self.archive, "xl/sharedStrings.xml").findall("m:si", NS)
        ]
        workbook = _xml(self.archive, "xl/workbook.xml")
        self.sheet_names = [sheet.get("name") for sheet in workbook.iterfind(".//m:sheet", NS)]
        styles = _xml(self.archive, "xl/styles.xml")
        formats = {
            node.get("numFmtId"): node.get("formatCode")
            for node in styles.iterfind(".//m:numFmts/m:numFmt", NS)
        }
        self.style_formats = [
            formats.get(xf.get("numFmtId"), xf.get("numFmtId"))
            for xf in styles.iterfind("m:cellXfs/m:xf", NS)
        ]
        self.bold_styles = {
            index
            for index, xf in enumerate(styles.iterfind("m:cellXfs/m:xf", NS))
            if styles.findall("m:fonts/m:font", NS)[int(xf.get("fontId", "0"))].find("m:b", NS)
            is not None
        }

    def sheet(self, number: int) -> ElementTree.Element:
        return _xml(self.archive, f"xl/worksheets/sheet{number}.xml")

    def cells(self, number: int) -> dict[str, tuple[str, Any, str | None]]:
        """{"A1": (type, value, number format)}; type "s" text, "n" number, "" blank."""
        result: dict[str, tuple[str, Any, str | None]] = {}
        for cell in self.sheet(number).iterfind(".//m:c", NS):
            style = self.style_formats[int(cell.get("s", "0"))]
            value = cell.find("m:v", NS)
            if value is None:
                result[cell.get("r", "")] = ("", None, style)
            elif cell.get("t") == "s":
                result[cell.get("r", "")] = ("s", self.strings[int(value.text or 0)], style)
            else:
                result[cell.get("r", "")] = ("n", float(value.text or 0), style)
        return result


# --- CSV -----------------------------------------------------------------------------------


def test_the_csv_has_a_bom_labels_in_the_active_language_and_machine_readable_values():
    table = sample_table(sample_query())

    header, first, *_rest = read_csv(export.table_to_csv(table))

    assert header == [
        "Kanaal",  # Dutch, the default language
        "Conversations",
        "First response (s)",
        "First response (min)",
        "Within norm (0-1)",
        "Last message",
        "Day",
    ]
    # Whole seconds and minutes with a dot; a fraction; ISO 8601 in Amsterdam with offset.
    assert first == [
        "demodorp-x",
        "12",
        "3725",
        "62.1",
        "0.8125",
        "2026-03-29T14:00:00+02:00",
        "2026-03-29",
    ]


def test_the_csv_header_follows_the_active_language():
    with translation.override("en"):
        header = read_csv(export.table_to_csv(sample_table(sample_query())))[0]

    assert header[0] == "Channel"


def test_the_csv_ends_with_the_total_row_and_leaves_missing_figures_empty():
    rows = read_csv(export.table_to_csv(sample_table(sample_query())))

    assert rows[2][2:] == ["", "", "", "", ""]
    assert rows[-1] == ["Totaal", "12", "90061", "1501.0", "1", "", ""]
    assert len(rows) == 1 + 1 + len(INJECTIONS) + len(CONTROL_STARTS) + 1


def test_the_csv_neutralises_text_a_spreadsheet_would_run_as_a_formula():
    rows = read_csv(export.table_to_csv(sample_table(sample_query())))
    names = [row[0] for row in rows[2:-1]]

    assert names == ["'" + text for text in [*INJECTIONS, *CONTROL_STARTS]]
    # Numbers are not text: a negative count keeps its minus sign.
    assert {row[1] for row in rows[2:-1]} == {"-3"}


def test_the_csv_is_cut_off_with_a_note_after_the_row_cap(monkeypatch):
    monkeypatch.setattr(export, "MAX_EXPORT_ROWS", 3)

    rows = read_csv(export.table_to_csv(sample_table(sample_query())))

    assert len(rows) == 1 + 3 + 1 + 1  # header, three rows, the total, the note
    assert rows[-2][0] == "Totaal"
    assert "3" in rows[-1][0]
    assert len(rows[-1]) == 1


# --- XLSX ----------------------------------------------------------------------------------


def test_the_xlsx_has_typed_cells_with_duration_and_percent_formats():
    with time_machine.travel(NOW, tick=False):
        book = Workbook(export.table_to_xlsx(sample_table(sample_query()), sample_query()))
    cells = book.cells(1)

    assert cells["A1"][:2] == ("s", "Kanaal")
    assert cells["A2"] == ("s", "demodorp-x", cells["A2"][2])
    assert cells["B2"][:2] == ("n", 12.0)
    kind, days, number_format = cells["C2"]
    assert kind == "n"
    assert days * 86400 == pytest.approx(3725)
    assert number_format == "[h]:mm:ss"
    assert cells["D2"] == ("n", 0.8125, "0.0%")
    # Excel has no time zones: the Amsterdam local time (14:00 on 29 March 2026).
    kind, serial, number_format = cells["E2"]
    assert (kind, number_format) == ("n", "yyyy-mm-dd hh:mm")
    assert serial == pytest.approx(46110 + 14 / 24)
    assert cells["F2"] == ("n", 46110.0, "yyyy-mm-dd")
    assert "C3" not in cells  # no figure: an empty cell
    # The total: more than 24 hours still reads as hours.
    total_row = 3 + len(INJECTIONS) + len(CONTROL_STARTS)
    assert cells[f"C{total_row}"][1] * 86400 == pytest.approx(90061)
    total_label = next(book.sheet(1).iterfind(f".//m:c[@r='A{total_row}']", NS))
    assert cells[f"A{total_row}"][1] == "Totaal"
    assert int(total_label.get("s", "0")) in book.bold_styles


def test_the_xlsx_header_is_bold_and_frozen_with_widths_and_the_title_as_sheet_name():
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        book = Workbook(export.table_to_xlsx(sample_table(sample_query()), sample_query()))
    sheet = book.sheet(1)

    # ":" may not appear in a sheet name.
    assert book.sheet_names == ["Kanalen  reactietijd", "About"]
    header_style = int(next(sheet.iterfind(".//m:c[@r='A1']", NS)).get("s", "0"))
    assert header_style in book.bold_styles
    pane = sheet.find(".//m:pane", NS)
    assert pane is not None
    assert (pane.get("ySplit"), pane.get("state")) == ("1", "frozen")
    widths = [float(col.get("width", 0)) for col in sheet.iterfind(".//m:col", NS)]
    assert len(widths) == 6
    assert all(width >= 6 for width in widths)


def test_the_xlsx_writes_formula_like_text_as_strings_never_formulas():
    with time_machine.travel(NOW, tick=False):
        book = Workbook(export.table_to_xlsx(sample_table(sample_query()), sample_query()))

    assert book.sheet(1).find(".//m:f", NS) is None
    names = [book.cells(1)[f"A{row}"] for row in range(3, 3 + len(INJECTIONS))]
    assert [(kind, value) for kind, value, _style in names] == [("s", text) for text in INJECTIONS]


def test_the_xlsx_about_sheet_names_the_period_grouping_time_and_definitions():
    query = sample_query(range="custom", **{"from": "2026-03-01", "to": "2026-03-29"})
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        book = Workbook(export.table_to_xlsx(sample_table(query), query))
    about = {label[1]: value[1] for label, value in _pairs(book.cells(2))}

    assert about["Period"] == "2026-03-01 – 2026-03-29"
    assert about["Range"] == "Custom"
    assert about["Grouping"] == "Everything together"
    assert about["Filters"] == "none"
    assert about["Generated at"] == "2026-03-30 12:00:00+02:00"
    assert about["Definitions"] == "docs/metrics.md#first-response-time"
    assert about["Table"] == "Kanalen: reactietijd"


def _pairs(cells: dict[str, tuple[str, Any, str | None]]) -> list[tuple[Any, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for ref, cell in cells.items():
        match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
        assert match
        rows.setdefault(int(match[2]), {})[match[1]] = cell
    return [(row["A"], row["B"]) for _number, row in sorted(rows.items())]


# --- the view ------------------------------------------------------------------------------


def export_url(file_format: str, slug: str = SLUG) -> str:
    return reverse("inbox:metrics_export", args=[slug, file_format])


def test_a_team_lead_downloads_the_csv_named_after_the_table_and_period(
    logged_in, team_lead, sample_tables
):
    with time_machine.travel(NOW, tick=False):
        response = logged_in(team_lead).get(export_url("csv"), {"range": "7d", "group": "channel"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="webcare-{SLUG}-2026-03-24-2026-03-30.csv"'
    )
    assert read_csv(response.content)[1][0] == "demodorp-x"
    assert SEEN_QUERIES[-1].group_by == "channel"


def test_a_team_lead_downloads_the_xlsx(logged_in, team_lead, sample_tables):
    response = logged_in(team_lead).get(
        export_url("xlsx"), {"range": "custom", "from": "2026-01-01", "to": "2026-01-31"}
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"] == (
        f'attachment; filename="webcare-{SLUG}-2026-01-01-2026-01-31.xlsx"'
    )
    assert Workbook(response.content).cells(1)["A2"][1] == "demodorp-x"


def test_an_export_is_audited_with_the_table_format_and_period(logged_in, team_lead, sample_tables):
    logged_in(team_lead).get(
        export_url("xlsx"),
        {"range": "custom", "from": "2026-01-01", "to": "2026-01-31", "team": "4,2"},
    )

    event = AuditEvent.objects.get(action="metrics.exported")
    assert event.actor == team_lead.user
    assert event.conversation_id is None
    assert event.data == {
        "table": SLUG,
        "format": "xlsx",
        "start": "2025-12-31T23:00:00+00:00",
        "end": "2026-01-31T23:00:00+00:00",
        "range": "custom",
        "group": "none",
        "channel_ids": [],
        "team_ids": [2, 4],
    }


def test_an_export_reads_few_queries(
    logged_in, team_lead, sample_tables, django_assert_max_num_queries
):
    client = logged_in(team_lead)
    with django_assert_max_num_queries(7):
        response = client.get(export_url("csv"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "forever"}, "Unknown period."),
        ({"range": "custom", "from": "2026-02-01", "to": "2026-01-01"}, "before the start"),
        ({"range": "custom", "from": "2020-01-01", "to": "2026-01-01"}, "400"),
        (
            {"range": "custom", "from": "0001-01-01", "to": "0001-01-02"},
            "between the years 2000 and 2999",
        ),
        ({"group": "citizen"}, "Unknown grouping."),
        ({"channel": "99999999999999999999"}, "numeric ids"),
    ],
)
def test_a_bad_period_is_a_400_with_the_message(
    logged_in, team_lead, sample_tables, params, message
):
    client = logged_in(team_lead)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(export_url("csv"), params)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="metrics.exported").exists()


def test_an_unknown_table_or_format_is_a_404(logged_in, team_lead, sample_tables):
    client = logged_in(team_lead)

    assert client.get(export_url("csv", slug="no-such-table")).status_code == 404
    assert client.get(export_url("pdf")).status_code == 404
    assert client.get(export_url("csv")).status_code == 200


def test_only_team_leads_may_export(logged_in, client, agent, outsider, sample_tables):
    assert logged_in(agent).get(export_url("csv")).status_code == 403
    assert logged_in(outsider).get(export_url("csv")).status_code == 403
    client.logout()
    response = client.get(export_url("csv"))
    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]
    assert not AuditEvent.objects.filter(action="metrics.exported").exists()


def test_an_export_is_a_get(logged_in, team_lead, sample_tables):
    assert logged_in(team_lead).post(export_url("csv")).status_code == 405


def test_every_registered_dashboard_table_exports(logged_in, team_lead, channel, agent):
    real = sorted(export.metrics_tables_load())
    if not real:
        pytest.skip("no dashboard tables registered yet (inbox/selectors/metrics.py)")
    client = logged_in(team_lead)
    failed = []
    for slug in real:
        for group in ("none", "channel", "team", "agent", "tag"):
            for file_format in export.FORMATS:
                try:
                    response = client.get(export_url(file_format, slug=slug), {"group": group})
                except Exception as error:  # name every table that fails, not only the first
                    failed.append((slug, group, file_format, repr(error)[:200]))
                    continue
                if response.status_code != 200 or not response.content:
                    failed.append((slug, group, file_format, response.status_code))
    assert not failed
