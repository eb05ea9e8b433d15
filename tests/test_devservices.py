"""The development services: real embedded PostgreSQL and Redis, real child processes.

Nothing here uses the `db` fixture: these tests start their own servers in a temporary
`var/` and need no Django database.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import dj_database_url
import psutil
import psycopg2
import pytest
import redis

from webcare import devservices
from webcare.devservices import Supervisor, ensure_services

BASE_DIR = Path(devservices.__file__).resolve().parent.parent
PYTHON = sys.executable


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(0.05)


def is_running(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by init, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def connect_as_django_would(database_url: str) -> psycopg2.extensions.connection:
    """Connect with the settings dict that dj_database_url makes, mapped as Django does."""
    config = dj_database_url.parse(database_url)
    settings = {"user": config["USER"], "host": config["HOST"], "port": config["PORT"]}
    return psycopg2.connect(
        dbname=config["NAME"],
        **config.get("OPTIONS", {}),
        **{keyword: value for keyword, value in settings.items() if value},
    )


@pytest.fixture
def env_without_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """os.environ without DATABASE_URL/REDIS_URL, restored afterwards.

    Setting before deleting makes monkeypatch remember the original state, so whatever
    ensure_services writes into os.environ is undone too.
    """
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    yield


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """A fresh `var/`, outside pytest's own temporary folder.

    As root, the embedded PostgreSQL runs as another user, which must be able to reach its
    data directory. Every pytest session that starts as root makes /tmp/pytest-of-root
    private again (0700), so a concurrent pytest would lock our server's pg_ctl out of it.
    The capitals check that nothing on the way lower-cases the socket path.
    """
    path = Path(tempfile.mkdtemp(prefix="webcare-devservices-")) / "VarDir"
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- Embedded PostgreSQL and Redis -------------------------------------------------------


@pytest.mark.usefixtures("env_without_services")
def test_embedded_services_start_work_stop_and_restart(var_dir: Path) -> None:
    services = ensure_services(var_dir)
    try:
        assert os.environ["DATABASE_URL"] == services.database_url
        assert os.environ["REDIS_URL"] == services.redis_url
        assert services.database_url.startswith("postgres://postgres@/webcare?host=")
        assert str(var_dir / "postgres") in services.database_url
        assert len(services.descriptions) == 2

        connection = connect_as_django_would(services.database_url)
        with connection, connection.cursor() as cursor:  # commits on leaving
            cursor.execute("SELECT current_database(), 1")
            assert cursor.fetchone() == ("webcare", 1)
            cursor.execute("CREATE TABLE survives_restart (id int)")
        connection.close()

        assert redis.Redis.from_url(services.redis_url).ping() is True
    finally:
        services.stop()

    with pytest.raises(psycopg2.OperationalError):
        connect_as_django_would(services.database_url).close()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(services.redis_url).ping()
    assert not (var_dir / "postgres" / "postmaster.pid").exists()

    # A second start reuses the data directory: fast, and the data is still there.
    started = time.monotonic()
    services = ensure_services(var_dir)
    try:
        assert time.monotonic() - started < 10
        connection = connect_as_django_would(services.database_url)
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM survives_restart")
            assert cursor.fetchone() == (0,)
        connection.close()
    finally:
        services.stop()


def test_django_connects_through_the_embedded_url(var_dir: Path) -> None:
    env: dict[str, str] = {}
    services = ensure_services(var_dir, env)
    try:
        script = textwrap.dedent(
            """
            import os, dj_database_url, django
            from django.conf import settings
            settings.configure(DATABASES={"default": dj_database_url.parse(os.environ["URL"])})
            django.setup()
            from django.db import connection
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                print(cursor.fetchone()[0])
            """
        )
        result = subprocess.run(  # noqa: S603 (our own script)
            [PYTHON, "-c", script],
            env={**child_env(), "URL": env["DATABASE_URL"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "webcare"
    finally:
        services.stop()


def test_nothing_is_started_when_the_urls_are_set(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgres://u@db.example/x", "REDIS_URL": "redis://cache.example/0"}
    services = ensure_services(tmp_path / "var", env)
    services.stop()

    assert services.database_url == "postgres://u@db.example/x"
    assert services.redis_url == "redis://cache.example/0"
    assert services.descriptions == []
    assert not (tmp_path / "var" / "postgres").exists()
    assert not (tmp_path / "var" / "redis").exists()


# --- `python -m webcare.devservices exec` -----------------------------------------------


def run_devservices(var_dir: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (our own module)
        [PYTHON, "-m", "webcare.devservices", "--var-dir", str(var_dir), *args],
        cwd=BASE_DIR,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def test_exec_runs_the_command_with_services_and_returns_its_exit_code(var_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, psycopg2, redis, dj_database_url
        config = dj_database_url.parse(os.environ["DATABASE_URL"])
        psycopg2.connect(dbname=config["NAME"], user=config["USER"], **config["OPTIONS"]).close()
        assert redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
        print("child saw", os.environ["REDIS_URL"])
        sys.exit(7)
        """
    )
    process = run_devservices(var_dir, "exec", "--", PYTHON, "-c", script)
    output, _ = process.communicate(timeout=60)

    assert process.returncode == 7, output
    assert "child saw redis://127.0.0.1:" in output
    assert not (var_dir / "postgres" / "postmaster.pid").exists()


def test_exec_passes_sigterm_to_the_command_and_stops_services(var_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import signal, sys, time
        def stop(signum, frame):
            print("child got", signal.Signals(signum).name, flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    process = run_devservices(var_dir, "exec", "--", PYTHON, "-u", "-c", script)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.strip() == "ready":
            break
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)

    assert "child got SIGTERM" in rest, "".join(lines) + rest
    assert process.returncode == 3
    assert not (var_dir / "postgres" / "postmaster.pid").exists()


# --- Supervisor --------------------------------------------------------------------------


def python_child(code: str) -> list[str]:
    return [PYTHON, "-u", "-c", textwrap.dedent(code)]


class Output(io.StringIO):
    """What the supervisor wrote, safe to read while its reader threads still write."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def text(self) -> str:
        with self.lock:
            return self.getvalue()


LOOP = """
    import time
    for number in range(600):
        print("{name} says", number)
        time.sleep(0.1)
"""


def test_supervisor_prefixes_each_line_with_the_padded_name() -> None:
    output = Output()
    supervisor = Supervisor(
        [
            ("web", python_child(LOOP.format(name="web"))),
            ("sandbox", python_child(LOOP.format(name="sandbox"))),
        ],
        output=output,
        colour=False,
    )
    supervisor.start()
    try:
        wait_for(lambda: "web says 2" in output.text() and "sandbox says 2" in output.text())
        assert supervisor.first_exit() is None
    finally:
        supervisor.stop()

    lines = output.text().splitlines()
    assert "web    | web says 0" in lines
    assert "sandbox| sandbox says 0" in lines
    assert all(line.startswith(("web    | ", "sandbox| ")) for line in lines)


def test_supervisor_colours_the_names_when_asked() -> None:
    output = Output()
    supervisor = Supervisor([("beat", python_child("print('tick')"))], output=output, colour=True)
    supervisor.start()
    supervisor.wait_for_exit(timeout=15)
    supervisor.stop()

    assert "\033[36mbeat| \033[0mtick" in output.text()


def test_supervisor_stop_ends_the_children_and_their_children() -> None:
    spawner = """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("grandchild", grandchild.pid)
        time.sleep(600)
    """
    output = Output()
    supervisor = Supervisor(
        [("worker", python_child(spawner)), ("beat", python_child(LOOP.format(name="beat")))],
        output=output,
        colour=False,
    )
    supervisor.start()
    try:
        wait_for(lambda: "grandchild " in output.text())
        grandchild = int(output.text().split("grandchild ")[1].split()[0])
        children = list(supervisor.pids().values())
        assert all(is_running(pid) for pid in [*children, grandchild])
    finally:
        started = time.monotonic()
        supervisor.stop()

    assert time.monotonic() - started < 5  # they all obey SIGTERM: no grace period used
    wait_for(lambda: not any(is_running(pid) for pid in [*children, grandchild]), timeout=5)


def test_supervisor_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM")
        time.sleep(600)
    """
    output = Output()
    supervisor = Supervisor([("worker", python_child(stubborn))], output=output, colour=False)
    supervisor.start()
    wait_for(lambda: "ignoring SIGTERM" in output.text())
    pid = supervisor.pids()["worker"]

    supervisor.stop(timeout=0.5)

    assert not is_running(pid)
    assert "worker| did not stop in time; killing it" in output.text()


def test_supervisor_reports_the_child_that_exits() -> None:
    quitter = """
        import sys, time
        time.sleep(0.3)
        print("giving up")
        sys.exit(3)
    """
    output = Output()
    supervisor = Supervisor(
        [("web", python_child(LOOP.format(name="web"))), ("worker", python_child(quitter))],
        output=output,
        colour=False,
    )
    supervisor.start()
    try:
        exited = supervisor.wait_for_exit(timeout=15)
    finally:
        supervisor.stop()

    assert exited == ("worker", 3)
    assert "worker| giving up" in output.text()


def test_supervisor_wait_returns_when_a_stop_is_requested() -> None:
    supervisor = Supervisor([("web", python_child(LOOP.format(name="web")))], output=Output())
    stop = devservices.StopRequest()
    supervisor.start()
    try:
        threading.Timer(0.2, stop.handle, args=(signal.SIGINT, None)).start()
        assert supervisor.wait_for_exit(timeout=15, until=stop.requested) is None
        assert stop.signal_name == "SIGINT"
    finally:
        supervisor.stop()


def test_application_commands_are_the_four_processes(tmp_path: Path) -> None:
    commands = dict(devservices.application_commands(8123, 8124, tmp_path))

    assert list(commands) == ["web", "worker", "beat", "sandbox"]
    assert commands["web"][1:] == ["manage.py", "runserver", "127.0.0.1:8123", "--noreload"]
    assert commands["worker"][1:6] == ["-m", "celery", "-A", "webcare", "worker"]
    assert str(tmp_path / "celerybeat-schedule") in commands["beat"]
    assert "--port" in commands["sandbox"] and "8124" in commands["sandbox"]
    assert all(argv[0] == PYTHON for argv in commands.values())


# --- `python -m webcare.devservices run`: the whole application --------------------------


def test_run_starts_everything_and_ctrl_c_stops_everything(var_dir: Path) -> None:
    web_port, sandbox_port = devservices.free_port(), devservices.free_port()
    env = {**child_env(), "PORT": str(web_port), "SANDBOX_PORT": str(sandbox_port)}
    env.pop("DEBUG", None)  # `run` turns it on itself
    output: list[str] = []

    def seen(text: str) -> bool:
        return any(text in line for line in output)

    with subprocess.Popen(  # noqa: S603 (our own module)
        [PYTHON, "-m", "webcare.devservices", "--var-dir", str(var_dir), "run"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        reader = threading.Thread(target=lambda: output.extend(iter(process.stdout or [])))
        reader.start()
        try:
            wait_for(lambda: seen("Webcare draait op") or process.poll() is not None, 120)
            assert process.poll() is None, "".join(output)
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz") as response:
                assert response.status == 200
            wait_for(lambda: seen("worker | "), timeout=30)
            assert len(processes_using(var_dir)) >= 4  # web, worker (and pool), beat, sandbox
        finally:
            process.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal does
            try:
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
            reader.join(timeout=5)

    text = "".join(output)
    assert process.returncode == 0, text
    assert f"http://127.0.0.1:{sandbox_port}" in text
    assert "Ctrl-C stops everything" in text
    wait_for(lambda: not processes_using(var_dir), timeout=10)
    assert not (var_dir / "postgres" / "postmaster.pid").exists()


def processes_using(var_dir: Path) -> list[psutil.Process]:
    """Live processes that run on the services in `var_dir` (children) or are them."""
    found = []
    for candidate in psutil.process_iter():
        try:
            if candidate.status() == psutil.STATUS_ZOMBIE:
                continue
            in_environment = str(var_dir) in candidate.environ().get("DATABASE_URL", "")
            if in_environment or str(var_dir) in " ".join(candidate.cmdline()):
                found.append(candidate)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found
