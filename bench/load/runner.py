"""The load test's runner: `python -m bench.load [--agents 50] [--seconds 60] …`.

`make load` runs it through `webcare.devservices exec`, so DATABASE_URL and REDIS_URL point
at the embedded servers on a fresh machine, or at the ones configured. The runner never
touches the data behind them:

1. creates a database of its own on that server (`webcare_load`), migrates it and seeds a
   working day's inbox (bench/load/seed.py); Redis keys get a prefix and a Celery
   queue of their own;
2. starts the processes as production runs them: gunicorn with DEBUG off (a generated
   SECRET_KEY; plain http on loopback, so the TLS-only settings are switched off
   explicitly), a Celery worker and beat, and the sandbox platform generating citizen
   traffic, which beat's polls and the Facebook webhooks bring in throughout;
3. runs locust headless with one simulated agent per account (bench/load/agents.py)
   while sampling how many citizen messages are stored;
4. prints the figures (bench/load/report.py), writes them as JSON with --json-out,
   stops every process group and drops the database (unless --keep).

Exit status: 0 when no request failed and ingest kept going, 1 otherwise, 2 for a set-up
problem, 130 after Ctrl-C. Django is not imported here: the children load the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from bench.databases import (
    DatabaseRefused,
    database_url_for,
    drop_database,
    replace_database,
)
from bench.environment import production_environment
from bench.load import report as load_report
from webcare.devservices import (
    BASE_DIR,
    StopRequest,
    Supervisor,
    _die_with_parent,  # the supervisor's own guard: children die with us, even on SIGKILL
    free_port,
    handling_signals,
    psycopg2_connect_kwargs,
    wait_until_healthy,
)

DEFAULT_DATABASE = "webcare_load"
STEP_TIMEOUT = 180.0  # migrate, seed, collectstatic: each takes seconds, never minutes
DRAIN_SECONDS = 15.0  # after the swarm: time for the worker to send the last replies
SAMPLE_EVERY = 2.0
# Longest the agents may take to log in and load their inbox before the measured part.
WARM_UP_LIMIT = 90  # seconds between counts of stored citizen messages


class SetupFailed(Exception):
    """A step before the measurement failed; the message says which and where to look."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything and report nothing."""


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {raw}")
    return value


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Simulated agents work the inbox on gunicorn while ingest runs; prints "
        "p50/p95/p99 per endpoint. Run it with `make load LOAD_ARGS='…'`.",
    )
    parser.add_argument("--agents", type=_positive_int, default=50, help="simulated agents")
    parser.add_argument(
        "--seconds", type=_positive_int, default=60, help="how long the agents work"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the agents")
    parser.add_argument("--json-out", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the load test's database afterwards"
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help="name of the load test's own database (replaced if it exists)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=2 * cores + 1,
        help="gunicorn sync workers (default: 2 x cores + 1, gunicorn's advice)",
    )
    parser.add_argument(
        "--spawn-rate", type=_positive_float, default=10.0, help="agents logging in per second"
    )
    parser.add_argument(
        "--message-every",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="the sandbox writes a citizen message about this often",
    )
    parser.add_argument(
        "--history-per-day",
        type=_positive_int,
        default=400,
        help="messages a day in the seeded two weeks of history",
    )
    parser.add_argument(
        "--list-refresh",
        choices=("every-change", "listed-only"),
        default="listed-only",
        help="when a live update reloads an agent's list: only for changes that concern the "
        "rows shown or the agent's queues, as the browser does, or on any change (as it did "
        "before; for comparison)",
    )
    arguments = parser.parse_args(argv)
    if arguments.spawn_rate > arguments.agents:
        arguments.spawn_rate = float(arguments.agents)
    return arguments


class LoadRun:
    def __init__(
        self, arguments: argparse.Namespace, database_url: str, redis_url: str, stop: StopRequest
    ) -> None:
        self.arguments = arguments
        self.configured_database_url = database_url
        self.database_url = database_url_for(database_url, arguments.database)
        self.redis_url = redis_url
        self.stop = stop
        self.workdir = Path(tempfile.mkdtemp(prefix="webcare-load-"))
        self.log_path = self.workdir / "processes.log"
        self.log: IO[str] = self.log_path.open("w", encoding="utf-8")
        self.web_port = free_port()
        self.sandbox_port = free_port()
        self.namespace = f"webcare-load-{secrets.token_hex(4)}"
        self.supervisor: Supervisor | None = None
        self.swarm: subprocess.Popen[bytes] | None = None
        self.database_created = False
        self.env = self._environment()

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _environment(self) -> dict[str, str]:
        return production_environment(
            database_url=self.database_url,
            redis_url=self.redis_url,
            namespace=self.namespace,
            settings_module="bench.load.settings",
            LOAD_STATIC_ROOT=str(self.workdir / "static"),
            # seed_demo points the demo channels at this port.
            SANDBOX_PORT=str(self.sandbox_port),
        )

    # --- the whole run -------------------------------------------------------------------

    def execute(self) -> int:
        arguments = self.arguments
        started = time.monotonic()
        self.say(
            f"Load test: {arguments.agents} agents for {arguments.seconds} s; "
            f"database {arguments.database}, logs in {self.workdir}"
        )
        self.create_database()
        self.say("Migrating and seeding (a few thousand conversations)…")
        self.run_step("migrate", [sys.executable, "manage.py", "migrate", "--noinput"])
        migrated = time.monotonic()
        collectstatic = self.start_step(
            "collectstatic", [sys.executable, "manage.py", "collectstatic", "--noinput"]
        )
        seed_output = self.run_step(
            "seed",
            [
                sys.executable, "-m", "bench.load.seed",
                "--agents", str(arguments.agents),
                "--seed", str(arguments.seed),
                "--per-day", str(arguments.history_per_day),
            ],
        )  # fmt: skip
        self.finish_step("collectstatic", collectstatic)
        seeded = json.loads(seed_output.strip().splitlines()[-1])
        self.say(
            f"  migrated in {migrated - started:.1f} s; {seeded['conversations']} conversations "
            f"({seeded['open_conversations']} not resolved) and {len(seeded['usernames'])} "
            f"agents in {seeded['seconds']} s"
        )
        self.say(f"Starting gunicorn ({arguments.workers} workers), worker, beat, sandbox…")
        processes_started = time.monotonic()
        self.start_processes()
        setup_seconds = round(time.monotonic() - started, 1)
        self.say(
            f"Agents logging in, then at work for {arguments.seconds} s (set-up took "
            f"{setup_seconds} s, {time.monotonic() - processes_started:.1f} s of it starting "
            "the processes)…"
        )
        machine = load_report.machine_description()
        swarm_result, ingest = self.run_swarm(seeded["usernames"], seeded["password"])
        machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
        report = load_report.build_report(
            agents=arguments.agents,
            seconds=arguments.seconds,
            swarm=swarm_result,
            ingest=ingest,
            machine=machine,
            settings={
                "gunicorn workers": arguments.workers,
                "conversations at start": seeded["conversations"],
                "message every (s)": arguments.message_every,
                "list refresh": arguments.list_refresh,
                "set-up (s)": setup_seconds,
            },
        )
        print(load_report.format_report(report), flush=True)
        if arguments.json_out:
            arguments.json_out.parent.mkdir(parents=True, exist_ok=True)
            arguments.json_out.write_text(json.dumps(report.as_json(), indent=2) + "\n")
            self.say(f"Figures written to {arguments.json_out}")
        return 1 if report.problems() else 0

    # --- database --------------------------------------------------------------------------

    def create_database(self) -> None:
        try:
            replace_database(self.configured_database_url, self.arguments.database)
        except DatabaseRefused as error:
            raise SetupFailed(str(error)) from error
        self.database_created = True

    def drop_database(self) -> None:
        drop_database(self.configured_database_url, self.arguments.database)

    def _load_connection(self) -> Any:
        import psycopg2

        connection = psycopg2.connect(**psycopg2_connect_kwargs(self.database_url))
        connection.autocommit = True
        return connection

    # --- steps and processes -------------------------------------------------------------

    def start_step(self, name: str, argv: list[str]) -> subprocess.Popen[str]:
        self.check_stop()
        self.log.write(f"--- {name}: {' '.join(argv)}\n")
        self.log.flush()
        return subprocess.Popen(  # noqa: S603 (our own fixed argv)
            argv,
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            process_group=0,
            preexec_fn=_die_with_parent,
        )

    def finish_step(self, name: str, process: subprocess.Popen[str]) -> str:
        deadline = time.monotonic() + STEP_TIMEOUT
        while process.poll() is None:
            if self.stop.requested.is_set() or time.monotonic() > deadline:
                _kill_group(process)
                if self.stop.requested.is_set():
                    raise Interrupted
                raise SetupFailed(f"{name} took longer than {STEP_TIMEOUT:.0f} s")
            time.sleep(0.1)
        output = process.stdout.read() if process.stdout else ""
        self.log.write(output)
        self.log.flush()
        if process.returncode != 0:
            raise SetupFailed(f"{name} exited with {process.returncode}: see {self.log_path}")
        return output

    def run_step(self, name: str, argv: list[str]) -> str:
        return self.finish_step(name, self.start_step(name, argv))

    def application_commands(self) -> list[tuple[str, list[str]]]:
        python = sys.executable
        facebook_webhook = f"{self.web_url}/webhooks/facebook/demodorp-facebook/"
        return [
            (
                "web",
                [
                    python, "-m", "gunicorn", "webcare.wsgi:application",
                    "--bind", f"127.0.0.1:{self.web_port}",
                    "--workers", str(self.arguments.workers),
                    "--timeout", "30", "--graceful-timeout", "5",
                ],
            ),
            (
                "worker",
                [
                    python, "-m", "celery", "-A", "webcare", "worker", "--loglevel", "WARNING",
                    "--concurrency", "2", "--without-heartbeat", "--without-gossip",
                    "--without-mingle",
                ],
            ),
            (
                "beat",
                [
                    python, "-m", "celery", "-A", "webcare", "beat", "--loglevel", "WARNING",
                    "--schedule", str(self.workdir / "celerybeat-schedule"),
                ],
            ),
            (
                "sandbox",
                [
                    python, "-m", "channels.sandbox", "--host", "127.0.0.1",
                    "--port", str(self.sandbox_port), "--state", "", "--no-history", "--quiet",
                    "--generate-every", str(self.arguments.message_every),
                    "--seed", str(self.arguments.seed),
                    "--facebook-webhook-url", facebook_webhook,
                ],
            ),
        ]  # fmt: skip

    def start_processes(self) -> None:
        self.check_stop()
        self.supervisor = Supervisor(
            self.application_commands(), env=self.env, cwd=BASE_DIR, output=self.log, colour=False
        )
        self.supervisor.start()
        if not wait_until_healthy(f"{self.web_url}/healthz", self.supervisor, self.stop):
            self.check_stop()
            raise SetupFailed(f"gunicorn did not become healthy: see {self.log_path}")
        sandbox_state = f"http://127.0.0.1:{self.sandbox_port}/_sandbox/state"
        if not wait_until_healthy(sandbox_state, self.supervisor, self.stop, timeout=15):
            self.check_stop()
            raise SetupFailed(f"the sandbox did not start: see {self.log_path}")

    def stop_processes(self) -> None:
        if self.swarm is not None and self.swarm.poll() is None:
            _kill_group(self.swarm)
        if self.supervisor is not None:
            self.supervisor.stop(timeout=10, force=self.stop.force)
            self.supervisor = None

    # --- the measurement -----------------------------------------------------------------

    def run_swarm(
        self, usernames: list[str], password: str
    ) -> tuple[dict[str, Any], load_report.IngestFigures]:
        arguments = self.arguments
        result_path = self.workdir / "swarm.json"
        env = {
            **self.env,
            "LOAD_AGENT_USERNAMES": ",".join(usernames),
            "LOAD_AGENT_PASSWORD": password,
            "LOAD_RESULT_PATH": str(result_path),
            "LOAD_SEED": str(arguments.seed),
            "LOAD_SECONDS": str(arguments.seconds),
            "LOAD_LIST_REFRESH": arguments.list_refresh,
        }
        argv = [
            sys.executable, "-m", "locust",
            "-f", str(BASE_DIR / "bench" / "load" / "agents.py"),
            "--headless", "--host", self.web_url,
            "--users", str(arguments.agents), "--spawn-rate", str(arguments.spawn_rate),
            # agents.py stops the swarm `seconds` after the warm-up; this is the backstop.
            "--run-time", f"{arguments.seconds + WARM_UP_LIMIT}s", "--stop-timeout", "2",
            "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        connection = self._load_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT now()")
                (since,) = cursor.fetchone()
            began = time.monotonic()
            self.log.write(f"--- locust: {' '.join(argv)}\n")
            self.log.flush()
            self.swarm = subprocess.Popen(  # noqa: S603 (our own fixed argv)
                argv,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent,
            )
            samples: list[tuple[float, int]] = []
            deadline = began + arguments.seconds + WARM_UP_LIMIT + 30
            next_sample = began
            while self.swarm.poll() is None:
                if self.stop.requested.is_set():
                    raise Interrupted
                self.check_processes()
                if time.monotonic() > deadline:
                    _kill_group(self.swarm)
                    raise SetupFailed(f"locust did not stop in time: see {self.log_path}")
                if time.monotonic() >= next_sample:
                    elapsed = round(time.monotonic() - began, 1)
                    samples.append((elapsed, _citizen_messages_since(connection, since)))
                    next_sample += SAMPLE_EVERY
                time.sleep(0.2)
            seconds = round(time.monotonic() - began, 1)
            samples.append((seconds, _citizen_messages_since(connection, since)))
            if not result_path.exists():
                raise SetupFailed(f"locust wrote no figures: see {self.log_path}")
            self.drain_replies(connection, since)
            ingest = load_report.IngestFigures(
                seconds=seconds,
                citizen_messages_stored=samples[-1][1],
                **_reply_counts(connection, since),
                failed_reply_errors=_failed_reply_errors(connection, since),
                samples=samples,
            )
        finally:
            connection.close()
        swarm_result = json.loads(result_path.read_text(encoding="utf-8"))
        return swarm_result, ingest

    def drain_replies(self, connection: Any, since: Any) -> None:
        """Give the worker a moment for replies sent in the last seconds of the run."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and _reply_counts(connection, since)["replies_unsent"]:
            self.check_stop()
            time.sleep(0.5)

    def check_processes(self) -> None:
        exited = self.supervisor.first_exit() if self.supervisor else None
        if exited is not None:
            name, code = exited
            raise SetupFailed(f"{name} exited with {code} during the run: see {self.log_path}")

    def check_stop(self) -> None:
        if self.stop.requested.is_set():
            raise Interrupted

    # --- clean-up ------------------------------------------------------------------------

    def clean_up(self, *, keep_logs: bool) -> None:
        self.stop_processes()
        if self.database_created and not self.arguments.keep:
            try:
                self.drop_database()
            except Exception as error:  # report, and go on cleaning
                print(f"warning: dropping {self.arguments.database} failed: {error}")
        elif self.database_created:
            self.say(f"Kept the database: DATABASE_URL={self.database_url}")
        self.forget_redis_keys()
        self.log.close()
        if keep_logs:
            self.say(f"Logs of the processes: {self.log_path}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def forget_redis_keys(self) -> None:
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = [
                *client.scan_iter(match=f"{self.namespace}*"),
                *client.scan_iter(match=f"*{self.namespace}*"),
            ]
            if keys:
                client.delete(*set(keys))
        except Exception as error:  # a leftover queue name is harmless; say so and go on
            print(f"warning: removing the run's Redis keys failed: {error}")

    def say(self, message: str) -> None:
        print(f"==> {message}", flush=True)


def _citizen_messages_since(connection: Any, since: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM inbox_message WHERE direction = 'inbound' AND created_at >= %s",
            [since],
        )
        (count,) = cursor.fetchone()
    return int(count)


def _reply_counts(connection: Any, since: Any) -> dict[str, int]:
    """The agents' replies by outcome. A reply in a conversation seeded as history answers
    messages the sandbox never had (platform ids `hist-…`), so the platform refuses it, as
    it would a reply to a deleted post; only replies to live conversations must be sent."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE delivery_status = 'sent'),
                   count(*) FILTER (WHERE delivery_status IN ('queued', 'sending')),
                   count(*) FILTER (WHERE delivery_status = 'failed' AND live),
                   count(*) FILTER (WHERE delivery_status = 'failed' AND NOT live)
            FROM (
                SELECT reply.delivery_status, EXISTS (
                    SELECT 1 FROM inbox_message citizen
                    WHERE citizen.conversation_id = reply.conversation_id
                      AND citizen.direction = 'inbound'
                      AND citizen.external_id NOT LIKE 'hist-%%'
                ) AS live
                FROM inbox_message reply
                WHERE reply.direction = 'outbound' AND reply.created_at >= %s
            ) AS replies
            """,
            [since],
        )
        created, sent, unsent, failed, refused_seeded = cursor.fetchone()
    return {
        "replies_created": created,
        "replies_sent": sent,
        "replies_unsent": unsent,
        "replies_failed": failed,
        "replies_refused_seeded": refused_seeded,
    }


def _failed_reply_errors(connection: Any, since: Any) -> list[str]:
    """What the platform said about failed replies in live conversations (at most 10)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT channel.kind || ': ' || coalesce(reply.delivery_error, '')
            FROM inbox_message reply
            JOIN channels_channel channel ON channel.id = reply.channel_id
            WHERE reply.direction = 'outbound' AND reply.created_at >= %s
              AND reply.delivery_status = 'failed'
              AND EXISTS (
                  SELECT 1 FROM inbox_message citizen
                  WHERE citizen.conversation_id = reply.conversation_id
                    AND citizen.direction = 'inbound'
                    AND citizen.external_id NOT LIKE 'hist-%%'
              )
            ORDER BY reply.id LIMIT 10
            """,
            [since],
        )
        return [row[0] for row in cursor.fetchall()]


def _kill_group(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group (locust writes its figures on it), SIGKILL if it stays."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url or not redis_url:
        print(
            "DATABASE_URL and REDIS_URL must be set: run `make load`, which starts the "
            "embedded servers when they are not.",
            file=sys.stderr,
        )
        return 2
    stop = StopRequest()
    with handling_signals(stop.handle):
        run = LoadRun(arguments, database_url, redis_url, stop)
        status = 2
        try:
            status = run.execute()
        except Interrupted:
            run.say(f"Received {stop.signal_name}; stopping everything…")
            status = 130
        except SetupFailed as error:
            print(f"Load test failed: {error}", file=sys.stderr, flush=True)
            status = 2
        finally:
            run.clean_up(keep_logs=status != 0)
    return status
