"""The load test's figures: percentiles per endpoint, ingest during the run, the verdict.

Pure functions over plain data: locust's per-endpoint response-time histograms (what
agents.py writes when the swarm stops) and the ingest counts the runner samples from the
database. Tested in tests/test_load_runner.py.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# The endpoint whose p95 the issue asks for: the whole inbox page, as loaded on arrival,
# after an action's redirect and with a conversation open.
INBOX_PAGE = "GET / (inbox page)"
# No citizen message stored for this long while the sandbox keeps writing means ingest
# stopped (beat asks for a poll every 10 s; the sandbox writes every second or so).
STALL_SECONDS = 30.0


def percentile(response_times: Mapping[int, int], fraction: float) -> int:
    """The smallest response time (ms) that `fraction` of the requests did not exceed
    (nearest rank). `response_times` is locust's histogram: {milliseconds: count}."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    total = sum(response_times.values())
    if total == 0:
        return 0
    rank = math.ceil(fraction * total)
    seen = 0
    for milliseconds in sorted(response_times):
        seen += response_times[milliseconds]
        if seen >= rank:
            return milliseconds
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True)
class EndpointFigures:
    method: str
    name: str
    requests: int
    failures: int
    p50_ms: int
    p95_ms: int
    p99_ms: int
    max_ms: int
    average_ms: float


def endpoint_figures(entry: Mapping[str, Any]) -> EndpointFigures:
    """Figures of one endpoint from an entry written by agents.py (JSON keys are strings)."""
    histogram = {int(float(key)): int(count) for key, count in entry["response_times"].items()}
    requests = int(entry["num_requests"])
    total_ms = float(entry["total_response_time"])
    return EndpointFigures(
        method=str(entry["method"]),
        name=str(entry["name"]),
        requests=requests,
        failures=int(entry["num_failures"]),
        p50_ms=percentile(histogram, 0.50),
        p95_ms=percentile(histogram, 0.95),
        p99_ms=percentile(histogram, 0.99),
        max_ms=round(float(entry.get("max_response_time") or 0)),
        average_ms=round(total_ms / requests, 1) if requests else 0.0,
    )


@dataclass(frozen=True)
class IngestFigures:
    """What the platforms' traffic and the agents' replies did meanwhile."""

    seconds: float
    citizen_messages_stored: int
    replies_created: int
    replies_sent: int
    replies_unsent: int
    # Failed in a conversation with live citizen messages: a real delivery problem.
    replies_failed: int = 0
    # Refused because the conversation is seeded history the sandbox never saw (expected).
    replies_refused_seeded: int = 0
    failed_reply_errors: Sequence[str] = ()
    # (seconds since the start, citizen messages stored so far) every few seconds.
    samples: Sequence[tuple[float, int]] = ()

    @property
    def messages_per_minute(self) -> float:
        return round(self.citizen_messages_stored * 60 / self.seconds, 1) if self.seconds else 0.0

    def longest_gap_seconds(self) -> float:
        """The longest time in which no citizen message was stored (from the samples)."""
        longest = 0.0
        last_change_at = 0.0
        last_count = 0
        for at, count in self.samples:
            if count > last_count:
                last_change_at, last_count = at, count
            longest = max(longest, at - last_change_at)
        return round(longest, 1)


@dataclass
class LoadReport:
    agents: int
    seconds: int
    endpoints: list[EndpointFigures]
    errors: list[dict[str, Any]]
    ingest: IngestFigures
    # Exceptions raised in the simulated agents' own code (a page that did not parse, …).
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    # Logging in and the first inbox page of every agent, measured apart (agents.py).
    warm_up: list[EndpointFigures] = field(default_factory=list)
    warm_up_errors: list[dict[str, Any]] = field(default_factory=list)
    warm_up_seconds: float | None = None
    agents_ready: int = 0
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(endpoint.requests for endpoint in self.endpoints)

    @property
    def failures(self) -> int:
        return sum(endpoint.failures for endpoint in [*self.endpoints, *self.warm_up])

    @property
    def warm_up_requests(self) -> int:
        return sum(endpoint.requests for endpoint in self.warm_up)

    @property
    def inbox_page(self) -> EndpointFigures | None:
        return next((e for e in self.endpoints if e.name == INBOX_PAGE), None)

    def problems(self) -> list[str]:
        """Why the run failed; empty when it passed."""
        problems = []
        if self.failures:
            total = self.requests + self.warm_up_requests
            problems.append(f"{self.failures} of {total} requests failed")
        if self.agents_ready < self.agents:
            problems.append(f"only {self.agents_ready} of {self.agents} agents got to work")
        if self.exceptions:
            count = sum(int(item.get("count", 1)) for item in self.exceptions)
            problems.append(f"{count} exceptions in the simulated agents")
        if self.inbox_page is None or self.inbox_page.requests == 0:
            problems.append("the inbox page was never loaded")
        if self.ingest.citizen_messages_stored == 0:
            problems.append("ingest stalled: no citizen message was stored during the run")
        elif self.ingest.longest_gap_seconds() > STALL_SECONDS:
            problems.append(
                f"ingest stalled: no citizen message stored for "
                f"{self.ingest.longest_gap_seconds():.0f} s"
            )
        if self.ingest.replies_unsent:
            problems.append(
                f"delivery stalled: {self.ingest.replies_unsent} replies still queued or "
                "sending after the run"
            )
        if self.ingest.replies_failed:
            problems.append(
                f"{self.ingest.replies_failed} replies in live conversations failed to send"
            )
        return problems

    def as_json(self) -> dict[str, Any]:
        inbox_page = self.inbox_page
        return {
            "agents": self.agents,
            "seconds": self.seconds,
            "requests": self.requests,
            "failures": self.failures,
            "inbox_page": asdict(inbox_page) if inbox_page else None,
            "endpoints": [asdict(endpoint) for endpoint in self.endpoints],
            "errors": self.errors,
            "agents_ready": self.agents_ready,
            "warm_up": {
                "seconds": self.warm_up_seconds,
                "endpoints": [asdict(endpoint) for endpoint in self.warm_up],
                "errors": self.warm_up_errors,
            },
            "exceptions": self.exceptions,
            "ingest": {
                **asdict(self.ingest),
                "messages_per_minute": self.ingest.messages_per_minute,
                "longest_gap_seconds": self.ingest.longest_gap_seconds(),
            },
            "machine": self.machine,
            "settings": self.settings,
            "problems": self.problems(),
            "passed": not self.problems(),
        }


def build_report(
    *,
    agents: int,
    seconds: int,
    swarm: Mapping[str, Any],
    ingest: IngestFigures,
    machine: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> LoadReport:
    """`swarm` is the JSON agents.py writes: {"entries": [...], "errors": [...], …}."""
    warm_up = swarm.get("warm_up") or {}
    return LoadReport(
        agents=agents,
        seconds=seconds,
        endpoints=_sorted_figures(swarm["entries"]),
        errors=list(swarm.get("errors", [])),
        warm_up=_sorted_figures(warm_up.get("entries") or []),
        warm_up_errors=list(warm_up.get("errors") or []),
        warm_up_seconds=warm_up.get("seconds"),
        agents_ready=int(swarm.get("agents_ready", 0)),
        exceptions=list(swarm.get("exceptions", [])),
        ingest=ingest,
        machine=machine or {},
        settings=settings or {},
    )


def _sorted_figures(entries: Sequence[Mapping[str, Any]]) -> list[EndpointFigures]:
    """The inbox page first, then the busiest endpoints."""
    return sorted(
        (endpoint_figures(entry) for entry in entries),
        key=lambda e: (e.name != INBOX_PAGE, -e.requests, e.name),
    )


def _table(endpoints: Sequence[EndpointFigures], name_width: int) -> list[str]:
    header = (
        f"{'Endpoint':<{name_width}}{'requests':>9}{'failed':>8}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
    )
    lines = [header, "-" * len(header)]
    for endpoint in endpoints:
        marker = " <=" if endpoint.name == INBOX_PAGE else ""
        lines.append(
            f"{endpoint.name:<{name_width}}{endpoint.requests:>9}{endpoint.failures:>8}"
            f"{endpoint.p50_ms:>8}{endpoint.p95_ms:>8}{endpoint.p99_ms:>8}{endpoint.max_ms:>8}"
            f"{marker}"
        )
    requests = sum(endpoint.requests for endpoint in endpoints)
    failures = sum(endpoint.failures for endpoint in endpoints)
    lines += ["-" * len(header), f"{'Total':<{name_width}}{requests:>9}{failures:>8}"]
    return lines


def format_report(report: LoadReport) -> str:
    name_width = max([len(e.name) for e in [*report.endpoints, *report.warm_up]] + [5]) + 2
    lines = [
        f"Load test: {report.agents} agents working the inbox for {report.seconds} s "
        f"({report.requests / report.seconds:.1f} requests/s)",
        "",
        *_table(report.endpoints, name_width),
    ]
    if report.warm_up:
        lines += [
            "",
            f"Warm-up, not in the figures above: {report.agents_ready} of {report.agents} "
            f"agents logged in with their inbox loaded in {report.warm_up_seconds} s",
            *_table(report.warm_up, name_width),
        ]
    inbox_page = report.inbox_page
    lines.append("")
    if inbox_page is not None:
        lines.append(
            f"Inbox page p95: {inbox_page.p95_ms} ms (p50 {inbox_page.p50_ms} ms, "
            f"p99 {inbox_page.p99_ms} ms, {inbox_page.requests} loads)"
        )
    ingest = report.ingest
    lines.append(
        f"Ingest meanwhile: {ingest.citizen_messages_stored} citizen messages stored "
        f"({ingest.messages_per_minute}/min, longest pause {ingest.longest_gap_seconds():.0f} s); "
        f"{ingest.replies_created} replies written: {ingest.replies_sent} sent, "
        f"{ingest.replies_unsent} still queued, {ingest.replies_failed} failed, "
        f"{ingest.replies_refused_seeded} refused as answers to seeded history"
    )
    if report.machine:
        lines.append(
            "Machine: {cores} cores, {memory_gb} GB memory, {processor}, Python {python}; "
            "load average before {load_average}, after {after}".format(
                after=report.machine.get("load_average_after", "?"), **report.machine
            )
        )
    if report.settings:
        lines.append(
            "Set-up: " + ", ".join(f"{key} {value}" for key, value in report.settings.items())
        )
    for error in [*report.warm_up_errors, *report.errors][:10]:
        lines.append(
            f"  error x{error.get('occurrences')}: {error.get('method')} {error.get('name')}: "
            f"{error.get('error')}"
        )
    for reason in ingest.failed_reply_errors:
        lines.append(f"  reply failed: {reason}")
    for item in report.exceptions[:5]:
        lines.append(f"  exception x{item.get('count')}: {item.get('msg')}")
    problems = report.problems()
    lines.append("")
    lines.append("FAILED: " + "; ".join(problems) if problems else "PASSED: no failed requests")
    return "\n".join(lines)


def machine_description() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    processor = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        # Other work on the machine inflates every figure: the load before the run says how
        # much there was (1, 5 and 15 minute averages).
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "cores": os.cpu_count() or 1,
        "memory_gb": round(pages * page_size / 2**30, 1),
        "processor": processor,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
