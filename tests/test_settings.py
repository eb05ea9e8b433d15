"""Production refuses unsafe configuration; the process fails before serving anything."""

from __future__ import annotations

import os
import subprocess
import sys


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    clean.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = start_django(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_bad_boolean_is_named_in_the_error():
    result = start_django(DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = start_django(DEBUG="0", SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="webcare.settings")
    assert result.returncode == 0, result.stderr
