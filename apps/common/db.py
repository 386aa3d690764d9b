"""SQL of the sync hot paths (push's bulk writes, pull's page reads), written for PostgreSQL.

Django's psycopg backend binds parameters on the client: every value is quoted into the SQL
text in Python. For a bulk INSERT of 100 rows that quoting (arrays of text and JSON) cost more
CPU than the database spent on the insert; the same rows sent as typed arrays to `INSERT ...
SELECT FROM unnest(...)` on a server-binding cursor cost a quarter of it. `bound_cursor` gives
such a cursor on the request's own connection and transaction, wrapped like any Django cursor
(database errors become django.db errors, execute wrappers and query logging see it). Send the
arrays in binary (`%(name)b`): psycopg's text format escapes every element in Python, an order
of magnitude dearer. With `binary=True` the rows come back in binary as well: parsing a page of
timestamps and UUIDs from text cost more than the query. (Figures: docs/benchmarks.md.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.db import connections


def is_postgresql(using: str) -> bool:
    return bool(connections[using].vendor == "postgresql")


@contextmanager
def bound_cursor(using: str, *, binary: bool = False) -> Iterator[Any]:
    """A cursor on `using` that sends parameters apart from the SQL (PostgreSQL only); with
    `binary`, results come back in binary too (no text parsing of timestamps and UUIDs)."""
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg import pq

    connection = connections[using]
    connection.ensure_connection()
    # What connection.cursor() does, with the server-binding cursor class instead of the
    # configured client-binding one: validate thread sharing, wrap (debug wrapper if logging).
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = cast(Any, ServerBindingCursor)(connection.connection)
    if binary:
        raw.format = pq.Format.BINARY
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    try:
        yield cursor
    finally:
        cursor.close()
