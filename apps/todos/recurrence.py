"""Next occurrence of a recurring task: pure date arithmetic, no database.

The next due date counts from the previous due date (DESIGN wire details), not from the day the
task was completed, so a late completion does not shift the series. Months and years clamp to
the last day of a shorter month: Jan 31 + 1 month is Feb 28 (29 in a leap year), and Feb 29 + 1
year is Feb 28. Because each step counts from the previous due date, a clamped day stays
clamped (Jan 31 → Feb 28 → Mar 28).

A due datetime advances in its own wall-clock time (the UTC offset the client gave), so
"every day at 09:00+01:00" stays at 09:00 in that offset.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from enum import StrEnum


class Freq(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


MAX_INTERVAL = 1000


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def next_date(day: date, *, freq: str, interval: int) -> date:
    """Raises OverflowError/ValueError past the calendar's range; callers turn that into a 400."""
    if freq == Freq.DAILY:
        return day + timedelta(days=interval)
    if freq == Freq.WEEKLY:
        return day + timedelta(weeks=interval)
    if freq == Freq.MONTHLY:
        return _add_months(day, interval)
    if freq == Freq.YEARLY:
        return _add_months(day, 12 * interval)
    raise ValueError(f"unknown frequency {freq!r}")


def next_datetime(moment: datetime, *, freq: str, interval: int) -> datetime:
    """`moment` is aware, in the zone its wall-clock time should follow."""
    return datetime.combine(next_date(moment.date(), freq=freq, interval=interval), moment.timetz())
