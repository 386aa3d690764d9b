"""Output shapes built from rows, compiled from the output serializer that defines them.

A list page, a detail and a sync pull read plain rows (`QuerySet.values()` or a cursor), not
model instances: building instances and running a DRF serializer costs more than the query. The
serializer stays the one definition of the shape (it drives the schema); a `RowShape` reads its
`Meta.fields` once, at import, and turns a row into the same dict:

- a field's key is its name, its column the serializer field's `source` (`list` reads `list_id`),
  or a column named in `columns` (a value the reader adds, e.g. an annotation);
- a field whose value is not one column gets a `Computed` (the columns it needs, a function of
  the row).

Every other value must already be what the renderer writes exactly as DRF writes the
serializer's (UUIDs, datetimes, JSON values): `tests/contract.py` compares the two for every
resource's list, detail and pull, so a new serializer field that a row cannot carry fails there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from rest_framework import serializers


@dataclass(frozen=True)
class Computed:
    """A value made from several columns (or reshaped from one)."""

    columns: tuple[str, ...]
    value: Callable[[Mapping[str, Any]], Any]


class RowShape:
    """`shape(row)` → the output serializer's representation, keys in its order."""

    def __init__(
        self,
        serializer: type[serializers.ModelSerializer],
        *,
        columns: Mapping[str, str] | None = None,
        computed: Mapping[str, Computed] | None = None,
    ) -> None:
        columns = dict(columns or {})
        computed = dict(computed or {})
        declared = serializer().fields
        model: type[models.Model] = serializer.Meta.model
        model_columns = {field.attname for field in model._meta.concrete_fields}
        self.keys: tuple[str, ...] = tuple(serializer.Meta.fields)
        unknown = (set(columns) | set(computed)) - set(self.keys)
        if unknown:
            raise ImproperlyConfigured(f"{serializer.__name__} has no fields {sorted(unknown)}")
        fields: list[tuple[str, str, Callable[[Mapping[str, Any]], Any] | None]] = []
        needed: list[str] = []
        for key in self.keys:
            if key in computed:
                fields.append((key, "", computed[key].value))
                needed.extend(computed[key].columns)
                continue
            column = columns.get(key) or str(declared[key].source)
            if key not in columns and column not in model_columns:
                raise ImproperlyConfigured(
                    f"{serializer.__name__}.{key} reads {column!r}, which is no column of "
                    f"{model.__name__}: name its column or give it a Computed"
                )
            fields.append((key, column, None))
            needed.append(column)
        self.columns: tuple[str, ...] = tuple(dict.fromkeys(needed))
        # key → column of every field that is one column (a raw-SQL reader selects by it).
        self.plain: dict[str, str] = {key: column for key, column, value in fields if value is None}
        # The columns a QuerySet.values() can read; the others (in `columns`) the reader adds.
        self.model_columns: tuple[str, ...] = tuple(c for c in self.columns if c in model_columns)
        self._call = _compile(serializer.__name__, fields)

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self._call(row)

    def many(self, rows: Any) -> list[dict[str, Any]]:
        call = self._call
        return [call(row) for row in rows]


def _compile(
    name: str, fields: list[tuple[str, str, Callable[[Mapping[str, Any]], Any] | None]]
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The shaper as one dict display, `{"id": row["id"], "due": f1(row), ...}`, as a hand-written
    one would be (the way dataclasses builds its __init__): a generic loop over the fields cost
    twice as much per row (figures: docs/benchmarks.md). Keys in the serializer's order,
    as DRF renders them (clients diff and hash bodies). Keys and columns are written with repr(),
    so no name can be anything but a string literal."""
    functions = {f"_f{index}": value for index, (_, _, value) in enumerate(fields) if value is not None}
    items = ", ".join(
        f"{key!r}: _f{index}(row)" if value is not None else f"{key!r}: row[{column!r}]"
        for index, (key, column, value) in enumerate(fields)
    )
    namespace: dict[str, Any] = dict(functions)
    exec(f"def shape(row):\n    return {{{items}}}\n", namespace)  # noqa: S102 - literals only, see above
    shape = namespace["shape"]
    shape.__qualname__ = f"RowShape[{name}]"
    return shape
