# Production image: gunicorn for the web, the same image runs the Celery worker and beat.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

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
# collectstatic needs settings to load; these values exist only for this build step.
RUN DEBUG=0 SECRET_KEY=build-only-not-a-secret DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 python manage.py collectstatic --noinput

USER webcare
EXPOSE 8000
CMD ["gunicorn", "webcare.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
