"""The benchmark suite's own logic (bench/suite.py, bench/results.py): its arguments, the
figures' arithmetic and table, and how it writes docs/performance.md."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.results import Figure, SectionResult, markdown_table, percentile, percentiles
from bench.suite import (
    DOCS_BEGIN,
    DOCS_END,
    SECTIONS,
    BenchContext,
    SetupFailed,
    parse_arguments,
    prepare_database,
    render_markdown,
    update_docs,
)
from webcare.devservices import StopRequest


def test_defaults_run_every_section_at_full_scale() -> None:
    arguments = parse_arguments([])
    assert arguments.scale == 1.0
    assert arguments.only == list(SECTIONS)
    assert arguments.only[0] == "dataset"
    assert not arguments.update_docs


def test_only_takes_known_sections_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_arguments(["--only", "pages, latency"]).only == ["pages", "latency"]
    with pytest.raises(SystemExit):
        parse_arguments(["--only", "pages,speed"])
    assert "unknown section(s) speed" in capsys.readouterr().err


@pytest.mark.parametrize("raw", ["0", "-1", "nan"])
def test_scale_must_be_positive(raw: str) -> None:
    with pytest.raises(SystemExit):
        parse_arguments(["--scale", raw])


def test_reuse_and_template_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse_arguments(["--reuse", "--from-template", "kept"])


def test_nearest_rank_percentiles() -> None:
    samples = [float(value) for value in range(100, 0, -1)]  # unsorted on purpose
    assert percentile(samples, 0.5) == 50
    assert percentile(samples, 0.95) == 95
    assert percentile(samples, 0.99) == 99
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_ratio_is_value_over_baseline_and_absent_without_one() -> None:
    assert Figure("rate", 300, "messages/s", baseline=1200).ratio == 0.25
    assert Figure("rate", 300, "messages/s").ratio is None
    assert Figure("rate", 300, "messages/s", baseline=0).ratio is None
    assert Figure("p95", 40, "ms", baseline=8).as_json()["ratio"] == 5.0


def test_table_shows_baseline_ratio_and_a_missed_target() -> None:
    section = SectionResult("ingest", "Ingest")
    section.add(
        Figure(
            "stored per second",
            812.4,
            "messages/s",
            baseline=2031.0,
            baseline_name="INSERT … ON CONFLICT",
            target="ratio ≥ 0.5",
            met=False,
            queries=3,
            note="20,000 each | way",
        )
    )
    table = markdown_table([section])
    row = table.splitlines()[2]
    assert row.startswith("| Ingest: stored per second | 812 messages/s |")
    assert "2,031 messages/s (INSERT … ON CONFLICT)" in row
    assert "| 0.40 |" in row
    assert row.endswith("| **no** | 3 | 20,000 each / way |")


def test_docs_are_rewritten_between_the_markers_only(tmp_path: Path) -> None:
    path = tmp_path / "performance.md"
    path.write_text(f"# Title\n\nbefore\n\n{DOCS_BEGIN}\n\nold figures\n\n{DOCS_END}\n\nafter\n")
    update_docs("new figures\n", path)
    text = path.read_text()
    assert "old figures" not in text
    assert text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"new figures\n\n{DOCS_END}\n\nafter\n")
    update_docs("newer figures\n", path)
    assert path.read_text().count("figures") == 1


def test_docs_without_markers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "performance.md"
    path.write_text("# Title\n")
    with pytest.raises(SetupFailed, match="lacks the markers"):
        update_docs("figures\n", path)
    assert path.read_text() == "# Title\n"


def test_report_names_machine_dataset_and_problems() -> None:
    section = SectionResult("assignment", "Assignment", problems=["2 double assignments"])
    section.add(Figure("assigned per second", 90.0, "conversations/s", baseline=300.0))
    report = {
        "date": "2026-11-29",
        "seconds": 900.0,
        "machine": {
            "cores": 2,
            "processor": "Test CPU",
            "memory_gb": 23.4,
            "load_average": [0.5, 0.4, 0.3],
            "postgresql": "18.1",
            "redis": "7.0.15",
            "python": "3.11.7",
            "system": "Linux 6",
        },
        "arguments": {"scale": 1.0, "seed": 2026},
        "dataset": {"messages": 1_000_000, "conversations": 400_000, "notes": 0},
    }
    markdown = render_markdown(report, [section])
    assert "15.0 minutes" in markdown
    assert "2 cores (Test CPU), 23.4 GB memory" in markdown
    assert "1,000,000 messages, 400,000 conversations." in markdown
    assert "| 0.30 |" in markdown
    assert "- assignment: 2 double assignments" in markdown


def test_the_configured_database_is_never_the_benchmarks() -> None:
    arguments = argparse.Namespace(database="webcare", reuse=False, from_template=None)
    context = BenchContext(
        arguments=arguments,
        configured_database_url="postgres://u@127.0.0.1:5432/webcare",
        database_url="postgres://u@127.0.0.1:5432/webcare",
        redis_url="redis://127.0.0.1:6379/0",
        workdir=Path("/nonexistent"),
        stop=StopRequest(),
        namespace="test",
    )
    with pytest.raises(SetupFailed, match="needs one of its own"):
        prepare_database(context)
    arguments.reuse = True  # not even to read it
    with pytest.raises(SetupFailed, match="needs one of its own"):
        prepare_database(context)


def test_children_run_with_production_settings_on_the_benchmarks_own_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench.environment import production_environment

    monkeypatch.setenv("SECRET_KEY_FILE", "/run/secrets/key")
    env = production_environment(
        database_url="postgres://u@h/webcare_bench",
        redis_url="redis://h/0",
        namespace="webcare-bench-1",
        settings_module="bench.settings",
        ALLOWED_HOSTS="testserver",
    )
    assert "SECRET_KEY_FILE" not in env  # NAME and NAME_FILE together are refused
    assert (env["DEBUG"], env["WEBCARE_ENV"]) == ("0", "production")
    assert env["CELERY_QUEUE"] == env["CACHE_KEY_PREFIX"] == "webcare-bench-1"
    assert env["ALLOWED_HOSTS"] == "testserver"  # a caller's value wins
    assert len(env["SECRET_KEY"]) > 50
