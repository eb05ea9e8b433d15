"""Figures a suite prints as its summary (the chaos run, the hostile-input corpus,
schemathesis): on the terminal even under pytest's output capture, and as JSON in
test-artifacts/, so that CI's log and its artifacts both hold them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def report_figures(
    config: pytest.Config, name: str, lines: list[str], data: dict[str, Any]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)
