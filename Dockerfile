# Production image: gunicorn for the web, the same image runs the Celery worker and beat.
FROM python:3.12-slim

# WEBCARE_ENV=production: settings refuse DEBUG=1 and a weak or published SECRET_KEY
# (docs/operations.md, "Production mode").
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEBCARE_ENV=production

# The processes run as this user; everything below is copied as root and stays owned by
# root, so a compromised process cannot rewrite the code, templates or static files.
RUN useradd --create-home --uid 1000 webcare
WORKDIR /app

# Only the pinned runtime dependencies: the code runs from /app, beside its templates,
# static files and translations (settings find them relative to the source tree).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt

COPY manage.py ./
COPY webcare ./webcare
COPY inbox ./inbox
COPY channels ./channels
COPY templates ./templates
COPY static ./static
COPY locale ./locale
# Build mode: settings load with a throwaway random SECRET_KEY and the server refuses to
# start with it. The URLs are only parsed; collectstatic connects to neither.
RUN WEBCARE_ENV=build DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 python manage.py collectstatic --noinput

# The one place the app writes: archive exports (WEBCARE_ARCHIVE_DIR). Mount a volume here
# to keep them.
RUN mkdir -p /app/var/archive && chown -R webcare:webcare /app/var

USER webcare
EXPOSE 8000
# Liveness only (/healthz): Docker Swarm replaces an unhealthy container, and restarting
# the web server never fixes a database outage. Sent with a Host that ALLOWED_HOSTS
# accepts, or Django would answer 400. The worker and beat serve no HTTP: docker-compose.yml
# turns this off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request as r; host = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': host if host and host != '*' else 'localhost'}), timeout=4)"
CMD ["gunicorn", "webcare.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
