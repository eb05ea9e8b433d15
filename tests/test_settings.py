"""Production refuses unsafe configuration; the process fails before serving anything.

Each test starts Django in a fresh process with exactly the environment it names, as a
container would (settings are read once, at import).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# 64 characters of 60 different ones: what `secrets.token_urlsafe(50)` gives, but fixed.
STRONG_KEY = "k8Jd2mQz9Lp4Xv7Wn1Rb6Ty3Hs5Gf0Ec8Ua2Oi4Ye6ZqAaBbCcDdEeFfGgHhIiJj"

# Variables these tests decide themselves; the rest (DATABASE_URL, REDIS_URL, PATH …) is
# inherited from the test run.
_DECIDED_HERE = {
    "DEBUG",
    "SECRET_KEY",
    "WEBCARE_ENV",
    "CREDENTIALS_KEY",
    "ALLOWED_HOSTS",
    "BEHIND_TLS_PROXY",
    "SECURE_SSL_REDIRECT",
    "SECURE_COOKIES",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
}


def start_django(
    code: str = "", *, unset: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    """A fresh process with this environment; `unset` names inherited variables to drop."""
    return run_django(code, env, unset=unset)


def run_django(
    code: str, env: dict[str, str], *, unset: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in _DECIDED_HERE
        and key not in unset
        and not key.endswith("_FILE")
        and not key.startswith("OIDC_")
    }
    clean["DJANGO_SETTINGS_MODULE"] = "webcare.settings"
    clean.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=clean,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


def setting(name: str, **env: str) -> str:
    """The repr of one setting as a fresh process with this environment sees it."""
    result = run_django(f"from django.conf import settings; print(repr(settings.{name}))", env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_refuses_to_start_without_a_secret_key():
    result = start_django(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert "SECRET_KEY_FILE" in result.stderr  # says what to set


def test_a_bad_boolean_is_named_in_the_error():
    result = start_django(DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = start_django(DEBUG="0", SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "webcare-development-only-secret-key-never-use-in-production",
            "published in Webcare's source code",
        ),
        ("build-only-not-a-secret", "published in Webcare's source code"),
        (STRONG_KEY[:49], "it has 49 characters, fewer than 50"),
        ("ab" * 40, "fewer than 5 different characters"),
        ("django-insecure-" + STRONG_KEY, "starts with 'django-insecure-'"),
    ],
    ids=["development-key", "build-key", "too-short", "too-few-characters", "startproject"],
)
def test_production_refuses_a_weak_or_published_secret_key(key, reason):
    result = start_django(DEBUG="0", SECRET_KEY=key)

    assert result.returncode != 0
    assert "SECRET_KEY is refused because" in result.stderr
    assert reason in result.stderr
    assert key not in result.stderr.replace("SECRET_KEY", "")  # the key itself is not logged


def test_development_may_use_any_key():
    assert setting("SECRET_KEY", DEBUG="1", SECRET_KEY="short") == "'short'"


def test_production_mode_refuses_debug():
    result = start_django(DEBUG="1", WEBCARE_ENV="production", SECRET_KEY=STRONG_KEY)

    assert result.returncode != 0
    assert "DEBUG=1 is refused with WEBCARE_ENV=production" in result.stderr
    assert "WEBCARE_ENV=development" in result.stderr  # how to debug a copy on purpose


def test_production_mode_starts_without_debug():
    assert setting("DEBUG", WEBCARE_ENV="production", SECRET_KEY=STRONG_KEY) == "False"


def test_an_unknown_environment_name_is_refused():
    result = start_django(WEBCARE_ENV="prod", SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0
    assert "WEBCARE_ENV='prod'" in result.stderr


def test_build_mode_needs_no_secret_key_and_makes_a_throwaway_one():
    first = setting("SECRET_KEY", WEBCARE_ENV="build")
    second = setting("SECRET_KEY", WEBCARE_ENV="build", SECRET_KEY=STRONG_KEY)

    assert first != second
    assert STRONG_KEY not in second  # a given key is not used either
    assert len(first.strip("'")) >= 50


def test_build_mode_refuses_debug():
    result = start_django(WEBCARE_ENV="build", DEBUG="1")
    assert result.returncode != 0
    assert "DEBUG=1 is refused with WEBCARE_ENV=build" in result.stderr


def test_the_wsgi_server_refuses_to_serve_in_build_mode():
    result = start_django("import webcare.wsgi", WEBCARE_ENV="build")
    assert result.returncode != 0
    assert "WEBCARE_ENV=build is only for building the image" in result.stderr


def test_the_wsgi_server_starts_in_production_mode():
    result = start_django(
        "import webcare.wsgi; print(webcare.wsgi.application.__class__.__name__)",
        WEBCARE_ENV="production",
        SECRET_KEY=STRONG_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "WSGIHandler"


# --- Secrets from files (NAME_FILE) -------------------------------------------------------


def _oidc(secret_variable: str, value: str) -> dict[str, str]:
    return {
        "DEBUG": "1",
        "OIDC_RP_CLIENT_ID": "webcare",
        secret_variable: value,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://id.demodorp.nl/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": "https://id.demodorp.nl/token",
        "OIDC_OP_JWKS_ENDPOINT": "https://id.demodorp.nl/jwks",
        "OIDC_ROLE_GROUPS": "agent=webcare",
    }


@pytest.mark.parametrize(
    ("variable", "setting_name", "value", "expected", "environment"),
    [
        ("SECRET_KEY", "SECRET_KEY", STRONG_KEY, repr(STRONG_KEY), {"DEBUG": "0"}),
        (
            "CREDENTIALS_KEY",
            "CREDENTIALS_KEYS",
            "new-key,old-key",
            "['new-key', 'old-key']",
            {"DEBUG": "1"},
        ),
        (
            "DATABASE_URL",
            "DATABASES['default']['NAME']",
            "postgres://webcare:s3cret@db.internal:5432/from_file",
            "'from_file'",
            {"DEBUG": "1"},
        ),
        (
            "REDIS_URL",
            "REDIS_URL",
            "redis://:s3cret@redis.internal:6379/4",
            "'redis://:s3cret@redis.internal:6379/4'",
            {"DEBUG": "1"},
        ),
        (
            "OIDC_RP_CLIENT_SECRET",
            "OIDC_RP_CLIENT_SECRET",
            "client-s3cret",
            "'client-s3cret'",
            {},
        ),
    ],
    ids=["secret-key", "credentials-key", "database-url", "redis-url", "oidc-client-secret"],
)
def test_every_secret_can_come_from_a_file_whose_trailing_newline_is_dropped(
    tmp_path, variable, setting_name, value, expected, environment
):
    secret_file = tmp_path / "secret"
    secret_file.write_text(value + "\n")  # as `echo value > file` writes it
    if variable == "OIDC_RP_CLIENT_SECRET":
        env = _oidc("OIDC_RP_CLIENT_SECRET_FILE", str(secret_file))
    else:
        env = {**environment, f"{variable}_FILE": str(secret_file)}

    result = start_django(
        f"from django.conf import settings; print(repr(settings.{setting_name}))",
        unset=(variable,),  # DATABASE_URL and REDIS_URL come from the test run otherwise
        **env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_missing_secret_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-file"
    result = start_django(DEBUG="1", CREDENTIALS_KEY_FILE=str(missing))

    assert result.returncode != 0
    assert f"CREDENTIALS_KEY_FILE={str(missing)!r} cannot be read" in result.stderr
    assert "FileNotFoundError" in result.stderr


def test_a_secret_file_that_is_a_directory_is_a_clear_error(tmp_path):
    result = start_django(DEBUG="0", SECRET_KEY_FILE=str(tmp_path))

    assert result.returncode != 0
    assert f"SECRET_KEY_FILE={str(tmp_path)!r} cannot be read" in result.stderr


def test_a_secret_and_its_file_both_set_is_refused(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(STRONG_KEY)

    result = start_django(DEBUG="0", SECRET_KEY=STRONG_KEY, SECRET_KEY_FILE=str(secret_file))

    assert result.returncode != 0
    assert "Both SECRET_KEY and SECRET_KEY_FILE are set; set only one of them." in result.stderr
    assert STRONG_KEY not in result.stderr


def test_an_empty_file_variable_is_refused():
    result = start_django(DEBUG="1", CREDENTIALS_KEY_FILE="")
    assert result.returncode != 0
    assert "CREDENTIALS_KEY_FILE is set but empty" in result.stderr
