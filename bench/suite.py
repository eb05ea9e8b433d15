"""The benchmark suite: `python -m bench` (`make bench`), docs/performance.md.

`make bench` runs it through `webcare.devservices exec`, so DATABASE_URL and REDIS_URL point
at the embedded servers on a fresh machine, or at the ones configured. The suite never
touches the data behind them:

1. it creates a database of its own on that server (`webcare_bench`) and migrates it; Redis
   keys get a prefix and a Celery queue of their own;
2. it fills it with the dataset (bench/dataset.py: a million messages at --scale 1);
3. it runs the sections in order, each measuring its figures beside a baseline taken in the
   same run (bench/pages.py, latency.py, assignment.py, ingest.py, burst.py): read-only
   sections first, so that they see the dataset as generated;
4. it prints the table, writes the figures as JSON (--json-out) and, with --update-docs,
   into docs/performance.md; it drops the database unless --keep.

This process runs Django itself with the production settings of bench/settings.py (DEBUG
off): the in-process sections (dataset, pages, ingest) use the ORM and the test client, the
others start gunicorn, Celery workers, beat and the sandbox platform as child processes with
the same environment (`BenchContext.processes`).

Exit status: 0 when every section ran and found no correctness problem (speed targets are
reported, not enforced), 1 when a section reported a problem or failed, 2 for a set-up
problem, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import (
    DatabaseRefused,
    database_exists,
    database_name,
    database_url_for,
    drop_database,
    replace_database,
)
from bench.environment import production_environment
from bench.load.report import machine_description
from bench.results import SectionResult, markdown_table
from webcare.devservices import (
    BASE_DIR,
    StopRequest,
    Supervisor,
    free_port,
    handling_signals,
    wait_until_healthy,
)

DEFAULT_DATABASE = "webcare_bench"
DOCS_PATH = BASE_DIR / "docs" / "performance.md"
DOCS_BEGIN = "<!-- bench:results:begin (written by `make bench`; edits here are replaced) -->"
DOCS_END = "<!-- bench:results:end -->"

# Section key -> module with `run(context) -> SectionResult`. Read-only measurements first.
SECTIONS: dict[str, str] = {
    "dataset": "bench.dataset",
    "pages": "bench.pages",
    "latency": "bench.latency",
    "assignment": "bench.assignment",
    "ingest": "bench.ingest",
    "burst": "bench.burst",
}


class SetupFailed(Exception):
    """A step before the measurements failed; the message says which and where to look."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: stop everything."""


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {raw}")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _section_list(raw: str) -> list[str]:
    wanted = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [key for key in wanted if key not in SECTIONS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(SECTIONS)}"
        )
    return wanted


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Webcare's speed at a million messages, each figure beside a baseline "
        "measured in the same run (docs/performance.md). Run it with `make bench BENCH_ARGS='…'`.",
    )
    parser.add_argument(
        "--scale",
        type=_positive_float,
        default=1.0,
        help="dataset size as a fraction of the full one (1: a million messages, 400,000 "
        "conversations, 150,000 contacts); 0.01 for a quick run",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the dataset and traffic")
    parser.add_argument(
        "--only",
        type=_section_list,
        default=list(SECTIONS),
        metavar="SECTIONS",
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)}); without "
        "'dataset' the database must already hold one (--from-template or --reuse)",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DATABASE,
        help="name of the benchmark's own database (replaced unless --reuse)",
    )
    parser.add_argument(
        "--from-template",
        metavar="DATABASE",
        help="copy this database (CREATE DATABASE … TEMPLATE) instead of creating an empty "
        "one: a dataset kept from an earlier run with --keep, in seconds",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="use the benchmark database as it is (no drop)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--burst-messages",
        type=_positive_int,
        help="messages of the crisis burst (default 50,000 × scale)",
    )
    parser.add_argument(
        "--burst-seconds",
        type=_positive_float,
        default=300.0,
        help="the burst arrives within this many seconds (default 300: twice the issue's "
        "rate of 50,000 in 10 minutes, which keeps `make bench` under 20 minutes); without "
        "--burst-messages it scales with --scale (at least 10 s), so the rate stays the same",
    )
    parser.add_argument(
        "--json-out",
        type=Path,
        default=BASE_DIR / "test-artifacts" / "bench.json",
        help="write the figures here (default test-artifacts/bench.json)",
    )
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="write the results table into docs/performance.md",
    )
    arguments = parser.parse_args(argv)
    if arguments.reuse and arguments.from_template:
        parser.error("--reuse and --from-template exclude each other")
    return arguments


@dataclass
class BenchContext:
    """What every section gets: the run's arguments, database, environment and processes."""

    arguments: argparse.Namespace
    configured_database_url: str
    database_url: str
    redis_url: str
    workdir: Path
    stop: StopRequest
    namespace: str
    env: dict[str, str] = field(default_factory=dict)
    # Filled by the dataset section (or read back from a kept database): counts, users.
    dataset: dict[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return float(self.arguments.scale)

    @property
    def seed(self) -> int:
        return int(self.arguments.seed)

    def scaled(self, full: int, minimum: int = 1) -> int:
        """`full` (a figure of the full-size run) at this run's --scale."""
        return max(minimum, round(full * self.scale))

    def say(self, message: str) -> None:
        print(f"==> {message}", flush=True)

    def check_stop(self) -> None:
        if self.stop.requested.is_set():
            raise Interrupted

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- child processes ---------------------------------------------------------------

    def python_command(self, *args: str) -> list[str]:
        return [sys.executable, *args]

    def gunicorn_command(self, port: int, workers: int | None = None) -> list[str]:
        workers = workers or 2 * (os.cpu_count() or 1) + 1
        return self.python_command(
            "-m", "gunicorn", "webcare.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--timeout", "60", "--graceful-timeout", "5",
        )  # fmt: skip

    def worker_command(self, *, concurrency: int = 2, hostname: str = "bench") -> list[str]:
        return self.python_command(
            "-m", "celery", "-A", "webcare", "worker", "--loglevel", "WARNING",
            "--concurrency", str(concurrency), "--hostname", f"{hostname}@%h",
            "--without-heartbeat", "--without-gossip", "--without-mingle",
        )  # fmt: skip

    def beat_command(self, name: str = "beat") -> list[str]:
        return self.python_command(
            "-m", "celery", "-A", "webcare", "beat", "--loglevel", "WARNING",
            "--schedule", str(self.workdir / f"{name}-schedule"),
        )  # fmt: skip

    def sandbox_command(self, port: int, *extra: str) -> list[str]:
        return self.python_command(
            "-m", "channels.sandbox", "--host", "127.0.0.1", "--port", str(port),
            "--state", "", "--no-history", "--quiet", "--seed", str(self.seed), *extra,
        )  # fmt: skip

    @contextmanager
    def processes(
        self, name: str, commands: Sequence[tuple[str, Sequence[str]]], **extra_env: str
    ) -> Iterator[Supervisor]:
        """Start child processes with the run's environment; stop them all on leaving.

        Their output goes to `<workdir>/<name>.log`. `wait_for_url` waits for one to answer.
        """
        env = {**self.env, **extra_env}
        with self.log_path(name).open("a", encoding="utf-8") as log:
            supervisor = Supervisor(commands, env=env, cwd=BASE_DIR, output=log, colour=False)
            supervisor.start()
            try:
                yield supervisor
            finally:
                supervisor.stop(timeout=10, force=self.stop.force)

    def wait_for_url(self, url: str, supervisor: Supervisor, timeout: float = 60) -> None:
        if not wait_until_healthy(url, supervisor, self.stop, timeout=timeout):
            self.check_stop()
            exited = supervisor.first_exit()
            reason = f"{exited[0]} exited with {exited[1]}" if exited else "no answer in time"
            raise SetupFailed(f"{url}: {reason}; see {self.workdir}")

    def free_port(self) -> int:
        return free_port()

    def session_cookie(self, username: str) -> dict[str, str]:
        """A logged-in session for `username`, as the browser's cookie, for HTTP clients."""
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


# --- the run ---------------------------------------------------------------------------


def prepare_database(context: BenchContext) -> None:
    arguments = context.arguments
    if arguments.database == database_name(context.configured_database_url):
        raise SetupFailed(
            f"--database {arguments.database} is the configured DATABASE_URL's own database; "
            "the benchmark needs one of its own."
        )
    try:
        if arguments.reuse:
            if not database_exists(context.configured_database_url, arguments.database):
                raise SetupFailed(f"--reuse: there is no database {arguments.database}")
            return
        replace_database(
            context.configured_database_url, arguments.database, template=arguments.from_template
        )
    except DatabaseRefused as error:
        raise SetupFailed(str(error)) from error


def _forget_redis_keys(context: BenchContext) -> None:
    try:
        import redis

        client = redis.Redis.from_url(context.redis_url)
        keys = {
            *client.scan_iter(match=f"{context.namespace}*"),
            *client.scan_iter(match=f"*{context.namespace}*"),
        }
        if keys:
            client.delete(*keys)
    except Exception as error:  # a leftover queue name is harmless; say so and go on
        print(f"warning: removing the run's Redis keys failed: {error}")


def _server_versions() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    versions: dict[str, str] = {}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        versions["postgresql"] = cursor.fetchone()[0]
    try:
        import redis

        info = redis.Redis.from_url(settings.REDIS_URL).info("server")
        versions["redis"] = str(info.get("redis_version", "?"))
    except Exception as error:  # the version is decoration; the sections will find out
        versions["redis"] = f"unknown ({error.__class__.__name__})"
    return versions


def run_sections(context: BenchContext) -> list[SectionResult]:
    import django
    from django.core.management import call_command

    django.setup()
    context.say("Migrating the benchmark database…")
    call_command("migrate", "--noinput", verbosity=0)
    if "dataset" not in context.arguments.only:
        from bench.common import describe_dataset

        context.dataset = describe_dataset()
    results: list[SectionResult] = []
    for key in SECTIONS:
        if key not in context.arguments.only:
            continue
        context.check_stop()
        started = time.monotonic()
        try:
            module = importlib.import_module(SECTIONS[key])
            context.say(f"{key}: {(module.__doc__ or key).strip().splitlines()[0]}")
            result: SectionResult = module.run(context)
        except (Interrupted, SetupFailed):
            raise
        except Exception as error:
            traceback.print_exc()
            result = SectionResult(key=key, title=key, problems=[f"section failed: {error!r}"])
        result.seconds = time.monotonic() - started
        results.append(result)
        context.say(f"{key}: done in {result.seconds:.0f} s")
        print(markdown_table([result]), flush=True)
        for problem in result.problems:
            print(f"PROBLEM ({key}): {problem}", flush=True)
    return results


def build_report(
    context: BenchContext, results: list[SectionResult], started_at: datetime, seconds: float
) -> dict[str, Any]:
    machine = machine_description()
    machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    machine.update(_server_versions())
    return {
        "date": started_at.date().isoformat(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": machine,
        "arguments": {
            "scale": context.scale,
            "seed": context.seed,
            "sections": context.arguments.only,
            "burst_seconds": context.arguments.burst_seconds,
        },
        "dataset": context.dataset.get("summary", {}),
        "sections": [result.as_json() for result in results],
    }


def render_markdown(report: dict[str, Any], results: list[SectionResult]) -> str:
    machine = report["machine"]
    load = ", ".join(str(value) for value in machine["load_average"])
    lines = [
        f"Run of {report['date']}: {report['seconds'] / 60:.1f} minutes for "
        f"`python -m bench --scale {report['arguments']['scale']:g} --seed "
        f"{report['arguments']['seed']}`.",
        "",
        f"- Machine: {machine['cores']} cores ({machine['processor']}), "
        f"{machine['memory_gb']} GB memory; load average before the run {load}.",
        f"- PostgreSQL {machine.get('postgresql', '?')}, Redis {machine.get('redis', '?')}, "
        f"Python {machine['python']}, {machine['system']}.",
    ]
    dataset = report.get("dataset") or {}
    if dataset:
        parts = ", ".join(f"{value:,} {name}" for name, value in dataset.items() if value)
        lines.append(f"- Dataset: {parts}.")
    lines += ["", markdown_table(results)]
    problems = [f"- {result.key}: {problem}" for result in results for problem in result.problems]
    if problems:
        lines += ["", "Problems found in this run:", "", *problems]
    return "\n".join(lines) + "\n"


def update_docs(markdown: str, path: Path = DOCS_PATH) -> None:
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if begin < 0 or end < begin:
        raise SetupFailed(f"{path} lacks the markers {DOCS_BEGIN!r} … {DOCS_END!r}")
    replaced = text[: begin + len(DOCS_BEGIN)] + "\n\n" + markdown + "\n" + text[end:]
    path.write_text(replaced, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    configured_database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not configured_database_url or not redis_url:
        print(
            "DATABASE_URL and REDIS_URL must be set: run it as `make bench`, which starts "
            "the embedded servers when they are not.",
            file=sys.stderr,
        )
        return 2
    namespace = f"webcare-bench-{secrets.token_hex(4)}"
    database_url = database_url_for(configured_database_url, arguments.database)
    workdir = Path(tempfile.mkdtemp(prefix="webcare-bench-"))
    context = BenchContext(
        arguments=arguments,
        configured_database_url=configured_database_url,
        database_url=database_url,
        redis_url=redis_url,
        workdir=workdir,
        stop=StopRequest(),
        namespace=namespace,
    )
    context.env = production_environment(
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        settings_module="bench.settings",
        # The test client's host, for the in-process sections.
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        # Fixed, so that a kept dataset (--from-template) can still read the sandbox
        # channels' credentials under the next run's SECRET_KEY. They only unlock the sandbox.
        CREDENTIALS_KEY="webcare-bench-credentials-key-not-secret",
    )
    # This process is the first of the run's Django processes: the same settings.
    os.environ.clear()
    os.environ.update(context.env)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    status = 0
    prepared = False
    with handling_signals(context.stop.handle):
        try:
            context.say(
                f"Benchmark at scale {arguments.scale:g} (seed {arguments.seed}); database "
                f"{arguments.database}, logs in {workdir}"
            )
            prepare_database(context)
            prepared = True
            results = run_sections(context)
            report = build_report(context, results, started_at, time.monotonic() - started)
            markdown = render_markdown(report, results)
            print("\n" + markdown, flush=True)
            arguments.json_out.parent.mkdir(parents=True, exist_ok=True)
            arguments.json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
            context.say(f"Figures written to {arguments.json_out}")
            if arguments.update_docs:
                update_docs(markdown)
                context.say(f"Results table written into {DOCS_PATH.relative_to(BASE_DIR)}")
            if any(result.problems for result in results):
                status = 1
        except SetupFailed as error:
            print(f"Benchmark set-up failed: {error}", file=sys.stderr)
            status = 2
        except (Interrupted, KeyboardInterrupt):
            print("Interrupted; stopping.", file=sys.stderr)
            status = 130
        finally:
            _clean_up(context, prepared=prepared, keep_logs=status != 0)
    context.say(f"Finished in {(time.monotonic() - started) / 60:.1f} minutes (exit {status})")
    return status


def _clean_up(context: BenchContext, *, prepared: bool, keep_logs: bool) -> None:
    from django.db import connections

    connections.close_all()
    if prepared and not (context.arguments.keep or context.arguments.reuse):
        try:
            drop_database(context.configured_database_url, context.arguments.database)
        except Exception as error:  # report, and go on cleaning
            print(f"warning: dropping {context.arguments.database} failed: {error}")
    elif prepared:
        context.say(f"Kept the database: DATABASE_URL={context.database_url}")
    _forget_redis_keys(context)
    if keep_logs:
        context.say(f"Logs of the processes: {context.workdir}")
    else:
        shutil.rmtree(context.workdir, ignore_errors=True)


__all__ = ["BenchContext", "Interrupted", "SetupFailed", "main"]
