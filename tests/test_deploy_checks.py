"""Secure by default: `check --deploy` finds nothing with only DEBUG=0, SECRET_KEY and
ALLOWED_HOSTS set, each relaxation does what it says, and the image is built and served as
the Dockerfile says (parsed here, and its commands run, because Docker may be absent).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.test_settings import STRONG_KEY

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "webcare.example.nl"}


def minimal_environment(**env: str) -> dict[str, str]:
    """Nothing but what a process needs to run at all, the addresses of PostgreSQL and
    Redis (settings require them; they say nothing about security), and `env`."""
    base = {
        name: os.environ[name]
        for name in ("PATH", "HOME", "LANG", "DATABASE_URL", "REDIS_URL")
        if name in os.environ
    }
    return {**base, "DJANGO_SETTINGS_MODULE": "webcare.settings", **env}


def manage(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *arguments],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


def deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    return manage("check", "--deploy", "--fail-level", "WARNING", env=minimal_environment(**env))


def test_check_deploy_finds_nothing_with_only_the_three_required_variables():
    # Not even the database's and Redis's addresses: production defaults to localhost.
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "webcare.settings",
            **PRODUCTION,
        },
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_finds_nothing_in_production_mode_either():
    result = deploy_check(**PRODUCTION, WEBCARE_ENV="production")

    assert result.returncode == 0, result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_the_check_itself_can_fail():
    # The same command with a single relaxation does report it: the test above would see.
    result = deploy_check(**PRODUCTION, SECURE_SSL_REDIRECT="0")

    assert result.returncode != 0
    assert "security.W008" in result.stderr


def production_setting(name: str, **env: str) -> str:
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; "
            f"print(repr(getattr(settings, {name!r}, None)))",
        ],
        env=minimal_environment(**PRODUCTION, **env),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("setting", "secure_default"),
    [
        ("SECURE_PROXY_SSL_HEADER", "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("SECURE_SSL_REDIRECT", "True"),
        ("SECURE_REDIRECT_EXEMPT", "['^healthz$', '^readyz$']"),
        ("SECURE_HSTS_SECONDS", "31536000"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "True"),
        ("SECURE_HSTS_PRELOAD", "True"),
        ("SESSION_COOKIE_SECURE", "True"),
        ("CSRF_COOKIE_SECURE", "True"),
        ("LANGUAGE_COOKIE_SECURE", "True"),
        ("SESSION_COOKIE_HTTPONLY", "True"),
        ("CSRF_COOKIE_HTTPONLY", "True"),
        ("SESSION_COOKIE_SAMESITE", "'Lax'"),
        ("CSRF_COOKIE_SAMESITE", "'Lax'"),
        ("X_FRAME_OPTIONS", "'DENY'"),
        ("SECURE_CONTENT_TYPE_NOSNIFF", "True"),
    ],
)
def test_production_defaults_are_secure(setting, secure_default):
    assert production_setting(setting) == secure_default


@pytest.mark.parametrize(
    ("variable", "value", "setting", "relaxed", "warning"),
    [
        ("BEHIND_TLS_PROXY", "0", "SECURE_PROXY_SSL_HEADER", "None", None),
        ("SECURE_SSL_REDIRECT", "0", "SECURE_SSL_REDIRECT", "False", "security.W008"),
        ("SECURE_HSTS_SECONDS", "0", "SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("SECURE_HSTS_SECONDS", "600", "SECURE_HSTS_SECONDS", "600", None),
        (
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "0",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "False",
            "security.W005",
        ),
        ("SECURE_HSTS_PRELOAD", "0", "SECURE_HSTS_PRELOAD", "False", "security.W021"),
        ("SECURE_COOKIES", "0", "SESSION_COOKIE_SECURE", "False", "security.W012"),
        ("SECURE_COOKIES", "0", "CSRF_COOKIE_SECURE", "False", "security.W016"),
    ],
)
def test_each_relaxation_works_and_check_deploy_names_it(
    variable, value, setting, relaxed, warning
):
    assert production_setting(setting, **{variable: value}) == relaxed
    if warning:
        result = deploy_check(**PRODUCTION, **{variable: value})
        assert warning in result.stderr


@pytest.mark.parametrize(
    ("setting", "development_value"),
    [
        ("SECURE_PROXY_SSL_HEADER", "None"),
        ("SECURE_SSL_REDIRECT", "False"),
        ("SECURE_HSTS_SECONDS", "0"),
        ("SESSION_COOKIE_SECURE", "False"),
    ],
)
def test_development_keeps_plain_http_working(setting, development_value):
    # `make run` serves http://127.0.0.1:8000 with DEBUG=1 and nothing else set.
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; "
            f"print(repr(getattr(settings, {setting!r}, None)))",
        ],
        env=minimal_environment(DEBUG="1"),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == development_value


# --- The Dockerfile ------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (BASE_DIR / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _space, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def image_environment() -> dict[str, str]:
    """The variables the Dockerfile's ENV instructions set."""
    environment = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            for assignment in shlex.split(arguments):
                name, _equals, value = assignment.partition("=")
                environment[name] = value
    return environment


def test_the_image_runs_as_a_non_root_user():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _arguments in instructions]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]

    assert users, "the Dockerfile has no USER line: the processes would run as root"
    assert users[-1] not in {"root", "0", "0:0"}
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert keywords.index("CMD") > last_user
    # Nothing after USER runs a command that could have needed root.
    assert "RUN" not in keywords[last_user:]
    created = [args for keyword, args in instructions if keyword == "RUN" and "useradd" in args]
    assert any(users[-1] in args.split() for args in created)


def test_the_code_in_the_image_is_not_writable_by_that_user():
    instructions = dockerfile_instructions()
    copies = [arguments for keyword, arguments in instructions if keyword in {"COPY", "ADD"}]
    assert copies
    assert not [arguments for arguments in copies if "--chown" in arguments]
    chowned = [
        arguments
        for keyword, arguments in instructions
        if keyword == "RUN" and "chown" in arguments
    ]
    # Only the archive directory (WEBCARE_ARCHIVE_DIR's default) is handed to the user.
    assert chowned == [
        "mkdir -p /app/var/archive && chown -R webcare:webcare /app/var",
    ]


def test_the_image_runs_in_production_mode():
    assert image_environment()["WEBCARE_ENV"] == "production"
    assert "DEBUG" not in image_environment()


def test_the_image_build_step_needs_no_secret_and_loads_the_settings():
    [build_step] = [
        arguments
        for keyword, arguments in dockerfile_instructions()
        if keyword == "RUN" and "collectstatic" in arguments
    ]
    words = shlex.split(build_step)
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    command = words[words.index("python") :]

    assert "SECRET_KEY" not in assignments
    assert assignments["WEBCARE_ENV"] == "build"
    # The step itself, in the image's environment, without writing into the checkout.
    env = {"PATH": os.environ["PATH"], **image_environment(), **assignments}
    result = subprocess.run(  # noqa: S603
        [sys.executable, *command[1:], "--dry-run"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+ static files? copied", result.stdout), result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        # An http:// URL this module built, never user input.
        request = urllib.request.Request(url, headers=headers)  # noqa: S310
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def production_server(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """gunicorn as the image's CMD starts it, in production mode, on the migrated test
    database; yields (port, environment)."""
    from django.db import connection

    database_url = urlsplit(os.environ["DATABASE_URL"])
    test_database = connection.settings_dict["NAME"]
    port = _free_port()
    environment = {
        "PATH": os.environ["PATH"],
        **image_environment(),
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "webcare.example.nl",
        "DATABASE_URL": database_url._replace(path="/" + quote(test_database)).geturl(),
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    [command] = [json.loads(a) for k, a in dockerfile_instructions() if k == "CMD"]
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen(  # noqa: S603
        [gunicorn, *command[1:]],
        env=environment,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.stdout else ""
                    pytest.fail(f"gunicorn did not start:\n{output}")
                time.sleep(0.2)
        yield port, environment
    finally:
        server.terminate()
        server.communicate(timeout=15)


def test_the_served_image_answers_its_healthcheck_over_plain_http(production_server):
    port, environment = production_server
    [healthcheck] = [a for k, a in dockerfile_instructions() if k == "HEALTHCHECK"]
    probe = healthcheck[healthcheck.index("CMD ") + 4 :].replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )
    assert "/healthz" in probe  # liveness: a database outage must not restart the web

    result = subprocess.run(  # noqa: S602
        probe.replace("python ", f"{shlex.quote(sys.executable)} ", 1),
        shell=True,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_served_image_redirects_to_https_except_for_the_probes(production_server):
    port, _environment = production_server
    host = {"Host": "webcare.example.nl"}

    login_status, login_headers, _ = _get(f"http://127.0.0.1:{port}/login/", host)
    ready_status, _, ready_body = _get(f"http://127.0.0.1:{port}/readyz", host)
    live_status, _, _ = _get(f"http://127.0.0.1:{port}/healthz", host)

    assert login_status == 301
    assert login_headers["Location"] == "https://webcare.example.nl/login/"
    assert (live_status, ready_status) == (200, 200), ready_body


def test_the_served_image_sends_hsts_behind_the_tls_proxy(production_server):
    port, _environment = production_server
    status, headers, _ = _get(
        f"http://127.0.0.1:{port}/healthz",
        {"Host": "webcare.example.nl", "X-Forwarded-Proto": "https"},
    )

    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
