"""Fixtures of the sandbox's own tests: a fresh server per test (faults, chaos, bursts and
rate limits stay in the test that set them), and a plain HTTP session to talk to it.

The suite-wide `sandbox` fixture of tests/conftest.py shares one server for speed; a test
module imports these to shadow it: `from tests.channels.sandbox_fixtures import http, sandbox`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from channels.sandbox.server import SandboxServer


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(seed=1).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
