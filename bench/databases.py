"""The benchmarks' own databases, on the server of the configured DATABASE_URL.

The load test (`bench/load/runner.py`) and the suite (`bench/suite.py`) never touch the
data behind DATABASE_URL: each replaces a database of its own on the same server (the
embedded one on a fresh machine) through its maintenance database, and drops it afterwards.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from webcare.devservices import psycopg2_connect_kwargs


class DatabaseRefused(Exception):
    """The server could not be reached, or refused to create the database: the message says
    which, for the runner to show."""


def database_url_for(url: str, database: str) -> str:
    """The same server and credentials as `url`, another database (works for the embedded
    server's socket URL, whose directory is in the query, too)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance_connection(configured_url: str) -> Any:
    import psycopg2

    url = database_url_for(configured_url, "postgres")
    connection = psycopg2.connect(**psycopg2_connect_kwargs(url))
    connection.autocommit = True
    return connection


def database_exists(configured_url: str, name: str) -> bool:
    connection = _maintenance_connection(configured_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def replace_database(configured_url: str, name: str, *, template: str | None = None) -> None:
    """Drop `name` if it is there (left by --keep, or by a run that was killed) and create it
    again, empty or as a copy of `template`. The configured database itself is refused."""
    import psycopg2
    from psycopg2 import sql

    if name == database_name(configured_url):
        raise DatabaseRefused(
            f"{name} is the configured DATABASE_URL's own database; a benchmark needs one "
            "of its own."
        )
    try:
        connection = _maintenance_connection(configured_url)
    except psycopg2.Error as error:
        raise DatabaseRefused(f"cannot reach the PostgreSQL of DATABASE_URL: {error}") from error
    try:
        with connection.cursor() as cursor:
            identifier = sql.Identifier(name)
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
            if template:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        identifier, sql.Identifier(template)
                    )
                )
            else:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    except psycopg2.Error as error:
        raise DatabaseRefused(
            f"cannot create the database {name} (a benchmark needs CREATEDB on the server of "
            f"DATABASE_URL): {error}"
        ) from error
    finally:
        connection.close()


def drop_database(configured_url: str, name: str) -> None:
    from psycopg2 import sql

    connection = _maintenance_connection(configured_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        connection.close()
