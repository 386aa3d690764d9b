"""What the kernel says about the app's processes (resident and peak memory); the app itself
runs under the shared gunicorn runner (scripts/services/gunicorn.py), CPU seconds included."""

from __future__ import annotations

from pathlib import Path


def _status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values


def rss(pid: int) -> int:
    return _status(pid).get("VmRSS", 0)


def peak_rss(pid: int) -> int:
    return _status(pid).get("VmHWM", 0)


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (needs root or the same user)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
