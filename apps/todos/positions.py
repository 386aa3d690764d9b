"""Manual ordering keys: fractional indexes written as base-36 strings.

A key is the digits after the point of a fraction in [0, 1), written with `0-9a-z` and never
ending in `0` (so every fraction has exactly one spelling). Plain string comparison of two keys
then equals numeric comparison of the fractions, and between any two distinct keys there is
always another one: inserting a task between two others writes one row and never renumbers
its siblings.

Only lowercase letters and digits are used because PostgreSQL compares text with the
database's collation: for these characters every common collation (C, glibc, ICU) agrees with
byte order, so the database sorts keys exactly as Python does; SQLite compares bytes anyway.

Appending (the common case) steps a 4-digit prefix by one unit, so a list of a million tasks
still has 4 or 5 character keys. Repeated inserts into the same gap grow the key by about one
character per five inserts; a key longer than MAX_LENGTH makes the service rebalance that one
sibling group (see placement.place), which is the only time keys are rewritten.
"""

from __future__ import annotations

import re

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
# Appends step the first STEP_PRECISION digits: 36**4 ≈ 1.7 million slots above the first key.
STEP_PRECISION = 4
FIRST = "i"  # the middle of the range, leaving room before and after the first item
MAX_LENGTH = 200  # longer keys trigger a rebalance of their sibling group
FIELD_LENGTH = 255  # the column; client-supplied keys may use up to this

KEY_PATTERN = re.compile(r"^[0-9a-z]*[1-9a-z]$")


def is_valid(key: str) -> bool:
    return len(key) <= FIELD_LENGTH and bool(KEY_PATTERN.match(key))


def _to_digits(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, BASE)
        out.append(DIGITS[digit])
    return "".join(reversed(out))


def _head(key: str) -> int:
    return int(key[:STEP_PRECISION].ljust(STEP_PRECISION, "0"), BASE)


def midpoint(low: str, high: str | None) -> str:
    """A key strictly between `low` ("" = 0) and `high` (None = 1), as short as possible."""
    if high is not None:
        # Skip the common prefix (padding `low` with zeros): it is part of the answer.
        n = 0
        while n < len(high) and (low[n] if n < len(low) else "0") == high[n]:
            n += 1
        if n > 0:
            return high[:n] + midpoint(low[n:], high[n:])
    digit_low = DIGITS.index(low[0]) if low else 0
    digit_high = DIGITS.index(high[0]) if high is not None else BASE
    if digit_high - digit_low > 1:
        return DIGITS[(digit_low + digit_high + 1) // 2]
    # The first digits are adjacent.
    if high is not None and len(high) > 1:
        return high[0]
    return DIGITS[digit_low] + midpoint(low[1:], None)


def key_after(low: str) -> str:
    head = _head(low) + 1
    if head < BASE**STEP_PRECISION:
        return _to_digits(head, STEP_PRECISION).rstrip("0")
    return midpoint(low, None)


def key_before(high: str) -> str:
    head = _head(high)
    if len(high) <= STEP_PRECISION:
        head -= 1  # `high` is its own prefix: step below it
    if head > 0:
        return _to_digits(head, STEP_PRECISION).rstrip("0")
    return midpoint("", high)


def key_between(low: str | None, high: str | None) -> str:
    """A key after `low` and before `high`; either may be None (no neighbour on that side)."""
    if low is not None and high is not None:
        if low >= high:
            raise ValueError(f"{low!r} is not before {high!r}")
        return midpoint(low, high)
    if low is not None:
        return key_after(low)
    if high is not None:
        return key_before(high)
    return FIRST


def spread(count: int) -> list[str]:
    """`count` ascending short keys, for rebalancing a sibling group."""
    keys: list[str] = []
    current: str | None = None
    for _ in range(count):
        current = FIRST if current is None else key_after(current)
        keys.append(current)
    return keys
