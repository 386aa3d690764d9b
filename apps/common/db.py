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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import orjson
from django.db import connections, models
from django.utils import timezone


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


def _column(field: Any, connection: Any) -> tuple[str, str]:
    """How a column travels in an array: (the array's type, the element's expression around
    `{}`). JSON goes as text (orjson writes it) and is cast per element."""
    db_type = field.db_type(connection)
    if db_type == "jsonb":
        return "text[]", "{}::jsonb"
    return f"{db_type}[]", "{}"


def _values(field: Any, objs: Sequence[Any], connection: Any, *, add: bool = False) -> list[Any]:
    if field.db_type(connection) == "jsonb":
        return [
            None if (value := getattr(obj, field.attname)) is None else orjson.dumps(value).decode()
            for obj in objs
        ]
    if add and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
        # One instant for the batch, prepared once (pre_save per row would read the clock and
        # adapt the value a hundred times: a third of an insert's client time).
        now = timezone.now()
        for obj in objs:
            setattr(obj, field.attname, now)
        return [field.get_db_prep_value(now, connection, prepared=False)] * len(objs)
    values = (field.pre_save(obj, add) if add else getattr(obj, field.attname) for obj in objs)
    return [field.get_db_prep_value(value, connection, prepared=False) for value in values]


def update_rows(
    model: type[models.Model], objs: Sequence[Any], columns: Sequence[str], *, using: str
) -> None:
    """Write `columns` of `objs` (saved rows of `model`, matched by primary key) as they are in
    Python: on PostgreSQL one `UPDATE … FROM unnest(…)` of typed arrays on a server-binding
    cursor; elsewhere Django's bulk_update. (bulk_update's `CASE WHEN` per row and column cost
    ~2 ms of Python per row for a batch of 100: more than the rest of a push of edits.)"""
    if not objs:
        return
    if not is_postgresql(using):
        model._default_manager.using(using).bulk_update(objs, list(columns))
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    fields: list[Any] = [model._meta.pk, *(model._meta.get_field(name) for name in columns)]
    casts = [_column(field, connection) for field in fields]
    assignments = ", ".join(
        f"{quote(field.column)} = {element.format(f'new.c{index}')}"
        for index, (field, (_, element)) in enumerate(zip(fields, casts, strict=True))
        if index
    )
    arrays = ", ".join(f"%b::{array}" for array, _ in casts)
    names = ", ".join(f"c{index}" for index in range(len(fields)))
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS old SET {assignments} "  # noqa: S608 - names from the model
        f"FROM unnest({arrays}) AS new({names}) WHERE old.{quote(fields[0].column)} = new.c0"
    )
    with bound_cursor(using) as cursor:
        cursor.execute(sql, [_values(field, objs, connection) for field in fields])


def insert_rows(
    model: type[models.Model], objs: Sequence[Any], *, using: str, as_given: bool = False
) -> None:
    """INSERT new `objs` of `model`: on PostgreSQL one `INSERT … SELECT FROM unnest(…)` of typed
    arrays, elsewhere bulk_create. Every concrete field goes but those the database fills in (an
    auto-increment primary key, a generated column), which are not read back: as bulk_create
    gives them (`pre_save`: auto_now_add and the like), or with `as_given` every column as it is
    on the object, timestamps included (restoring rows written elsewhere, e.g. an imported
    archive)."""
    if not objs:
        return
    if not is_postgresql(using):
        _bulk_create(model, objs, using=using, as_given=as_given)
        return
    connection = connections[using]
    quote = connection.ops.quote_name
    fields: list[Any] = [field for field in model._meta.concrete_fields if not field.db_returning]
    casts = [_column(field, connection) for field in fields]
    names = ", ".join(f"c{index}" for index in range(len(fields)))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"SELECT {', '.join(element.format(f'new.c{i}') for i, (_, element) in enumerate(casts))} "
        f"FROM unnest({', '.join(f'%b::{array}' for array, _ in casts)}) AS new({names})"
    )
    with bound_cursor(using) as cursor:
        cursor.execute(sql, [_values(field, objs, connection, add=not as_given) for field in fields])


def _bulk_create(model: type[models.Model], objs: Sequence[Any], *, using: str, as_given: bool) -> None:
    """bulk_create; `as_given`: then the columns auto_now/auto_now_add overwrote put back."""
    stamped = [
        field
        for field in model._meta.concrete_fields
        if as_given and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
    ]
    given = [[getattr(obj, field.attname) for field in stamped] for obj in objs]
    model._default_manager.using(using).bulk_create(objs)
    if stamped:
        for obj, values in zip(objs, given, strict=True):
            for field, value in zip(stamped, values, strict=True):
                setattr(obj, field.attname, value)
        model._default_manager.using(using).bulk_update(objs, [field.name for field in stamped])
