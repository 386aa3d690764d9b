"""Where a task or a list goes among its siblings: an explicit key, or next to siblings the
client names (`after`/`before`), as a fractional key from positions.py — one write, no
renumbering, until a gap runs out and its group is rewritten (`rebalance`). Sub-tasks follow
their parent in the default task order (`subtasks_follow`, Task.set_tree)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import OuterRef, QuerySet, Subquery

from apps.common.errors import ValidationFailed
from apps.sync.feed import objects_record

from . import positions
from .models import TREE_COLUMNS, Task, TaskList

M = TypeVar("M", TaskList, Task)


@dataclass(frozen=True)
class Placement:
    """Where the client wants an object: an explicit key, or next to siblings it names."""

    position: str | None = None
    after: uuid.UUID | None = None
    before: uuid.UUID | None = None

    @classmethod
    def pop_from(cls, fields: dict[str, Any]) -> Placement:
        return cls(
            position=fields.pop("position", None),
            after=fields.pop("after", None),
            before=fields.pop("before", None),
        )

    @property
    def given(self) -> bool:
        return self.position is not None or self.after is not None or self.before is not None


def place(
    *,
    model: type[M],
    siblings: QuerySet[M],
    placement: Placement,
    current: str | None,
    now: datetime,
    _rebalanced: bool = False,
) -> str:
    """The position key for an object among `siblings` (which exclude the object itself).

    No placement keeps `current`, or appends when there is none (a new object, or one that moved
    to another list or parent). Anchors must be siblings; `after` alone lands right after its
    anchor, `before` alone right before, both together anywhere between them.
    """
    if placement.position is not None:
        return placement.position
    if placement.after is None and placement.before is None:
        if current is not None:
            return current
        last = siblings.order_by("-position").values_list("position", flat=True).first()
        key = positions.key_between(last, None)
    else:
        wanted = [anchor for anchor in (placement.after, placement.before) if anchor is not None]
        anchors = dict(siblings.filter(id__in=wanted).values_list("id", "position"))
        errors = {
            name: ["Must be another task in the same list and under the same parent."]
            if model is Task
            else ["Must be another of your task lists."]
            for name, anchor in (("after", placement.after), ("before", placement.before))
            if anchor is not None and anchor not in anchors
        }
        if errors:
            raise ValidationFailed(errors)
        low = anchors[placement.after] if placement.after is not None else None
        high = anchors[placement.before] if placement.before is not None else None
        if low is not None and high is None:
            high = _next_to(siblings, low, above=True)
        elif high is not None and low is None:
            low = _next_to(siblings, high, above=False)
        elif low is not None and high is not None and low >= high:
            raise ValidationFailed.field("before", "`before` must be placed after `after`.")
        key = positions.key_between(low, high)
    if len(key) > positions.MAX_LENGTH and not _rebalanced:
        rebalance(model=model, siblings=siblings, now=now)
        return place(
            model=model, siblings=siblings, placement=placement, current=current, now=now, _rebalanced=True
        )
    return key


def _next_to(siblings: QuerySet[M], key: str, *, above: bool) -> str | None:
    """The sibling key right above (or below) `key`, None at the end of the group."""
    lookup, order = ("position__gt", "position") if above else ("position__lt", "-position")
    return siblings.filter(**{lookup: key}).order_by(order).values_list("position", flat=True).first()


def rebalance(*, model: type[M], siblings: QuerySet[M], now: datetime) -> None:
    """Rewrite a sibling group's keys short and evenly spaced, keeping their order. Only ever
    needed after very many inserts into one gap; the rewritten rows get new versions."""
    rows = list(siblings.select_for_update().order_by("position", "id"))
    changed: list[M] = []
    for row, key in zip(rows, positions.spread(len(rows)), strict=True):
        if row.position != key:
            row.position = key
            row.bump(["position"], now=now)
            if isinstance(row, Task):
                row.set_tree()
            changed.append(row)
    if changed:
        columns = {"position", *changed[0].bookkeeping, *(TREE_COLUMNS if model is Task else ())}
        model.objects.bulk_update(changed, sorted(columns))
        objects_record(changed)
        subtasks_follow([row.id for row in changed if isinstance(row, Task) and row.parent_id is None])


def subtasks_follow(parent_ids: Sequence[uuid.UUID]) -> None:
    """After top-level tasks moved (a new position, list or rebalance): their sub-tasks' tree
    keys take the parents' positions as saved, so the default order keeps them underneath. One
    UPDATE; the sub-tasks' rows are derived data only (no version, no feed entry)."""
    if parent_ids:
        parent_position = Task.objects.filter(id=OuterRef("parent_id")).values("position")[:1]
        Task.objects.filter(parent_id__in=parent_ids).update(tree_position=Subquery(parent_position))
