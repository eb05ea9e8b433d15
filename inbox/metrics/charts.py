"""The dashboard's charts as server-side SVG, and the formatting of table cells.

No chart library: each chart is a few rectangles, lines and labels built with _svg (format_html
that keeps numbers),
so every text is escaped. The CSP allows no style attributes, so colours come from classes
styled in static/css/dashboard.css with the --utrecht tokens; series also differ in pattern,
dash and marker shape, and carry direct labels, so colour is never the only carrier. Every
chart is role="img" with a <title> and <desc>, and the page shows its table right behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.utils.formats import number_format
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from inbox.metrics.tables import MetricsTable
from inbox.templatetags.webcare_format import duration_short

WIDTH = 720
HEIGHT = 280
MARGIN_LEFT = 72
MARGIN_RIGHT = 16
# The legend is a row above the plot, so long (translated) names never run off the side.
MARGIN_TOP = 44
MARGIN_BOTTOM = 48
LEGEND_Y = 16


def _svg(template: str, *args: Any, **kwargs: Any) -> SafeString:
    """format_html that keeps numbers numbers (so "{x:.1f}" works); everything else escaped."""

    def clean(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        return conditional_escape(value)

    return mark_safe(  # noqa: S308 (every argument escaped above)
        template.format(*map(clean, args), **{key: clean(v) for key, v in kwargs.items()})
    )


# --- cells --------------------------------------------------------------------------------


def format_value(value: Any, kind: str) -> str:
    """A cell as shown on the page (localised; the export keeps raw values)."""
    if value is None or value == "":
        return "—"
    if kind == "seconds":
        # A figure, not a running clock: 838 s is "14 min", as the export's 14.0 minutes.
        return duration_short(value if value < 60 else round(value / 60) * 60)
    if kind == "percent":
        return f"{number_format(value * 100, decimal_pos=1)} %"
    if kind == "int":
        return number_format(value, force_grouping=True)
    if kind == "datetime" and isinstance(value, datetime):
        return date_filter(localtime(value), "j M Y H:i")
    if kind == "date" and isinstance(value, date):
        return date_filter(value, "D j M Y")
    return str(value)


@dataclass(frozen=True)
class DisplayTable:
    """A MetricsTable with its cells formatted, for the template."""

    table: MetricsTable
    header: list[str]
    kinds: list[str]
    rows: list[list[str]]
    total: list[str] | None


def display_table(table: MetricsTable) -> DisplayTable:
    def cells(row: dict[str, Any]) -> list[str]:
        return [format_value(row.get(column.key), column.kind) for column in table.columns]

    return DisplayTable(
        table=table,
        header=[str(column.label) for column in table.columns],
        kinds=[column.kind for column in table.columns],
        rows=[cells(row) for row in table.rows],
        total=cells(table.total) if table.total else None,
    )


# --- scales -------------------------------------------------------------------------------


# Tick steps: counts in 1-2-5 steps, durations in round clock steps (seconds).
DURATION_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


def axis_ticks(value: float, *, seconds: bool = False) -> list[float]:
    """Round, evenly spaced ticks from 0 to at or above value, at most five steps."""
    if seconds:
        step: float = next((s for s in DURATION_STEPS if s * 5 >= value), DURATION_STEPS[-1])
        while step * 5 < value:
            step *= 2
    else:
        step = 1
        while step * 5 < value:
            for factor in (2, 2.5, 2):
                step *= factor
                if step * 5 >= value:
                    break
        step = max(1, round(step))
    top = max(step, step * -(-value // step))
    return [step * index for index in range(int(top // step) + 1)]


def nice_maximum(value: float) -> float:
    return axis_ticks(value)[-1]


def _frame(chart_id: str, title: str, description: str, body: SafeString) -> SafeString:
    return _svg(
        '<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" '
        'aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=WIDTH,
        h=HEIGHT,
        title=title,
        desc=description,
        body=body,
    )


def _y_axis(ticks: list[float], formatter: Any) -> SafeString:
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = ticks[-1]
    parts = []
    for value in ticks:
        y = MARGIN_TOP + plot_height - plot_height * value / top
        parts.append(
            _svg(
                '<line class="chart-grid" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="chart-axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{label}</text>',
                x1=MARGIN_LEFT,
                x2=WIDTH - MARGIN_RIGHT,
                y=y,
                tx=MARGIN_LEFT - 6,
                ty=y + 4,
                label=formatter(value),
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 (built from _svg parts)


def _x_labels(labels: Sequence[str], centres: Sequence[float]) -> SafeString:
    # Thin out the labels so they never overlap: at most about twelve.
    every = max(1, -(-len(labels) // 12))
    parts = []
    for index, (label, centre) in enumerate(zip(labels, centres, strict=True)):
        if index % every:
            continue
        # A long label ("Minder dan 15 minuten") goes on two lines under its bar.
        words = label.split(" ")
        half = (len(words) + 1) // 2
        lines = [" ".join(words[:half]), " ".join(words[half:])] if len(label) > 12 else [label]
        parts.append(
            _svg(
                '<text class="chart-axis" x="{x:.1f}" y="{y}" text-anchor="middle">{spans}</text>',
                x=centre,
                y=HEIGHT - MARGIN_BOTTOM + 18,
                spans=mark_safe(  # noqa: S308 (built from _svg parts)
                    "".join(
                        _svg(
                            '<tspan x="{x:.1f}" dy="{dy}">{line}</tspan>',
                            x=centre,
                            dy=0 if number == 0 else 14,
                            line=line,
                        )
                        for number, line in enumerate(lines)
                        if line
                    )
                ),
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 (built from _svg parts)


def _legend(chart_id: str, names: Sequence[str]) -> SafeString:
    """The bar series' names beside the plot, each with its pattern."""
    parts = []
    for index, name in enumerate(names):
        y = LEGEND_Y + 4
        x = MARGIN_LEFT + index * 220
        swatch = _svg(
            '<rect class="chart-bar series-{n}" x="{x}" y="{y}" width="16" height="12"'
            ' fill="url(#{id}-pattern-{n})"/>',
            n=index + 1,
            x=x,
            y=y - 11,
            id=chart_id,
        )
        parts.append(
            _svg(
                '{swatch}<text class="chart-legend" x="{x}" y="{y}">{name}</text>',
                swatch=swatch,
                x=x + 28,
                y=y,
                name=name,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 (built from _svg parts)


def _patterns(chart_id: str) -> SafeString:
    """Series 1 solid, series 2 hatched: the bars differ without colour."""
    return _svg(
        "<defs>"
        '<pattern id="{id}-pattern-1" width="8" height="8" patternUnits="userSpaceOnUse">'
        '<rect class="series-1 chart-pattern-fill" width="8" height="8"/></pattern>'
        '<pattern id="{id}-pattern-2" width="8" height="8" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)">'
        '<rect class="series-2 chart-pattern-back" width="8" height="8"/>'
        '<rect class="series-2 chart-pattern-fill" width="4" height="8"/></pattern>'
        "</defs>",
        id=chart_id,
    )


# --- charts -------------------------------------------------------------------------------


def bar_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> SafeString:
    """Grouped bars, one group per category, each bar labelled with its value."""
    ticks = axis_ticks(max((v or 0 for _name, values in series for v in values), default=0))
    maximum = ticks[-1]
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / max(1, len(categories))
    bar = slot * 0.8 / max(1, len(series))
    parts = [_patterns(chart_id), _y_axis(ticks, lambda v: number_format(round(v)))]
    for s_index, (_name, values) in enumerate(series):
        for c_index, value in enumerate(values):
            height = plot_height * (value or 0) / maximum
            x = MARGIN_LEFT + slot * c_index + slot * 0.1 + bar * s_index
            y = MARGIN_TOP + plot_height - height
            parts.append(
                _svg(
                    '<rect class="chart-bar series-{n}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}"'
                    ' height="{h:.1f}" fill="url(#{id}-pattern-{n})"/>'
                    '<text class="chart-value" x="{tx:.1f}" y="{ty:.1f}" text-anchor="middle">'
                    "{label}</text>",
                    n=s_index + 1,
                    x=x,
                    y=y,
                    w=bar - 2,
                    h=height,
                    id=chart_id,
                    tx=x + (bar - 2) / 2,
                    ty=y - 4,
                    label=number_format(value or 0),
                )
            )
    centres = [MARGIN_LEFT + slot * (index + 0.5) for index in range(len(categories))]
    parts.append(_x_labels(categories, centres))
    parts.append(_legend(chart_id, [name for name, _values in series]))
    return _frame(chart_id, title, description, mark_safe("".join(parts)))  # noqa: S308


MARKERS = ("circle", "square", "triangle")
DASHES = ("", "6 4", "2 3")


def _marker(shape: str, x: float, y: float, series: int) -> SafeString:
    if shape == "square":
        return _svg(
            '<rect class="chart-marker series-{n}" x="{x:.1f}" y="{y:.1f}" width="7" height="7"/>',
            n=series,
            x=x - 3.5,
            y=y - 3.5,
        )
    if shape == "triangle":
        return _svg(
            '<path class="chart-marker series-{n}" d="M{x:.1f} {y1:.1f} L{x1:.1f} {y2:.1f}'
            ' L{x2:.1f} {y2:.1f} Z"/>',
            n=series,
            x=x,
            y1=y - 4.5,
            x1=x - 4.5,
            x2=x + 4.5,
            y2=y + 3.5,
        )
    return _svg(
        '<circle class="chart-marker series-{n}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>',
        n=series,
        x=x,
        y=y,
    )


def line_chart(
    chart_id: str,
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    seconds: bool = False,
) -> SafeString:
    """Lines over time; each series its own dash and marker shape, named in the legend."""
    formatter = duration_short if seconds else (lambda v: number_format(round(v)))
    values = [v for _name, points in series for v in points if v is not None]
    ticks = axis_ticks(max(values, default=0), seconds=seconds)
    maximum = ticks[-1]
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_width / max(1, len(labels) - 1) if len(labels) > 1 else 0
    xs = [
        MARGIN_LEFT + step * index if len(labels) > 1 else MARGIN_LEFT + plot_width / 2
        for index in range(len(labels))
    ]
    parts = [_y_axis(ticks, formatter)]
    show_markers = len(labels) <= 45
    for s_index, (_name, points) in enumerate(series):
        n = s_index + 1
        coordinates = [
            (x, MARGIN_TOP + plot_height - plot_height * value / maximum)
            for x, value in zip(xs, points, strict=True)
            if value is not None
        ]
        if len(coordinates) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
            dash = DASHES[s_index % len(DASHES)]
            parts.append(
                _svg(
                    '<polyline class="chart-line series-{n}" points="{p}"{dash}/>',
                    n=n,
                    p=path,
                    dash=_svg(' stroke-dasharray="{}"', dash) if dash else "",
                )
            )
        if show_markers or len(coordinates) == 1:
            shape = MARKERS[s_index % len(MARKERS)]
            parts.extend(_marker(shape, x, y, n) for x, y in coordinates)
    parts.append(_x_labels(labels, xs))
    parts.append(_legend_lines(series))
    return _frame(chart_id, title, description, mark_safe("".join(parts)))  # noqa: S308


def _legend_lines(series: Sequence[tuple[str, Sequence[float | None]]]) -> SafeString:
    parts = []
    for index, (name, _points) in enumerate(series):
        n = index + 1
        y = LEGEND_Y + 4
        x = MARGIN_LEFT + index * 220
        dash = DASHES[index % len(DASHES)]
        parts.append(
            _svg(
                '<line class="chart-line series-{n}" x1="{x}" x2="{x2}" y1="{y}" y2="{y}"{dash}/>'
                '{marker}<text class="chart-legend" x="{tx}" y="{ty}">{name}</text>',
                n=n,
                x=x,
                x2=x + 22,
                y=y - 4,
                dash=_svg(' stroke-dasharray="{}"', dash) if dash else "",
                marker=_marker(MARKERS[index % len(MARKERS)], x + 11, y - 4, n),
                tx=x + 28,
                ty=y,
                name=name,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 (built from _svg parts)


HEAT_LEVELS = 6


def heatmap(
    chart_id: str,
    *,
    title: str,
    description: str,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    grid: Sequence[Sequence[int]],
) -> SafeString:
    """A grid of cells shaded in six steps, each cell also showing its number."""
    maximum = max((value for row in grid for value in row), default=0)
    left, top = 96, 24
    cell_w = (WIDTH - left - 8) / max(1, len(column_labels))
    cell_h = (HEIGHT - top - 16) / max(1, len(row_labels))
    parts = []
    for index, label in enumerate(column_labels):
        if index % 3 == 0:
            parts.append(
                _svg(
                    '<text class="chart-axis" x="{x:.1f}" y="{y}" text-anchor="middle">{l}</text>',
                    x=left + cell_w * (index + 0.5),
                    y=top - 8,
                    l=label,
                )
            )
    for r_index, (label, row) in enumerate(zip(row_labels, grid, strict=True)):
        y = top + cell_h * r_index
        parts.append(
            _svg(
                '<text class="chart-axis" x="{x}" y="{y:.1f}" text-anchor="end">{l}</text>',
                x=left - 6,
                y=y + cell_h / 2 + 4,
                l=label,
            )
        )
        for c_index, value in enumerate(row):
            level = 0 if not maximum or not value else 1 + (HEAT_LEVELS - 2) * value // maximum
            x = left + cell_w * c_index
            parts.append(
                _svg(
                    '<rect class="heat heat-{level}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}"'
                    ' height="{h:.1f}"/><text class="heat-label heat-label-{level}" x="{tx:.1f}"'
                    ' y="{ty:.1f}" text-anchor="middle">{value}</text>',
                    level=level,
                    x=x,
                    y=y,
                    w=cell_w - 1,
                    h=cell_h - 1,
                    tx=x + cell_w / 2,
                    ty=y + cell_h / 2 + 4,
                    value=number_format(value) if value else "",
                )
            )
    return _frame(chart_id, title, description, mark_safe("".join(parts)))  # noqa: S308


def chart_description(kind: str, **numbers: Any) -> str:
    """A one-sentence summary for the chart's <desc>."""
    if kind == "distribution":
        return _("%(count)s first responses in the period, by how long they took.") % numbers
    if kind == "trend":
        return _("Per day: messages in, replies out and the median first response.") % numbers
    if kind == "heatmap":
        return _("Busiest: %(busiest)s. The table below gives every number.") % numbers
    if kind == "backlog":
        return _("From %(first)s to %(last)s citizens waiting.") % numbers
    return ""
