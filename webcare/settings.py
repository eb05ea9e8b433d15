"""Webcare settings, read from environment variables.

Development (DEBUG=1) works over plain http with a built-in secret key. With DEBUG off the
defaults are production's: TLS at a reverse proxy, secure cookies, HSTS, and a refusal to
start without a strong SECRET_KEY (docs/operations.md; README, "Configuration").
`WEBCARE_ENV=production` (set by the Dockerfile) also refuses DEBUG=1. Every value can be
read from a file instead (`SECRET_KEY_FILE`, …), which is how Docker and Kubernetes mount
secrets.
"""

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    """A string from NAME, or from the file named by NAME_FILE (for mounted secrets).

    The file's surrounding whitespace is dropped: `echo secret > file` ends in a newline
    that is no part of the secret. Both set is refused rather than one silently winning."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path is not None and name in os.environ:
        raise ImproperlyConfigured(f"Both {name} and {name}_FILE are set; set only one of them.")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            # The error names the path, never the content.
            raise ImproperlyConfigured(
                f"{name}_FILE={file_path!r} cannot be read: {error.__class__.__name__}: "
                f"{getattr(error, 'strerror', None) or error}"
            ) from error
    if file_path is not None:
        raise ImproperlyConfigured(
            f"{name}_FILE is set but empty; name the file to read {name} from."
        )
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from error
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# What kind of process this is (docs/operations.md, "Production mode"):
# - development: a developer's machine or a test run; DEBUG may be on;
# - production: set by the Dockerfile; DEBUG=1 is refused, whatever else is set;
# - build: settings loaded only to build the image (collectstatic); a throwaway random
#   SECRET_KEY, and webcare/wsgi.py refuses to serve with it.
WEBCARE_ENV = env_str("WEBCARE_ENV", "development") or "development"
if WEBCARE_ENV not in {"development", "production", "build"}:
    raise ImproperlyConfigured(
        f"WEBCARE_ENV={WEBCARE_ENV!r}; use 'production' (the Docker image's default), "
        "'development' or 'build'"
    )

DEBUG = env_bool("DEBUG", default=False)
if DEBUG and WEBCARE_ENV != "development":
    # Debug pages show settings, code and data to whoever triggers an error.
    raise ImproperlyConfigured(
        f"DEBUG=1 is refused with WEBCARE_ENV={WEBCARE_ENV}: remove DEBUG (or set DEBUG=0). "
        "To debug a copy of production on your own machine, also set WEBCARE_ENV=development."
    )

_DEVELOPMENT_SECRET_KEY = "webcare-development-only-secret-key-never-use-in-production"  # noqa: S105
# Keys that were ever published in this repository: anyone could sign sessions with them.
_PUBLISHED_SECRET_KEYS = {_DEVELOPMENT_SECRET_KEY, "build-only-not-a-secret"}


def secret_key_weakness(key: str) -> str | None:
    """Why `key` cannot be production's SECRET_KEY, or None when it can. The length and
    variety rule is Django's own (check security.W009), so `check --deploy` agrees."""
    if key in _PUBLISHED_SECRET_KEYS:
        return "it is a key published in Webcare's source code"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {SECRET_KEY_INSECURE_PREFIX!r} (made by startproject)"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return f"it has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters"
    return None


_HOW_TO_SET_THE_KEY = (
    "Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`; "
    "DEBUG=1 (development only) uses a built-in key."
)
if WEBCARE_ENV == "build":
    # Nothing made during the build may depend on a known key, and nothing that runs
    # later can reuse this one: it exists only in this process.
    SECRET_KEY = secrets.token_urlsafe(50)
else:
    SECRET_KEY = env_str("SECRET_KEY") or (_DEVELOPMENT_SECRET_KEY if DEBUG else "")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be set when DEBUG is off. {_HOW_TO_SET_THE_KEY}"
        )
    _weakness = None if DEBUG else secret_key_weakness(SECRET_KEY)
    if _weakness:
        raise ImproperlyConfigured(
            f"SECRET_KEY is refused because {_weakness}. {_HOW_TO_SET_THE_KEY}"
        )

# Channel credentials are encrypted at rest with these Fernet keys (comma-separated: the
# first encrypts, all decrypt, so keys can be rotated). Derived from SECRET_KEY if unset.
CREDENTIALS_KEYS = env_list("CREDENTIALS_KEY", []) or [SECRET_KEY]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's JavaScript and CSS from our own static files: the docs work offline.
    "drf_spectacular_sidecar",
    "channels.apps.ChannelsConfig",
    "inbox.apps.InboxConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webcare.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a logged-in agent's own language wins over the cookie.
    "webcare.middleware.ChosenLanguageMiddleware",
    "webcare.middleware.AgentSeenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "webcare.urls"
WSGI_APPLICATION = "webcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "inbox.context_processors.presence",
                "inbox.context_processors.theme",
            ],
        },
    },
]

# Production defaults to PostgreSQL and Redis on the same host (a single-server install,
# as Debian's packages set them up); /readyz says so when they are not there. A developer
# who runs manage.py without `make run` is told what to do instead of being pointed at a
# server that is probably not there.
_PRODUCTION_DATABASE_URL = "postgres://webcare@localhost:5432/webcare"
_PRODUCTION_REDIS_URL = "redis://localhost:6379/0"
_database_url = env_str("DATABASE_URL") or ("" if DEBUG else _PRODUCTION_DATABASE_URL)
if not _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` start an embedded PostgreSQL "
        "for you; in production point it at your PostgreSQL server."
    )
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# libpq waits for an unreachable server as long as TCP does (minutes): a request, or the
# /readyz probe, should fail within seconds instead.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
)
# PostgreSQL's JIT compiles a query when its estimated cost is high, which happens for
# tiny tables never analysed (a team's staff rows rarely reach autovacuum's threshold): 50 ms
# of compiling for a 0.05 ms query on the conversation page (docs/performance.md). Webcare's
# queries are short index lookups that never repay compilation. DATABASE_JIT=1 leaves the
# server's setting alone (e.g. behind a pooler that refuses the `options` parameter).
if not env_bool("DATABASE_JIT", False):
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")

REDIS_URL = env_str("REDIS_URL") or ("" if DEBUG else _PRODUCTION_REDIS_URL)
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set. `make run` and `make test` start an embedded Redis for you; "
        "in production point it at your Redis server."
    )

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "webcare"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", "Nederlands"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Transport and browser security (docs/operations.md, "TLS and security headers") ----
# Production defaults assume TLS ends at a reverse proxy (ingress, load balancer) that sets
# X-Forwarded-Proto and overwrites whatever the client sent in it. Each can be relaxed, for
# example to try the image over plain http on a laptop (README, "Production settings").
if env_bool("BEHIND_TLS_PROXY", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Orchestrators probe the pods over plain http inside the cluster, past the proxy: those
# two answer there instead of redirecting to an https address the probe cannot follow.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# HSTS: browsers that once saw Webcare over https refuse plain http for it for a year.
# includeSubDomains covers only subdomains of the host that serves Webcare (for
# webcare.demodorp.nl: *.webcare.demodorp.nl), never demodorp.nl's other sites. `preload`
# only consents to the browsers' preload list; a name lands there only when its owner
# submits the registrable domain (demodorp.nl) at hstspreload.org, which Webcare never does.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# No script reads a cookie: htmx, the browsable API and Swagger UI take the CSRF token from
# the page. Lax, not Strict: the identity provider's redirect back to /oidc/callback/ is a
# cross-site navigation that must carry the session holding the login's state.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60, minimum=300)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Celery -----------------------------------------------------------------------------
# Tasks take ids and re-read their rows; acks_late + reject_on_worker_lost give a task
# that was running when its worker died back to the queue instead of losing it.
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "webcare")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"

# The one place that defines every periodic schedule (docs/architecture.md, "Queues").
CELERY_BEAT_SCHEDULE = {
    # Cheap (one query): enqueues a poll for each channel whose own poll interval has elapsed.
    # Every second, so that a poll starts within a second of being due, not up to a whole
    # interval late (channels.selectors.channel_ids_due_for_poll).
    "channels.poll_due": {"task": "channels.poll_due", "schedule": 1.0},
    # Safety net for assignment: new conversations also trigger it directly on commit.
    "inbox.assign_waiting": {"task": "inbox.assign_waiting", "schedule": 60.0},
    # Replies left in `sending` by a crashed worker or a lost response get checked.
    "inbox.recover_stuck_replies": {"task": "inbox.recover_stuck_replies", "schedule": 120.0},
    # Available agents idle for WEBCARE_AUTO_AWAY_MINUTES become away.
    "inbox.presence_sweep": {"task": "inbox.presence_sweep", "schedule": 60.0},
    # Snoozed conversations whose time has come open again (at most 30 s late).
    "inbox.wake_snoozed": {"task": "inbox.wake_snoozed", "schedule": 30.0},
    # The dashboard's facts and rollups catch up with what changed (docs/metrics.md).
    "inbox.metrics_refresh": {"task": "inbox.metrics_refresh", "schedule": 15.0},
    # Retention policies, once a night (03:30 UTC, CELERY_TIMEZONE), when nobody works.
    "inbox.retention_apply": {
        "task": "inbox.retention_apply",
        "schedule": crontab(hour=3, minute=30),
    },
    # Forgets webhook body digests and erased-message digests past their windows.
    "channels.forget_replay_memory": {
        "task": "channels.forget_replay_memory",
        "schedule": crontab(hour=4, minute=15),
    },
}
# Task modules autodiscovery does not find (it imports only each app's tasks.py).
CELERY_IMPORTS = ("channels.webhook_tasks",)

# --- Webcare ------------------------------------------------------------------------------
# How far back the first poll of a new channel looks, unless the channel says otherwise.
WEBCARE_DEFAULT_HISTORY_DAYS = env_int("WEBCARE_DEFAULT_HISTORY_DAYS", 7, minimum=1)
# Timeout, in seconds, of every HTTP call to a platform (connect and read).
WEBCARE_PLATFORM_TIMEOUT = env_int("WEBCARE_PLATFORM_TIMEOUT", 15, minimum=1)
# A reply that stays in `sending` longer than this is checked against the platform.
WEBCARE_STUCK_SENDING_SECONDS = env_int("WEBCARE_STUCK_SENDING_SECONDS", 300, minimum=10)
# A signed webhook body seen again within this window is acknowledged and not processed
# (a replay); an event older than it is refused. Meta retries an unacknowledged delivery for
# up to 36 hours, so the window must be longer than that.
WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS = env_int(
    "WEBCARE_WEBHOOK_REPLAY_WINDOW_SECONDS", 7 * 24 * 60 * 60, minimum=48 * 60 * 60
)
# How long the keyed digests of erased platform messages are kept, so that no poll, channel
# history window or webhook imports an erased message again.
WEBCARE_ERASED_MESSAGE_MEMORY_DAYS = env_int("WEBCARE_ERASED_MESSAGE_MEMORY_DAYS", 400, minimum=30)
# Filled in for `{{ gemeente }}` in canned responses (inbox/canned.py).
WEBCARE_MUNICIPALITY_NAME = (
    env_str("WEBCARE_MUNICIPALITY_NAME", "Gemeente Demodorp") or "Gemeente Demodorp"
)
# An available agent without any request for this long is set away (presence sweep).
WEBCARE_AUTO_AWAY_MINUTES = env_int("WEBCARE_AUTO_AWAY_MINUTES", 15, minimum=1)
# A citizen who writes again within this many days goes back to the agent who handled them.
WEBCARE_STICKY_DAYS = env_int("WEBCARE_STICKY_DAYS", 7, minimum=0)
# The look (README, "Your own look"): NL Design System components styled by design tokens.
# A municipality points these at its own tokens stylesheet (a static path, or an https URL
# then allowed by the CSP) and the class that stylesheet puts its tokens on.
WEBCARE_THEME_STYLESHEET = (
    env_str("WEBCARE_THEME_STYLESHEET", "vendor/utrecht/theme.css") or "vendor/utrecht/theme.css"
)
WEBCARE_THEME_CLASS = env_str("WEBCARE_THEME_CLASS", "utrecht-theme") or "utrecht-theme"
# Response norm used for the inbox's waiting-time colours until the dashboard's service
# norms (issue 6) replace it: amber from 75 % of the norm, red past it.
WEBCARE_RESPONSE_NORM_MINUTES = env_int("WEBCARE_RESPONSE_NORM_MINUTES", 60, minimum=1)
# The dashboard shows a word or hashtag only when at least this many different citizens used
# it in the period: topics and aggregates, never one citizen's words (docs/metrics.md).
WEBCARE_TERM_MIN_CITIZENS = env_int("WEBCARE_TERM_MIN_CITIZENS", 3, minimum=1)
# Where citizens and staff report an accessibility problem (the accessibility statement).
WEBCARE_ACCESSIBILITY_CONTACT = env_str("WEBCARE_ACCESSIBILITY_CONTACT", "") or ""
# Port of the local sandbox platform started by `make run` (demo channel points at it).
WEBCARE_SANDBOX_PORT = env_int("SANDBOX_PORT", 8025, minimum=1)

# --- Privacy, archiving, formal requests (issue 7; docs/architecture.md, "Privacy and
# archiving") ------------------------------------------------------------------------------
# The municipality's own public phone numbers and e-mail addresses, comma-separated: the
# personal-data guard does not flag these ("bel 14 020" or "info@demodorp.nl" is no leak).
WEBCARE_PUBLIC_CONTACT_DETAILS = [
    item.strip()
    for item in (env_str("WEBCARE_PUBLIC_CONTACT_DETAILS", "") or "").split(",")
    if item.strip()
]
# Where the suggested answers send citizens: a web form for personal matters, and the page
# about objections, applications, Woo requests and complaints (formal requests).
WEBCARE_CONTACT_URL = env_str("WEBCARE_CONTACT_URL", "https://www.demodorp.nl/contact") or ""
WEBCARE_FORMAL_REQUEST_URL = (
    env_str("WEBCARE_FORMAL_REQUEST_URL", "https://www.demodorp.nl/bezwaar-en-klachten") or ""
)
# Archive exports made from the UI or the API are written under this directory.
WEBCARE_ARCHIVE_DIR = Path(
    env_str("WEBCARE_ARCHIVE_DIR", str(BASE_DIR / "var" / "archive")) or BASE_DIR / "var/archive"
)

# --- Single sign-on and logging in (issue 7; docs/architecture.md, "Logging in") ---------
# OpenID Connect (Entra ID, ADFS, Keycloak …) is on when a client id is set. mozilla-django-oidc
# has no discovery: the provider's endpoints are given one by one (README, "Single sign-on").
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "") or ""
WEBCARE_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
# Off: only single sign-on, no password logins anywhere (login page, /admin/ login).
WEBCARE_LOCAL_LOGIN = env_bool("WEBCARE_LOCAL_LOGIN", default=True)
if not WEBCARE_LOCAL_LOGIN and not WEBCARE_OIDC_ENABLED:
    raise ImproperlyConfigured(
        "WEBCARE_LOCAL_LOGIN=false needs single sign-on (OIDC_RP_CLIENT_ID …): nobody could log in."
    )
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "") or ""
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "") or ""
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "") or ""
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "") or ""
# Optional: without it the claims come from the id_token alone (Entra ID puts groups there).
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "") or ""
# Optional but advised: the id_token's `iss` must equal it (`aud` is always checked).
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER", "") or ""
# Optional: logging out of Webcare also ends the session at the provider.
OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT", "") or ""
if WEBCARE_OIDC_ENABLED:
    _oidc_missing = [
        name
        for name, value in {
            "OIDC_RP_CLIENT_SECRET": OIDC_RP_CLIENT_SECRET,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": OIDC_OP_AUTHORIZATION_ENDPOINT,
            "OIDC_OP_TOKEN_ENDPOINT": OIDC_OP_TOKEN_ENDPOINT,
            "OIDC_OP_JWKS_ENDPOINT": OIDC_OP_JWKS_ENDPOINT,
        }.items()
        if not value
    ]
    if _oidc_missing:
        raise ImproperlyConfigured(
            f"OIDC_RP_CLIENT_ID is set, so single sign-on also needs {', '.join(_oidc_missing)}."
        )
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256") or "RS256"
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile") or "openid email profile"
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", default=True)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
# The id_token is kept in the session only as the `id_token_hint` of the provider logout.
OIDC_STORE_ID_TOKEN = bool(OIDC_OP_LOGOUT_ENDPOINT)
OIDC_OP_LOGOUT_URL_METHOD = "webcare.oidc.provider_logout_url"
LOGIN_REDIRECT_URL_FAILURE = "login"
# Shown on the button: "Log in with <name>".
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "") or ""
# Which claim is the Webcare username (matched case-insensitively); `email` when it is absent.
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username") or "preferred_username"
# The claim with the user's groups: names (Keycloak, ADFS) or object ids (Entra ID).
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups") or "groups"
# role=group, comma-separated; a role may be listed more than once for several groups. The
# highest role among the user's groups wins; a user in none of them cannot log in.
OIDC_ROLE_GROUPS: dict[str, list[str]] = {}
for _item in env_list("OIDC_ROLE_GROUPS", []):
    _role, _sep, _group = _item.partition("=")
    if not _sep or _role.strip() not in {"trainee", "agent", "team_lead", "administrator"}:
        raise ImproperlyConfigured(
            f"OIDC_ROLE_GROUPS item {_item!r}: use role=group with role one of "
            "trainee, agent, team_lead, administrator"
        )
    OIDC_ROLE_GROUPS.setdefault(_role.strip(), []).append(_group.strip())
if WEBCARE_OIDC_ENABLED and not OIDC_ROLE_GROUPS:
    raise ImproperlyConfigured(
        "Single sign-on needs OIDC_ROLE_GROUPS (e.g. agent=webcare-medewerkers): the groups "
        "decide who may log in and with which role."
    )
# A user the provider knows but Webcare does not yet gets an account at their first login.
OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", default=True)
# Password logins go through the throttled backend; single sign-on through its own.
AUTHENTICATION_BACKENDS = [
    *(["webcare.login.ThrottledModelBackend"] if WEBCARE_LOCAL_LOGIN else []),
    *(["webcare.oidc.OIDCBackend"] if WEBCARE_OIDC_ENABLED else []),
]
# Login throttling: after this many failed password logins for one username (or 20 from one
# IP address) within the lockout time, further attempts are refused for that time.
WEBCARE_LOGIN_MAX_FAILURES = env_int("WEBCARE_LOGIN_MAX_FAILURES", 5, minimum=1)
WEBCARE_LOGIN_MAX_FAILURES_PER_IP = env_int("WEBCARE_LOGIN_MAX_FAILURES_PER_IP", 20, minimum=1)
WEBCARE_LOGIN_LOCKOUT_MINUTES = env_int("WEBCARE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)

# --- REST API (docs/architecture.md, "REST API") ------------------------------------------
# Requests per user and minute; over it the API answers 429 with Retry-After.
WEBCARE_API_RATE_LIMIT = env_int("WEBCARE_API_RATE_LIMIT", 600, minimum=1)
REST_FRAMEWORK = {
    # Scripts send `Authorization: Token …`; the browsable API and Swagger UI use the
    # session of the logged-in agent (with its CSRF check).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The same rule as the UI: only the webcare team (users with an AgentProfile).
    "DEFAULT_PERMISSION_CLASSES": ["inbox.api.permissions.IsStaff"],
    "DEFAULT_PAGINATION_CLASS": "inbox.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["inbox.api.throttling.PerUserRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "inbox.api.exceptions.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Webcare API",
    "DESCRIPTION": (
        "The shared inbox of the webcare team as JSON: conversations, replies, assignment, "
        "notes, tags, canned responses, agents and channels. Authenticate with "
        "`Authorization: Token <key>` (`python manage.py api_token USERNAME`). Errors are "
        '`{"detail": "…", "code": "…"}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes the API, not data: readable without logging in.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "channels.models.Channel.Kind",
        "AuthorKindEnum": ["citizen", "agent", "municipality"],
        # Archive exports also have a `status`: without a name each, the schema would call
        # this one StatusD77Enum (and `check --deploy` warns, drf_spectacular.W001).
        "ConversationStatusEnum": "inbox.models.Conversation.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "inbox.api.schema.add_error_responses",
    ],
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO") or "INFO"
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}; use 'text' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "webcare.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # At DEBUG these write secrets into the log: tweepy the Authorization header (the
        # bearer token), oauthlib and requests-oauthlib the consumer key and access token.
        "oauthlib": {"level": "INFO"},
        "requests_oauthlib": {"level": "INFO"},
        "tweepy": {"level": "INFO"},
    },
}
