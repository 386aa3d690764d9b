"""The `due` of a task: an all-day date, or an instant with the UTC offset the client gave.

On the wire `due` is one string: `"2025-03-01"` (a date, no time) or an ISO 8601 date-time with
an offset, `"2025-03-01T09:00:00+01:00"` (`Z` is accepted for UTC). A date-time without an
offset is refused: the server cannot guess the client's zone. Responses give the date-time back
in the offset it was written with, so a client sees what it wrote.

Storage (see models.Task): `due_date` for a date; `due_at` (the instant, UTC in the database)
plus `due_offset` (minutes east of UTC) for a date-time. Two derived columns serve filters and
ordering: `due_day` (the calendar day of the due in its own offset) and `due_sort` (the instant;
a date counts as 00:00 UTC of that day; no due sorts as NO_DUE, after every real due).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

MIN_YEAR = 1000
MAX_YEAR = 9000
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FORMAT_HELP = "Give a date (YYYY-MM-DD) or a date-time with a UTC offset (YYYY-MM-DDTHH:MM[:SS]+HH:MM)."


@dataclass(frozen=True)
class Due:
    """Exactly one of `day` and `at` is set. `at` is aware and expressed in `offset_minutes`."""

    day: date | None = None
    at: datetime | None = None
    offset_minutes: int | None = None

    @classmethod
    def of_date(cls, day: date) -> Due:
        return cls(day=day)

    @classmethod
    def of_datetime(cls, moment: datetime) -> Due:
        offset = moment.utcoffset()
        assert offset is not None
        minutes = int(offset.total_seconds() // 60)
        return cls(at=moment.astimezone(timezone(timedelta(minutes=minutes))), offset_minutes=minutes)

    @classmethod
    def parse(cls, value: object) -> Due:
        """Raises ValueError with a message meant for the client."""
        if not isinstance(value, str):
            raise ValueError(FORMAT_HELP)
        value = value.strip()
        if _DATE.match(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a valid date.") from None
            cls._check_year(day.year)
            return cls.of_date(day)
        if len(value) > 40 or "T" not in value.upper():
            raise ValueError(FORMAT_HELP)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(FORMAT_HELP) from None
        offset = moment.utcoffset()
        if offset is None:
            raise ValueError("A due date-time needs a UTC offset (for example +01:00 or Z).")
        if offset.total_seconds() % 60:
            raise ValueError("The UTC offset must be whole minutes.")
        cls._check_year(moment.year)
        return cls.of_datetime(moment)

    @staticmethod
    def _check_year(year: int) -> None:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"The due year must be between {MIN_YEAR} and {MAX_YEAR}.")

    def to_wire(self) -> str:
        if self.day is not None:
            return self.day.isoformat()
        assert self.at is not None
        return self.at.isoformat()

    @property
    def local_day(self) -> date:
        if self.day is not None:
            return self.day
        assert self.at is not None
        return self.at.date()

    @property
    def sort_key(self) -> datetime:
        if self.day is not None:
            return datetime.combine(self.day, datetime.min.time(), tzinfo=UTC)
        assert self.at is not None
        return self.at.astimezone(UTC)
