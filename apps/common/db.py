"""SQL of the sync hot paths (push's bulk writes, pull's page reads), written for PostgreSQL.

Django's psycopg backend binds parameters on the client: every value is quoted into the SQL
text in Python. For a bulk INSERT of 100 rows that quoting (arrays of text and JSON) cost more
CPU than the database spent on the insert (measured: 5.2 ms of client CPU per 100 notes through
`bulk_create`, 1.3 ms with the same rows sent as typed arrays to `INSERT ... SELECT FROM
unnest(...)` on a server-binding cursor). `bound_cursor` gives such a cursor on the request's
own connection and transaction, wrapped like any Django cursor (database errors become
django.db errors, execute wrappers and query logging see it). Send the arrays in binary
(`%(name)b`): psycopg's text format escapes every element in Python, which for 100 JSON
documents cost 3.4 ms of CPU against 0.26 ms in binary. With `binary=True` the rows come back
in binary as well: parsing 500 rows of timestamps and UUIDs from text cost ~4 ms a page.
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
