"""What a benchmark section reports: figures, each beside the baseline measured in the same
run, and the problems that make the run fail (a lost message, a double assignment).

Speed is never a failure here: a shared machine's figures follow its other work. A figure
states its target and whether this run met it; the exit status only says whether the
system did its job correctly while being measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure, with the baseline it is compared against.

    `ratio` is value / baseline. Whether a higher ratio is better depends on the figure (a
    rate against a rate, or a time against a time): `target` says it in words and `met`
    holds this run's verdict (None when the figure has no target).
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    queries: int | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return data


@dataclass
class SectionResult:
    key: str
    title: str
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)
    # Correctness failures: any entry makes `python -m bench` exit 1.
    problems: list[str] = field(default_factory=list)
    # Everything else worth keeping in the JSON (sample counts, settings, plans' paths).
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "seconds": round(self.seconds, 1),
            "figures": [figure.as_json() for figure in self.figures],
            "problems": list(self.problems),
            "details": self.details,
        }


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.95 for p95) of unsorted samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    return {
        name: percentile(samples, q) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }


def format_number(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _verdict(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: ""}[met]


def markdown_table(sections: Iterable[SectionResult]) -> str:
    rows = [
        "| Measure | Figure | Baseline (same run) | Ratio | Target | Met | Queries | Note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for section in sections:
        for figure in section.figures:
            baseline = (
                f"{format_number(figure.baseline)} {figure.unit} ({figure.baseline_name})"
                if figure.baseline is not None
                else "–"
            )
            ratio = figure.ratio
            rows.append(
                "| "
                + " | ".join(
                    [
                        f"{section.title}: {figure.name}",
                        f"{format_number(figure.value)} {figure.unit}",
                        baseline,
                        "–" if ratio is None else f"{ratio:.2f}",
                        figure.target or "–",
                        _verdict(figure.met),
                        "–" if figure.queries is None else str(figure.queries),
                        figure.note.replace("|", "/") or "–",
                    ]
                )
                + " |"
            )
    return "\n".join(rows)
